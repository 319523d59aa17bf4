"""The same blanks filled by two to four models, one column each: encoders, T5-family, BART.

The blanks are the text's typed masks ([MASK], ___, <mask>), with a run of consecutive blanks
as one blank (one span), the way T5 and BART read them. Each model fills them its own way:

    encoder  (an MLM)   fill_masks, independent (or joint, most confident first); a blank of
                        several masks reads as their pieces joined, its probability the product
    t5       (sentinels) core/infer/infill.py: one span per sentinel, its log-probability
    bart     (<mask>)    core/infer/regenerate.py: the text regenerated, the fills lined up

A model that fails (a UserError: no mask token, too long...) gets its error in its column and
the others still fill. `compare_models(lms, text)` -> CompareResult (to_dict for JSON).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mlm_explorer.errors import InputError, UserError

MIN_MODELS, MAX_MODELS = 2, 4


@dataclass
class ColumnBlank:
    index: int                     # 0 = the first blank
    text: str                      # the fill as read ("" when the model left it empty or could not say)
    probability: float | None      # encoder: product of the masks' p; T5/BART: exp(log p of the fill's tokens)
    logprob: float | None


@dataclass
class ModelColumn:
    model: str                     # the name the user gave
    family: str                    # "encoder" | "t5" | "bart"
    blanks: list[ColumnBlank] = field(default_factory=list)
    text: str = ""                 # the filled sentence
    note: str = ""                 # how it filled (independent / greedy / beam...)
    error: str | None = None       # why this model could not fill the blanks
    result: dict | None = None     # the core result as data: FillResult (encoder) or InfillResult (T5, BART)


@dataclass
class CompareResult:
    text: str
    n_blanks: int
    columns: list[ModelColumn]

    def to_dict(self) -> dict:
        return asdict(self)


def family_of(lm) -> str:
    """"encoder" (masked LM), "t5" (sentinels) or "bart" (mask-token infilling)."""
    if getattr(lm, "kind", "mlm") == "mlm":
        return "encoder"
    spec = getattr(lm, "spec", None)
    return "bart" if getattr(spec, "infill", None) == "mask" else "t5"


def blank_groups(tt, positions: list[int]) -> list[list[int]]:
    """Mask positions grouped into blanks: adjacent masks with only white space between are one span."""
    groups: list[list[int]] = []
    for p in sorted(positions):
        if groups and p == groups[-1][-1] + 1:
            prev = tt.tokens[groups[-1][-1]]
            if not tt.text[prev.end:tt.tokens[p].start].strip():
                groups[-1].append(p)
                continue
        groups.append([p])
    return groups


def encoder_column(lm, text: str, *, joint: bool = False, top_k: int = 5) -> ModelColumn:
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.mask.text import tokenize

    result = predict(lm, text, top_k=top_k, joint=joint)
    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length)
    steps = {s.position: s for s in result.steps}
    blanks = []
    for i, group in enumerate(blank_groups(tt, [p.position for p in result.predictions])):
        words, logprob = "", 0.0
        for p in group:
            step = steps[p]
            words += (" " if words and _starts_word(lm, step.token) else "") + step.text
            logprob += step.logprob
        blanks.append(ColumnBlank(i, words, math.exp(logprob), logprob))
    return ModelColumn(lm.name, "encoder", blanks, result.decoded, f"{result.mode}, top-{top_k}",
                       result=result.to_dict())


def _starts_word(lm, piece: str) -> bool:
    from mlm_explorer.core.mask.text import PieceStyle

    return not PieceStyle.of(lm.tokenizer).continues(piece)


def seq2seq_column(lm, text: str, *, num_beams: int = 1) -> ModelColumn:
    from mlm_explorer.core.infer.infill import infill

    family = family_of(lm)
    result = infill(lm, text, num_beams=num_beams)
    if not result.candidates:
        return ModelColumn(lm.name, family, error="the model wrote no candidate", result=result.to_dict())
    best = result.candidates[0]
    blanks = [ColumnBlank(f.index, f.text, math.exp(f.logprob) if math.isfinite(f.logprob) else None,
                          f.logprob if math.isfinite(f.logprob) else None) for f in best.fills]
    how = "greedy" if num_beams == 1 else f"beam {num_beams}"
    note = f"{how} · score {best.score:.2f}"
    if best.rewritten:
        note += " · it also rewrote the text around the blanks"
    return ModelColumn(lm.name, family, blanks, best.text, note, result=result.to_dict())


def fill_column(lm, text: str, *, top_k: int = 5, joint: bool = False, num_beams: int = 1) -> ModelColumn:
    """One model's column; a UserError (no blank for it, too long...) becomes the column's error."""
    try:
        if family_of(lm) == "encoder":
            return encoder_column(lm, text, joint=joint, top_k=top_k)
        return seq2seq_column(lm, text, num_beams=num_beams)
    except UserError as exc:
        return ModelColumn(lm.name, family_of(lm), error=str(exc))


def compare_models(lms: list, text: str, *, top_k: int = 5, joint: bool = False, num_beams: int = 1) -> CompareResult:
    """Every model's fill of the blanks of `text` (2-4 models; see the module doc)."""
    from mlm_explorer.core.mask.text import blanks_to_sentinels

    if not MIN_MODELS <= len(lms) <= MAX_MODELS:
        raise InputError(f"compare takes {MIN_MODELS} to {MAX_MODELS} models, got {len(lms)}: "
                         "give each with --model NAME")
    if not text or not text.strip():
        raise InputError("text is empty: type a sentence with [MASK] or ___ where words are missing")
    _, n = blanks_to_sentinels(text)
    if n == 0:
        raise InputError("no blank in the text: put [MASK] or ___ where words are missing")
    return CompareResult(text, n, [fill_column(lm, text, top_k=top_k, joint=joint, num_beams=num_beams) for lm in lms])
