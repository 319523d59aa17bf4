"""What a seq2seq infill returns, for both kinds: T5 writes each blank's span after its sentinel
(core/infer/infill.py), BART writes the whole text back (core/infer/regenerate.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class BlankFill:
    index: int              # blank number (0 = <extra_id_0>)
    text: str               # the fill, readable ("" when T5 left it empty)
    logprob: float          # log p of the fill's tokens and of the token that ends it
    token_ids: list[int]


@dataclass
class InfillCandidate:
    fills: list[BlankFill]  # one per blank, in order
    text: str               # the input text with every blank filled
    score: float            # log p of the whole target up to the stop (sum over tokens)
    finished: bool          # False when max_new_tokens ran out before the last blank was closed
    rewritten: bool = False  # BART: the model also changed the text around the blanks


@dataclass
class InfillResult:
    input_text: str         # the text as the model saw it (blanks as <extra_id_N>, or <mask> for BART)
    n_blanks: int
    candidates: list[InfillCandidate]   # in generate's order (beam search: best first)
    style: str = "sentinels"            # "sentinels" (T5 writes the spans) | "mask" (BART writes the whole text)

    def to_dict(self) -> dict:
        return asdict(self)
