"""Fill-mask: the softmax over the vocabulary at each masked position, independently or jointly.

The encoder runs on the whole sequence, but the MLM head (the vocabulary projection, most of
the work for a small encoder: hidden x vocab per position) runs only on the hidden states at
the masked positions. `_HeadSplit` knows how to split the common masked-LM classes into
(encoder, head); any other class runs whole and its logits are gathered afterwards.
The results equal `transformers.pipeline("fill-mask")`: same top-k ids, same probabilities.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

from mlm_explorer.errors import InputError, ModelError


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
    filled_ids: list[int]
    mode: Literal["independent", "joint"]
    steps: list[FillStep]              # joint: in filling order; independent: one per mask, by position
    joint_logprob: float               # sum of the chosen fills' log-probabilities
    loss: float | None                 # mean cross-entropy on positions with known originals (training view)
    temperature: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Encoder / head split


@dataclass
class _HeadSplit:
    encode: Callable[[Any, Any], Any]   # (input_ids (1, L), attention_mask (1, L)) -> hidden (1, L, H)
    head: Callable[[Any], Any]          # hidden (N, H) -> logits (N, V)


def _split_known(model) -> _HeadSplit | None:
    """Explicit splits for common masked-LM classes (each one checked against the full forward in tests)."""
    name = type(model).__name__

    def enc(base):
        return lambda ids, mask: base(input_ids=ids, attention_mask=mask)[0]

    if name in ("BertForMaskedLM", "MegatronBertForMaskedLM", "RoFormerForMaskedLM", "ErnieForMaskedLM"):
        return _HeadSplit(enc(getattr(model, model.base_model_prefix)), model.cls)
    if name in ("RobertaForMaskedLM", "XLMRobertaForMaskedLM", "CamembertForMaskedLM",
                "Data2VecTextForMaskedLM", "RobertaPreLayerNormForMaskedLM", "XLMRobertaXLForMaskedLM",
                "MPNetForMaskedLM"):
        return _HeadSplit(enc(getattr(model, model.base_model_prefix)), model.lm_head)
    if name == "AlbertForMaskedLM":
        return _HeadSplit(enc(model.albert), model.predictions)
    if name == "DistilBertForMaskedLM":
        return _HeadSplit(
            enc(model.distilbert),
            lambda h: model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(h)))),
        )
    if name == "ElectraForMaskedLM":
        return _HeadSplit(enc(model.electra), lambda h: model.generator_lm_head(model.generator_predictions(h)))
    return None


_SPLITS: "weakref.WeakKeyDictionary[Any, _HeadSplit | None]" = weakref.WeakKeyDictionary()


def _split(model) -> _HeadSplit | None:
    if model not in _SPLITS:
        _SPLITS[model] = _split_known(model)
    return _SPLITS[model]


def mask_logits(lm, input_ids: list[int], positions: list[int]):
    """Float32 logits (N, V) at `positions` of one sequence; the head runs at those positions only."""
    import torch

    model = lm.model
    ids = torch.tensor([input_ids], dtype=torch.long, device=lm.device)   # (1, L)
    attention = torch.ones_like(ids)                                        # (1, L): one row, no padding
    where = torch.tensor(positions, dtype=torch.long, device=lm.device)    # (N,)
    split = _split(model)
    with torch.inference_mode():
        if split is not None:
            hidden = split.encode(ids, attention)[0, where]                 # (N, H)
            logits = split.head(hidden)                                     # (N, V)
        else:
            logits = model(input_ids=ids, attention_mask=attention).logits[0, where]  # (N, V)
    return logits.float()


def mask_logits_rows(lm, rows, positions):
    """Float32 logits (B, K, V) at `positions` (B, K) of each of the rows `rows` (B, L).

    Several sequences of the same length (no padding) in one forward; the head runs at the
    B*K gathered positions only. Both arguments are long tensors (on any device).
    Used by core/score.py (one masked copy per row) and core/candidates.py (beam rows).
    """
    import torch

    model = lm.model
    ids = rows.to(lm.device)                                                # (B, L)
    where = positions.to(lm.device)                                         # (B, K)
    attention = torch.ones_like(ids)                                        # (B, L): equal lengths
    batch = torch.arange(ids.shape[0], device=lm.device).unsqueeze(1)       # (B, 1), broadcasts with (B, K)
    split = _split(model)
    with torch.inference_mode():
        if split is not None:
            hidden = split.encode(ids, attention)[batch, where]             # (B, K, H)
            logits = split.head(hidden)                                     # (B, K, V)
        else:
            logits = model(input_ids=ids, attention_mask=attention).logits[batch, where]  # (B, K, V)
    return logits.float()


# ---------------------------------------------------------------------------------------------
# Distributions


class _Vocab:
    """Token strings for ids, cached per tokenizer."""

    def __init__(self, tokenizer):
        from mlm_explorer.core.mask.text import PieceStyle

        self.tokenizer = tokenizer
        self.style = PieceStyle.of(tokenizer)

    def strings(self, token_id: int) -> tuple[str, str]:
        piece = self.tokenizer.convert_ids_to_tokens(int(token_id))
        piece = piece if isinstance(piece, str) else str(piece)
        return piece, self.style.display(piece)


def _prediction(vocab: _Vocab, position: int, probs, logprobs, top_k: int, original_id: int | None) -> MaskPrediction:
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


def _softmax(logits, temperature: float):
    """(probs, logprobs), float32, of logits / temperature."""
    import torch

    scaled = logits.float() / temperature
    return torch.softmax(scaled, dim=-1), torch.log_softmax(scaled, dim=-1)


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
    """
    if getattr(lm, "kind", "mlm") != "mlm":
        raise ModelError(f"'{lm.name}' is a seq2seq model; fill-mask needs an encoder MLM (use infill for T5)")
    if not input_ids:
        raise InputError("text is empty: type a sentence (put [MASK] or ___ where a word should be predicted)")
    if len(input_ids) > lm.max_length:
        raise InputError(f"text is {len(input_ids)} tokens, the model takes at most {lm.max_length}; shorten it or pass --truncate")
    positions = sorted(set(int(p) for p in mask_positions))
    if not positions:
        raise InputError("no mask in the text: put [MASK] or ___ where a word should be predicted")
    outside = [p for p in positions if not 0 <= p < len(input_ids)]
    if outside:
        raise InputError(f"mask position {outside[0]} is outside the text ({len(input_ids)} tokens)")
    if not (isinstance(top_k, int) and top_k >= 1):
        raise InputError(f"--top-k {top_k!r}: use a whole number of at least 1")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise InputError(f"--temperature {temperature!r}: use a number above 0 (1.0 = the model's own distribution)")
    originals = {p: int(i) for p, i in (original_ids or {}).items() if p in positions and i is not None}

    vocab = _Vocab(lm.tokenizer)
    filled = list(input_ids)
    predictions: dict[int, MaskPrediction] = {}
    steps: list[FillStep] = []
    loss = None
    remaining = list(positions)
    while remaining:
        logits = mask_logits(lm, filled, remaining).cpu()           # (R, V): small, read on the CPU
        if len(remaining) == len(positions):                         # the first pass: all masks in place
            loss = _loss(logits, remaining, originals)
        probs, logprobs = _softmax(logits, temperature)              # (R, V) each
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

    decoded = lm.tokenizer.decode(filled, skip_special_tokens=True, clean_up_tokenization_spaces=True).strip()
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
    positions = [t.index for t in tt.tokens if t.typed_mask]
    if not positions:
        raise InputError("no mask in the text: put [MASK] or ___ where a word should be predicted")
    return fill_masks(lm, tt.input_ids, positions, top_k=top_k, joint=joint, temperature=temperature)
