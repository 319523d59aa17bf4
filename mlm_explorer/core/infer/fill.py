"""Fill-mask: the softmax over the vocabulary at each masked position, independently or jointly.

The encoder runs on the whole sequence, but the MLM head (the vocabulary projection, most of
the work for a small encoder: hidden x vocab per position) runs only on the hidden states at
the masked positions (`core.infer.forward.mask_logits`, re-exported here).
The results equal `transformers.pipeline("fill-mask")`: same top-k ids, same probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from mlm_explorer.core.infer import forward
from mlm_explorer.core.infer.forward import mask_logits, mask_logits_rows  # noqa: F401  (re-exported)
from mlm_explorer.core.infer.decode import filled_text
from mlm_explorer.core.mask.text import TokenizedText, TokenStrings, decode_text


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Candidate:
    token_id: int
    token: str           # the vocabulary piece as is ("##ing", "Ġthe")
    text: str            # as a person reads it ("ing", "the")
    probability: float
    logprob: float


@dataclass
class MaskPrediction:
    position: int                      # index in the input ids
    candidates: list[Candidate]        # top-k, most probable first
    entropy: float                     # nats, of the whole distribution
    mass_outside: float                # 1 - sum of the top-k probabilities
    original_id: int | None = None     # the token that was there before masking, when known
    original_rank: int | None = None   # 1 = the model's first choice
    original_probability: float | None = None


@dataclass
class FillStep:
    position: int
    token_id: int
    token: str
    text: str
    probability: float
    logprob: float


@dataclass
class FillResult:
    predictions: list[MaskPrediction]  # one per mask position, sorted by position
    decoded: str                       # the text with every mask filled by the chosen token, specials dropped
                                       # (given the tokenized text: its case and spacing, core/infer/decode.py)
    filled_ids: list[int]
    mode: Literal["independent", "joint"]
    steps: list[FillStep]              # joint: in filling order; independent: one per mask, by position
    joint_logprob: float               # sum of the chosen fills' log-probabilities
    loss: float | None                 # mean cross-entropy on positions with known originals (training view)
    temperature: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Distributions


def _prediction(vocab: TokenStrings, position: int, probs, logprobs, top_k: int, original_id: int | None) -> MaskPrediction:
    """One MaskPrediction from a position's probabilities (V,) and log-probabilities (V,)."""
    values, ids = probs.topk(top_k)
    candidates = []
    for p, tid in zip(values.tolist(), ids.tolist()):
        token, text = vocab.strings(tid)
        candidates.append(Candidate(tid, token, text, p, float(logprobs[tid])))
    entropy = float(-(probs * logprobs).sum())
    mass_outside = max(0.0, 1.0 - float(values.sum()))
    pred = MaskPrediction(position, candidates, entropy, mass_outside)
    if original_id is not None and 0 <= original_id < probs.shape[-1]:
        p_orig = probs[original_id]
        pred.original_id = int(original_id)
        pred.original_rank = int((probs > p_orig).sum()) + 1
        pred.original_probability = float(p_orig)
    elif original_id is not None:
        pred.original_id = int(original_id)
    return pred


# ---------------------------------------------------------------------------------------------
# The public calls


def fill_masks(
    lm,
    input_ids: list[int],
    mask_positions: list[int],
    *,
    top_k: int = 5,
    joint: bool = False,
    original_ids: dict[int, int] | None = None,
    temperature: float = 1.0,
    tokenized: TokenizedText | None = None,
) -> FillResult:
    """Predict the tokens at `mask_positions` of `input_ids` with an encoder MLM.

    input_ids: one encoded sequence, used as given: a position to predict may hold the mask id,
        or (the masking engine's RANDOM / KEEP decisions) another token.
    top_k: how many candidates per position.
    joint: False: one pass, every position predicted at once (like pipeline("fill-mask")).
        True: fill the most confident position with its argmax, re-run, repeat; each prediction
        is the distribution when that position was filled.
    original_ids: {position: id before masking}, for the original's rank and probability and the loss.
    temperature: divides the logits before the softmax (1.0 = the model's distribution).
        The loss is always at temperature 1 (the training view).
    tokenized: the tokenized text `input_ids` come from (same length): `decoded` is then that text as
        typed with the fills in place (core/infer/decode.py), else the tokenizer's decode.
    """
    forward.require_encoder(lm, "fill-mask")
    forward.check_ids(lm, input_ids)
    positions = forward.require_masks(sorted(set(int(p) for p in mask_positions)))
    for p in positions:
        forward.check_position(p, len(input_ids), "mask position")
    forward.check_top_k(top_k)
    forward.check_temperature(temperature)
    originals = {p: int(i) for p, i in (original_ids or {}).items() if p in positions and i is not None}

    vocab = TokenStrings(lm.tokenizer)
    filled = list(input_ids)
    predictions: dict[int, MaskPrediction] = {}
    steps: list[FillStep] = []
    loss = None
    remaining = list(positions)
    while remaining:
        logits = mask_logits(lm, filled, remaining).cpu()           # (R, V): small, read on the CPU
        if len(remaining) == len(positions):                         # the first pass: all masks in place
            loss = _loss(logits, remaining, originals)
        probs, logprobs = forward.distributions(logits, temperature)  # (R, V) each
        top_p, top_id = probs.max(dim=-1)                            # (R,)
        order = [int(top_p.argmax())] if joint else range(len(remaining))
        for j in order:
            pos = remaining[j]
            k = min(top_k, probs.shape[-1])
            predictions[pos] = _prediction(vocab, pos, probs[j], logprobs[j], k, originals.get(pos))
            tid = int(top_id[j])
            token, text = vocab.strings(tid)
            steps.append(FillStep(pos, tid, token, text, float(top_p[j]), float(logprobs[j, tid])))
            filled[pos] = tid
        remaining = [p for p in remaining if p not in predictions]

    if tokenized is not None and len(tokenized.tokens) == len(filled):
        decoded = filled_text(lm.tokenizer, tokenized, steps)
    else:
        decoded = decode_text(lm.tokenizer, filled)
    return FillResult(
        predictions=[predictions[p] for p in positions],
        decoded=decoded,
        filled_ids=filled,
        mode="joint" if joint else "independent",
        steps=steps,
        joint_logprob=float(sum(s.logprob for s in steps)),
        loss=loss,
        temperature=float(temperature),
    )


def _loss(logits, positions: list[int], originals: dict[int, int]) -> float | None:
    """Mean cross-entropy (nats) at the positions whose original is known, temperature 1."""
    import torch

    rows = [j for j, p in enumerate(positions) if p in originals and 0 <= originals[p] < logits.shape[-1]]
    if not rows:
        return None
    targets = torch.tensor([originals[positions[j]] for j in rows], device=logits.device)
    return float(torch.nn.functional.cross_entropy(logits[rows].float(), targets))


def predict(
    lm, text: str, *, top_k: int = 5, joint: bool = False, temperature: float = 1.0, truncate: bool = False
) -> FillResult:
    """Tokenize `text` and fill its typed masks ([MASK], ___, or the model's own mask token)."""
    from mlm_explorer.core.mask.text import tokenize

    tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=truncate)
    positions = forward.typed_masks(tt)
    return fill_masks(lm, tt.input_ids, positions, top_k=top_k, joint=joint, temperature=temperature, tokenized=tt)
