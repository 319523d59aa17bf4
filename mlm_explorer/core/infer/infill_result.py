"""What a seq2seq infill returns (T5: core/infer/infill.py; BART: core/infer/mask_infill.py), and the
teacher-forced rescoring both use. Re-exported by infill.py."""

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
    aligned: bool = True    # BART-style (core/infer/mask_infill.py): False when the fills could not be read off


@dataclass
class InfillResult:
    input_text: str         # the text as T5 saw it (blanks as <extra_id_N>)
    n_blanks: int
    candidates: list[InfillCandidate]   # in generate's order (beam search: best first)

    def to_dict(self) -> dict:
        return asdict(self)


def rescore(lm, input_ids, attention, target: list[int]) -> list[float]:
    """log p of each target token given the input and the target before it (teacher forcing)."""
    import torch

    if not target:
        return []
    labels = torch.tensor([target], dtype=torch.long, device=lm.device)                  # (1, T)
    with torch.inference_mode():
        logits = lm.model(input_ids=input_ids, attention_mask=attention, labels=labels).logits  # (1, T, V)
    logprobs = torch.log_softmax(logits[0].float(), dim=-1)                              # (T, V)
    return logprobs.gather(1, labels[0, :, None])[:, 0].tolist()
