"""BART-style infill: the decoder regenerates the whole text, and the span that replaced each
blank is found by aligning the input with the output.

BART and mBART were pretrained on text infilling: a span of any length (even none) became one
`<mask>`, and the decoder wrote the original text back. So:

1. Each run of blanks ([MASK], ___, <mask>) becomes one `<mask>` (`text.blanks_to_masks`).
2. `generate` (greedy or beam search) writes a whole new text.
3. `align_blanks` aligns the input's tokens with the output's: ordinary tokens match, a
   `<mask>` absorbs any run of output tokens (its fill), and what else differs counts as an
   edit (the model changed the text around the blanks: `rewritten`). The alignment is the
   cheapest one (edit distance, where absorbing a token costs a tiny epsilon so that matched
   text is never swallowed by a fill).
4. Each output is re-scored with one teacher-forced pass: exact log-probabilities per token;
   a fill's log-probability sums its tokens and the token right after it (the one that
   closes the span), like T5's fills in core/infer/infill.py.

The results are core/infer/fills.py's dataclasses, so the CLI, `compare` and the app show a
BART fill like a T5 fill, with `style="mask"`.
"""

from __future__ import annotations

from mlm_explorer.core.infer.fills import BlankFill, InfillCandidate, InfillResult
from mlm_explorer.core.load.hf import quiet_transformers
from mlm_explorer.core.mask.text import blanks_to_masks, too_long
from mlm_explorer.errors import InputError

_EPS = 1e-3   # the cost of one output token absorbed by a mask: ties go to matching the text


def align_blanks(source: list[int], output: list[int], mask_id: int) -> tuple[list[tuple[int, int]], bool]:
    """For each `mask_id` in `source` (in order), the span [start, end) of `output` that replaced
    it, and whether the text outside the masks was changed (any substitution, deletion or insertion).

    Costs: a matching token 0, any other edit 1, each output token a mask absorbs `_EPS`.
    """
    n, m = len(source), len(output)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]   # cost[i][j]: source[:i] aligned with output[:j]
    back: list[list[tuple]] = [[()] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for j in range(1, m + 1):                           # output tokens before the first source token
        cost[0][j], back[0][j] = float(j), ("insert",)
    for i in range(n):
        row, nxt = cost[i], cost[i + 1]
        if source[i] == mask_id:
            best, arg = inf, 0                          # running min over k <= j of row[k] + eps * (j - k)
            for j in range(m + 1):
                if row[j] - _EPS * j < best:
                    best, arg = row[j] - _EPS * j, j
                nxt[j], back[i + 1][j] = best + _EPS * j, ("mask", arg)
            continue
        for j in range(m + 1):
            options = [(row[j] + 1.0, ("delete",))]
            if j > 0:
                options.append((row[j - 1] + (0.0 if source[i] == output[j - 1] else 1.0), ("match",)))
                options.append((nxt[j - 1] + 1.0, ("insert",)))
            nxt[j], back[i + 1][j] = min(options, key=lambda o: o[0])
    # walk back from the end: the spans of the masks and whether anything else was edited
    spans: list[tuple[int, int]] = []
    rewritten = False
    i, j = n, m
    while i > 0 or j > 0:
        step = back[i][j]
        if step[0] == "mask":
            spans.append((step[1], j))
            i, j = i - 1, step[1]
        elif step[0] == "match":
            rewritten |= source[i - 1] != output[j - 1]
            i, j = i - 1, j - 1
        elif step[0] == "delete":
            rewritten, i = True, i - 1
        else:
            rewritten, j = True, j - 1
    return spans[::-1], rewritten


def regenerate(lm, text: str, *, num_beams: int = 1, num_return: int = 1, max_new_tokens: int | None = None):
    """Fill the blanks of `text` with a BART-style model (lm from `load_seq2seq`) -> InfillResult."""
    import torch

    tok = lm.tokenizer
    if not text or not text.strip():
        raise InputError("text is empty: type a sentence with ___ or [MASK] where words are missing")
    masked, n = blanks_to_masks(text, tok.mask_token)
    if n == 0:
        raise InputError("no blank in the text: put ___ or [MASK] where words are missing")
    enc = tok(masked, return_tensors="pt")
    length = enc["input_ids"].shape[1]
    if length > lm.max_length:
        raise too_long(length, lm.max_length, truncate_hint=False)
    if max_new_tokens is None:
        max_new_tokens = length + 16 * n                  # the whole text comes back, plus the fills
    input_ids = enc["input_ids"].to(lm.device)            # (1, S)
    attention = enc["attention_mask"].to(lm.device)       # (1, S)
    special = set(tok.all_special_ids) - {tok.mask_token_id}
    source = [t for t in enc["input_ids"][0].tolist() if t not in special]   # the text, masks in place
    with torch.inference_mode(), quiet_transformers():
        out = lm.model.generate(input_ids=input_ids, attention_mask=attention, do_sample=False, num_beams=num_beams,
                                num_return_sequences=num_return, max_new_tokens=max_new_tokens)   # (R, 1 + T)
    candidates: list = []
    seen: set[tuple[str, ...]] = set()
    for row in out.tolist():
        target = _cut(row[1:], tok.eos_token_id, tok.pad_token_id)   # row[0]: the decoder start token
        finished = bool(target) and target[-1] == tok.eos_token_id
        token_lp = _rescore(lm, input_ids, attention, row[:1] + target)
        where = [k for k, t in enumerate(target) if t not in special]          # output text positions in target
        spans, rewritten = align_blanks(source, [target[k] for k in where], tok.mask_token_id)
        fills = []
        for index, (start, end) in enumerate(spans):
            ids = [target[where[k]] for k in range(start, end)]
            closing = where[end] if end < len(where) else len(target) - 1     # the token after the fill
            lp = sum(token_lp[where[k]] for k in range(start, end)) + (token_lp[closing] if target else 0.0)
            fills.append(BlankFill(index, tok.decode(ids, skip_special_tokens=True).strip(), float(lp), ids))
        key = tuple(f.text for f in fills)
        if key in seen:
            continue
        seen.add(key)
        regenerated = tok.decode(target, skip_special_tokens=True).strip()
        candidates.append(InfillCandidate(fills, regenerated, float(sum(token_lp)), finished, rewritten))
    return InfillResult(masked, n, candidates, style="mask")


def _cut(ids: list[int], eos_id: int, pad_id: int) -> list[int]:
    """The output up to and including the first </s> (beam outputs are padded after it)."""
    if eos_id in ids:
        return ids[: ids.index(eos_id) + 1]
    while ids and ids[-1] == pad_id:
        ids = ids[:-1]
    return ids


def _rescore(lm, input_ids, attention, decoded: list[int]) -> list[float]:
    """log p of each token of decoded[1:] given the input and the tokens before it (teacher forcing)."""
    import torch

    if len(decoded) < 2:
        return []
    seq = torch.tensor([decoded], dtype=torch.long, device=lm.device)                 # (1, 1 + T)
    with torch.inference_mode():
        logits = lm.model(input_ids=input_ids, attention_mask=attention, decoder_input_ids=seq[:, :-1]).logits
    logprobs = torch.log_softmax(logits[0].float(), dim=-1)                            # (T, V)
    return logprobs.gather(1, seq[0, 1:, None])[:, 0].tolist()
