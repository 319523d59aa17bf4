"""Seq2seq infill: T5 writes what goes in each sentinel; BART regenerates the whole text.

`infill(lm, text)` follows the model's kind (`lm.spec.infill`): "sentinels" (T5, mT5, ByT5)
runs the steps below; "mask" (BART, mBART) runs core/infer/regenerate.py, which returns the
same dataclasses. T5:

1. Blanks ([MASK], ___, <mask>, explicit <extra_id_N>) become <extra_id_0>, <extra_id_1>, ...
   (consecutive blanks are one span: `core.text.blanks_to_sentinels`).
2. `generate` (greedy, or beam search with several candidates) writes the target
   "<extra_id_0> fill0 <extra_id_1> fill1 ... <extra_id_n>". T5 goes on inventing further
   sentinels and fills (transformers issue 16303), so generation stops at the sentinel after
   the last blank (or at </s>), and anything after it is dropped.
3. Each candidate is re-scored with one teacher-forced forward pass: exact log-probabilities of
   every target token, so each blank's fill gets its own log-probability.
"""

from __future__ import annotations

import re
from mlm_explorer.core.infer.fills import BlankFill, InfillCandidate, InfillResult  # noqa: F401  (re-exported)
from mlm_explorer.core.mask.text import INFILL_BLANKS, blanks_to_sentinels, too_long
from mlm_explorer.errors import InputError, ModelError

_SPACED_SENTINEL_RE = re.compile(r"( ?)<extra_id_(\d+)>")

# How an infill differs from an encoder's fill-mask, in one line (the Compare screen and
# `mlm-explorer compare` show it under the two columns).
DIFFERENCE = ("encoder: one token per [MASK], each with its own probability  ·  seq2seq: one span per "
              "sentinel, of any length, scored by the span's log-probability")


def build_input(lm, text: str) -> tuple[str, int, list[int]]:
    """(t5_text, n_blanks, the sentinel ids of blanks 0..n-1)."""
    if not text or not text.strip():
        raise InputError("text is empty: type a sentence with ___ or [MASK] where words are missing")
    aliases = INFILL_BLANKS
    if lm.tokenizer.mask_token and lm.tokenizer.mask_token not in aliases:
        aliases = aliases + (lm.tokenizer.mask_token,)
    t5_text, n = blanks_to_sentinels(text, aliases)
    if n == 0:
        raise InputError("no blank in the text: put ___ or [MASK] (or <extra_id_0>) where words are missing")
    ids = []
    for k in range(n):
        tid = lm.tokenizer.convert_tokens_to_ids(f"<extra_id_{k}>")
        if tid is None or tid == lm.tokenizer.unk_token_id:
            raise InputError(f"the text has {n} blanks but the model has only {k} sentinels; use fewer blanks")
        ids.append(tid)
    return t5_text, n, ids


def infill(lm, text: str, *, num_beams: int = 1, num_return: int = 1, max_new_tokens: int | None = None) -> InfillResult:
    """Fill the blanks of `text` with a seq2seq model (lm from `load_seq2seq`): T5 or BART style.

    num_beams: 1 = greedy; more = beam search.
    num_return: how many candidates (at most num_beams); identical candidates are merged.
    max_new_tokens: the target's length limit (default T5: 4 + 16 per blank; BART: the input's
        length + 16 per blank).
    """
    import torch

    if getattr(lm, "kind", "seq2seq") != "seq2seq":
        raise ModelError(f"'{lm.name}' is an encoder masked-LM; infill needs a T5 model or a BART model "
                         "(use predict for it)")
    if not (isinstance(num_beams, int) and num_beams >= 1):
        raise InputError(f"--num-beams {num_beams!r}: use a whole number of at least 1")
    if not (isinstance(num_return, int) and 1 <= num_return <= num_beams):
        raise InputError(f"--num-return {num_return!r}: use a whole number from 1 to --num-beams ({num_beams})")
    spec = getattr(lm, "spec", None)
    if spec is not None and spec.infill == "mask":
        from mlm_explorer.core.infer.regenerate import regenerate   # BART-style: the whole text comes back

        return regenerate(lm, text, num_beams=num_beams, num_return=num_return, max_new_tokens=max_new_tokens)
    t5_text, n, sentinels = build_input(lm, text)
    tok = lm.tokenizer
    enc = tok(t5_text, return_tensors="pt")
    length = enc["input_ids"].shape[1]
    if length > lm.max_length:
        raise too_long(length, lm.max_length, truncate_hint=False)
    if max_new_tokens is None:
        max_new_tokens = 4 + 16 * n
    elif not (isinstance(max_new_tokens, int) and max_new_tokens >= 1):
        raise InputError(f"max_new_tokens {max_new_tokens!r}: use a whole number of at least 1")

    # Stop at </s> or at any sentinel past the last blank (<extra_id_n> first of all).
    from mlm_explorer.core.mask.text import sentinel_token_ids

    later = sorted((k, tid) for tid, k in sentinel_token_ids(tok).items() if k >= n)
    stop_ids = [tok.eos_token_id] + [tid for _, tid in later]
    input_ids = enc["input_ids"].to(lm.device)            # (1, S)
    attention = enc["attention_mask"].to(lm.device)       # (1, S)
    start = lm.model.config.decoder_start_token_id
    # Every T5 target begins with <extra_id_0>: start the decoder there.
    prefix = torch.tensor([[start, sentinels[0]]], dtype=torch.long, device=lm.device)  # (1, 2)
    with torch.inference_mode():
        out = lm.model.generate(
            input_ids=input_ids, attention_mask=attention, decoder_input_ids=prefix, do_sample=False,
            num_beams=num_beams, num_return_sequences=num_return, max_new_tokens=max_new_tokens,
            eos_token_id=stop_ids, pad_token_id=tok.pad_token_id,
        )                                                  # (R, 1 + T): decoder start first
    blank_of = {tid: k for k, tid in enumerate(sentinels)}

    candidates: list[InfillCandidate] = []
    seen: set[tuple[str, ...]] = set()
    for row in out.tolist():
        target = _cut(row[1:] if row and row[0] == start else row, stop_ids, tok.pad_token_id)
        finished = bool(target) and target[-1] in stop_ids
        token_lp = _rescore(lm, input_ids, attention, target)
        fills = _split_fills(tok, target, token_lp, blank_of, n, stop_ids)
        key = tuple(f.text for f in fills)
        if key in seen:
            continue
        seen.add(key)
        candidates.append(InfillCandidate(fills, _fill_text(t5_text, fills), float(sum(token_lp)), finished))
    return InfillResult(t5_text, n, candidates)


def _cut(ids: list[int], stop_ids: list[int], pad_id: int) -> list[int]:
    """The target up to and including the first stop token (beam outputs are padded after it)."""
    for i, tid in enumerate(ids):
        if tid in stop_ids:
            return ids[: i + 1]
    while ids and ids[-1] == pad_id:
        ids = ids[:-1]
    return ids


def _rescore(lm, input_ids, attention, target: list[int]) -> list[float]:
    """log p of each target token given the input and the target before it (teacher forcing)."""
    import torch

    if not target:
        return []
    labels = torch.tensor([target], dtype=torch.long, device=lm.device)                  # (1, T)
    with torch.inference_mode():
        logits = lm.model(input_ids=input_ids, attention_mask=attention, labels=labels).logits  # (1, T, V)
    logprobs = torch.log_softmax(logits[0].float(), dim=-1)                              # (T, V)
    return logprobs.gather(1, labels[0, :, None])[:, 0].tolist()


def _split_fills(tok, target, token_lp, blank_of: dict[int, int], n: int, stop_ids) -> list[BlankFill]:
    """Split the target on sentinels: the tokens after <extra_id_k> (until the next sentinel) fill blank k.

    A blank's log-probability sums its tokens and the token that closes it (the next sentinel or
    the stop), so an empty fill and a fill that should have gone on are both scored.
    """
    tokens: dict[int, list[int]] = {k: [] for k in range(n)}
    logprob: dict[int, float] = {k: 0.0 for k in range(n)}
    current = None
    for tid, lp in zip(target, token_lp):
        if tid in blank_of or tid in stop_ids:
            if current is not None:
                logprob[current] += lp   # the token that ends the current fill
            if tid in stop_ids:
                break
            current = blank_of[tid]
            continue
        if current is not None:
            tokens[current].append(tid)
            logprob[current] += lp
    return [
        BlankFill(k, tok.decode(tokens[k], skip_special_tokens=True).strip(), float(logprob[k]), tokens[k])
        for k in range(n)
    ]


def _fill_text(t5_text: str, fills: list[BlankFill]) -> str:
    """t5_text with each <extra_id_k> replaced by fill k (an empty fill takes the space before it along)."""
    by_index = {f.index: f.text for f in fills}

    def put(match: re.Match) -> str:
        fill = by_index.get(int(match.group(2)), "")
        return match.group(1) + fill if fill else ""

    return _SPACED_SENTINEL_RE.sub(put, t5_text)
