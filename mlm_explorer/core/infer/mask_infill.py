"""BART-style infill: the blanks become the model's `<mask>`, the decoder writes the whole text again.

BART was pre-trained on text infilling: a span of any length replaced by one `<mask>`, the
decoder regenerating the original. So, unlike T5 (core/infer/infill.py: sentinels, a target
of fills), the output is the full text, and the fills are found by lining it up with the
parts of the input around the blanks:

1. Each run of blanks ([MASK], ___, <mask>; consecutive ones are one span, as for T5) becomes
   one `<mask>`; the text between blanks is kept as the anchors.
2. `generate` (greedy, or beam search) writes the text; it is re-scored with one teacher-forced
   pass (exact per-token log-probabilities).
3. `align_fills` finds the anchors in order in the output; what lies between two anchors is the
   fill of the blank between them, and the log-probabilities of the tokens that wrote it
   (by character offsets) are its score. When the model rewrote an anchor (it is free to), the
   fills cannot be read off: they are left empty and `aligned` is False; the text is still shown.

    infill_masked(lm, text, *, num_beams=1, num_return=1, max_new_tokens=None) -> InfillResult
    align_fills(output, anchors) -> list[(start, end)] | None       # pure string work
"""

from __future__ import annotations

import re

from mlm_explorer.errors import InputError, ModelError

_SENTINEL_RE = re.compile(r"<extra_id_\d+>")


def anchors_of(text: str, mask_token: str) -> tuple[list[str], str]:
    """(the text between the blanks, the model's input with one mask token per blank)."""
    from mlm_explorer.core.mask.text import INFILL_BLANKS, blanks_to_sentinels

    aliases = INFILL_BLANKS + ((mask_token,) if mask_token not in INFILL_BLANKS else ())
    marked, n = blanks_to_sentinels(text, aliases)
    if n == 0:
        raise InputError("no blank in the text: put ___ or [MASK] where words are missing")
    anchors = _SENTINEL_RE.split(marked)
    return anchors, mask_token.join(anchors)


def align_fills(output: str, anchors: list[str]) -> list[tuple[int, int]] | None:
    """Character spans of the fills in `output`: anchors[0] fill_0 anchors[1] ... fill_{n-1} anchors[n].

    Anchors are matched in order, ignoring the spaces at their ends; None when one is missing.
    """
    cursor, spans = 0, []
    first = anchors[0].strip()
    if first:
        at = output.find(first)
        if at < 0:
            return None
        cursor = at + len(first)
    for anchor in anchors[1:]:
        piece = anchor.strip()
        if not piece:   # the blank runs to the end (or to the next blank: nothing between)
            end = len(output) if anchor is anchors[-1] else cursor
            spans.append((cursor, end))
            cursor = end
            continue
        at = output.find(piece, cursor)
        if at < 0:
            return None
        spans.append((cursor, at))
        cursor = at + len(piece)
    return [_strip(output, s, e) for s, e in spans]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) without the white space at either end; an empty span stays at `start`."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def infill_masked(lm, text: str, *, num_beams: int = 1, num_return: int = 1, max_new_tokens: int | None = None):
    """Fill the blanks of `text` with a BART-style model (a seq2seq model with a mask token)."""
    import torch

    from mlm_explorer.core.infer.infill_result import BlankFill, InfillCandidate, InfillResult, rescore

    if getattr(lm, "kind", "seq2seq") != "seq2seq" or lm.tokenizer.mask_token is None:
        raise ModelError(f"'{lm.name}' is not a BART-style model (an encoder-decoder with a mask token)")
    if not (isinstance(num_beams, int) and num_beams >= 1):
        raise InputError(f"--num-beams {num_beams!r}: use a whole number of at least 1")
    if not (isinstance(num_return, int) and 1 <= num_return <= num_beams):
        raise InputError(f"--num-return {num_return!r}: use a whole number from 1 to --num-beams ({num_beams})")
    if not text or not text.strip():
        raise InputError("text is empty: type a sentence with ___ or [MASK] where words are missing")
    tok = lm.tokenizer
    anchors, model_text = anchors_of(text, tok.mask_token)
    n = len(anchors) - 1
    enc = tok(model_text, return_tensors="pt")
    length = enc["input_ids"].shape[1]
    if length > lm.max_length:
        raise InputError(f"text is {length} tokens, the model takes at most {lm.max_length}; shorten it")
    max_new_tokens = max_new_tokens or (length + 16 * n + 4)
    input_ids, attention = enc["input_ids"].to(lm.device), enc["attention_mask"].to(lm.device)   # (1, S)
    with torch.inference_mode():
        out = lm.model.generate(input_ids=input_ids, attention_mask=attention, do_sample=False, num_beams=num_beams,
                                num_return_sequences=num_return, max_new_tokens=max_new_tokens,
                                pad_token_id=tok.pad_token_id)                 # (R, T): decoder start first
    start = lm.model.config.decoder_start_token_id
    candidates, seen = [], set()
    for row in out.tolist():
        target = row[1:] if row and row[0] == start else row
        while target and target[-1] == tok.pad_token_id:
            target = target[:-1]
        token_lp = rescore(lm, input_ids, attention, target)
        written, spans = _offsets(tok, target)
        aligned = align_fills(written, anchors)
        fills = []
        for k in range(n):
            if aligned is None:
                fills.append(BlankFill(k, "", float("nan"), []))
                continue
            s, e = aligned[k]
            ids = [t for t, (a, b) in zip(target, spans) if a < e and b > s] if e > s else []
            lp = sum(v for v, (a, b) in zip(token_lp, spans) if a < e and b > s) if e > s else 0.0
            fills.append(BlankFill(k, written[s:e].strip(), float(lp), ids))
        key = written.strip()
        if key in seen:
            continue
        seen.add(key)
        finished = bool(target) and target[-1] == tok.eos_token_id
        candidates.append(InfillCandidate(fills, written.strip(), float(sum(token_lp)), finished,
                                          aligned=aligned is not None))
    return InfillResult(model_text, n, candidates)


def _offsets(tok, target: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The decoded text (special tokens dropped) and each target token's character span in it."""
    special = set(tok.all_special_ids)
    spans, text = [], ""
    for i, tid in enumerate(target):
        if tid in special:
            spans.append((len(text), len(text)))
            continue
        longer = tok.decode([t for t in target[:i + 1] if t not in special], clean_up_tokenization_spaces=False)
        spans.append((len(text), len(longer)))
        text = longer
    return text, spans
