"""Saliency: which input tokens made the model predict a token at a masked position.

What is attributed: f = the log-probability (default; `score="logit"`: the raw logit) of one
target token at one masked position, as a function of the input's word embeddings e (L, E).
The model adds position and token-type embeddings itself (it is fed `inputs_embeds`).

- gradient x input, per token i: sum_d (df/de)[i, d] * e[i, d]; also the L2 norm of df/de[i].
- integrated gradients (Sundararajan et al. 2017), per token i:
  sum_d (e - b)[i, d] * mean over the path of df/de[i, d], along b + a (e - b), a in [0, 1],
  by the trapezoid rule with `steps` intervals (steps + 1 points, batched). Completeness:
  sum_i IG[i] ~= f(e) - f(b); the result reports both sides and the relative gap.
- the baseline b (`baseline=`): "mask" (default): every token replaced by the mask token's
  embedding, the input of an MLM that was told nothing; "pad": the [PAD] embedding; "zero".
  Special tokens ([CLS], [SEP], <s>, </s>, [PAD]) keep their own embedding in b, so their IG is 0;
  with the "mask" baseline a [MASK] in the input (the explained position too) also scores 0.

Calls:

    result = saliency(lm, "The capital of France is [MASK].")              # SaliencyResult
    result = saliency(lm, text, target="paris", steps=32, method="ig")
    s = explain_position(lm, input_ids, position, target_id=None)           # Saliency, on ids

The model stays in eval mode; its parameters are frozen during the call (requires_grad restored
afterwards) and gradients are taken with torch.autograd.grad w.r.t. the embeddings only, so no
`.grad` is left on any parameter.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Literal

from mlm_explorer.core.infer import forward
from mlm_explorer.core.mask.text import PieceStyle, TokenStrings, TokenizedText, tokenize
from mlm_explorer.errors import InputError

Method = Literal["ig", "grad-x-input", "both"]
Score = Literal["logprob", "logit"]
Baseline = Literal["mask", "pad", "zero"]
METHODS = ("ig", "grad-x-input", "both")
BASELINES = ("mask", "pad", "zero")
MAX_STEPS = 1024
_TOKENS_PER_BATCH = 8192        # IG path points per forward: max(1, this // L)
_FREEZE_LOCK = threading.Lock()
WHAT = "the word to explain should be"   # completes "no mask in the text: put [MASK] or ___ where ..."


@dataclass
class Saliency:
    position: int                          # the explained (masked) position in the input ids
    target_id: int
    target: str                            # the vocabulary piece ("##ing", "Ġparis")
    target_text: str                       # as a person reads it
    target_probability: float              # softmax probability of the target at the position
    target_rank: int                       # 1 = the model's top prediction
    score: str                             # "logprob" | "logit": the attributed function f
    method: str                            # "ig" | "grad-x-input" | "both"
    baseline: str                          # "mask" | "pad" | "zero" (IG only)
    grad_x_input: list[float] | None       # (L,) per token; None when not asked
    gradient_norm: list[float] | None      # (L,) L2 norm of df/de per token; None when not asked
    integrated_gradients: list[float] | None   # (L,) per token; None when not asked
    steps: int | None                      # IG trapezoid intervals
    score_input: float                     # f(input)
    score_baseline: float | None           # f(baseline)
    ig_total: float | None                 # sum of integrated_gradients
    completeness_gap: float | None         # |ig_total - (f(input) - f(baseline))| / |f(input) - f(baseline)|

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SaliencyResult:
    text: str                              # the text as tokenized (mask aliases normalised)
    tokens: list                           # list[core.text.Token], one per position
    saliency: Saliency

    def to_dict(self) -> dict:
        return {"text": self.text, "tokens": [t.to_dict() for t in self.tokens], **self.saliency.to_dict()}


# ---------------------------------------------------------------------------------------------
# Targets


def target_id_for(tokenizer, word: str) -> int:
    """The id of a candidate given as one vocabulary piece ("paris", "##ing", "Ġparis"); InputError otherwise."""
    word = (word or "").strip()
    if not word:
        raise InputError("--target is empty: give one word the model could put at the mask")
    exact = tokenizer.convert_tokens_to_ids(word)
    if isinstance(exact, int) and exact != tokenizer.unk_token_id:
        return exact
    style = PieceStyle.of(tokenizer)
    spelled = " " + word if (style.byte_level or style.metaspace) else word   # a word after a space: Ġparis, ▁paris
    ids = [i for i in tokenizer(spelled, add_special_tokens=False)["input_ids"]
           if not (style.metaspace and tokenizer.convert_ids_to_tokens(i) == style.metaspace)]
    if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
        return ids[0]
    if ids == [tokenizer.unk_token_id] or not ids:
        raise InputError(f"--target {word!r} is not in the model's vocabulary; pick another word")
    pieces = " ".join(tokenizer.convert_ids_to_tokens(ids))
    raise InputError(
        f"--target {word!r} is {len(ids)} pieces for this tokenizer ({pieces}); "
        "saliency explains one piece at one mask: give a single piece"
    )


# ---------------------------------------------------------------------------------------------
# The computation


class _frozen:
    """Parameters' requires_grad off inside (faster forward, nothing accumulates), restored after; eval mode."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        _FREEZE_LOCK.acquire()
        self.flags = [(p, p.requires_grad) for p in self.model.parameters()]
        self.training = self.model.training
        for p, _ in self.flags:
            p.requires_grad_(False)
        self.model.eval()
        return self

    def __exit__(self, *exc_info):
        try:
            for p, flag in self.flags:
                p.requires_grad_(flag)
            self.model.train(self.training)
        finally:
            _FREEZE_LOCK.release()
        return False


def _scorer(lm, position: int, target_id: int, score: str):
    """f: word embeddings (B, L, E) -> scores (B,), differentiable; the head runs at `position` only."""
    import torch

    def f(embeds):                                                        # (B, L, E)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)   # (B, L)
        logits = forward.masked_logits(lm.model, (slice(None), position), inputs_embeds=embeds,
                                       attention_mask=mask).float()      # (B, V)
        if score == "logprob":
            logits = torch.log_softmax(logits, dim=-1)
        return logits[:, target_id]                                       # (B,)

    return f


def _scores_and_grads(f, points, batch: int):
    """f and df/de at each path point: points (N, L, E) -> scores (N,), grads (N, L, E). Batches are independent."""
    import torch

    scores, grads = [], []
    for chunk in points.split(batch):                                     # (b, L, E)
        x = chunk.detach().requires_grad_(True)
        s = f(x)                                                          # (b,)
        (g,) = torch.autograd.grad(s.sum(), x)                            # (b, L, E): each row's own gradient
        scores.append(s.detach())
        grads.append(g)
    return torch.cat(scores), torch.cat(grads)


def _baseline_embeds(lm, embeds, input_ids: list[int], kind: str):
    """The IG baseline (L, E): `kind` everywhere except special tokens, which keep their own embedding."""
    import torch

    tok = lm.tokenizer
    if kind == "zero":
        base = torch.zeros_like(embeds)                                   # (L, E)
    else:
        fill_id = tok.mask_token_id if kind == "mask" else tok.pad_token_id
        if fill_id is None:
            raise InputError(f"--baseline {kind}: the tokenizer has no {kind} token; use --baseline zero")
        row = lm.model.get_input_embeddings()(torch.tensor([fill_id], device=embeds.device))   # (1, E)
        base = row.expand_as(embeds).clone()                              # (L, E)
    fixed = set(tok.all_special_ids) - {tok.mask_token_id, tok.unk_token_id}
    keep = torch.tensor([i in fixed for i in input_ids], device=embeds.device)   # (L,)
    return torch.where(keep[:, None], embeds, base)                       # (L, E)


def explain_position(
    lm,
    input_ids: list[int],
    position: int,
    *,
    target_id: int | None = None,
    steps: int = 32,
    method: Method = "both",
    score: Score = "logprob",
    baseline: Baseline = "mask",
) -> Saliency:
    """Attribute f(target at `position`) to every token of `input_ids` (one sequence, used as given).

    target_id: the token to explain; None = the model's top prediction at `position`.
    steps: trapezoid intervals of integrated gradients (steps + 1 forward/backward points, batched).
    method: "ig", "grad-x-input" or "both". score: "logprob" or "logit". baseline: "mask", "pad", "zero".
    """
    import torch

    forward.require_encoder(lm, "saliency")
    forward.check_ids(lm, input_ids)
    forward.check_position(position, len(input_ids))
    if method not in METHODS:
        raise InputError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise InputError(f"--baseline {baseline!r}: use one of {', '.join(BASELINES)}")
    if score not in ("logprob", "logit"):
        raise InputError(f"score {score!r}: use logprob or logit")
    if not (isinstance(steps, int) and 1 <= steps <= MAX_STEPS):
        raise InputError(f"--steps {steps!r}: use a whole number from 1 to {MAX_STEPS} (32 is plenty)")

    # 1. The prediction at the position (one no-grad forward): the target and its probability.
    logits = forward.mask_logits(lm, list(input_ids), [position])[0].cpu()   # (V,)
    probs = torch.softmax(logits, dim=-1)                                # (V,)
    vocab_size = probs.shape[-1]
    target_id = int(probs.argmax()) if target_id is None else int(target_id)
    if not 0 <= target_id < vocab_size:
        raise InputError(f"target id {target_id} is outside the vocabulary (0-{vocab_size - 1})")
    piece, text = TokenStrings(lm.tokenizer).strings(target_id)
    rank = int((probs > probs[target_id]).sum()) + 1

    # 2. Gradients along the path baseline -> input (IG), or at the input only (grad x input).
    want_ig = method in ("ig", "both")
    want_gxi = method in ("grad-x-input", "both")
    model = lm.model
    with _frozen(model), torch.inference_mode(False), torch.enable_grad():
        ids = torch.tensor(input_ids, dtype=torch.long, device=lm.device)              # (L,)
        embeds = model.get_input_embeddings()(ids).detach()                             # (L, E)
        base = _baseline_embeds(lm, embeds, input_ids, baseline).detach()               # (L, E)
        alphas = torch.linspace(0, 1, steps + 1, device=lm.device) if want_ig else torch.ones(1, device=lm.device)  # (N,)
        points = base + alphas[:, None, None] * (embeds - base)                         # (N, L, E)
        batch = max(1, _TOKENS_PER_BATCH // len(input_ids))
        f = _scorer(lm, position, target_id, score)
        scores, grads = _scores_and_grads(f, points, batch)                             # (N,), (N, L, E)
    at_input = grads[-1]                                                                 # (L, E): alpha = 1

    result = Saliency(
        position=position, target_id=target_id, target=piece, target_text=text,
        target_probability=float(probs[target_id]), target_rank=rank, score=score, method=method,
        baseline=baseline, grad_x_input=None, gradient_norm=None, integrated_gradients=None,
        steps=steps if want_ig else None, score_input=float(scores[-1]), score_baseline=None,
        ig_total=None, completeness_gap=None,
    )
    if want_gxi:
        result.grad_x_input = [float(v) for v in (at_input * embeds).sum(-1)]          # (L,)
        result.gradient_norm = [float(v) for v in at_input.norm(dim=-1)]                # (L,)
    if want_ig:
        weights = torch.ones(steps + 1, device=grads.device) / steps                    # (N,) trapezoid
        weights[0] = weights[-1] = 0.5 / steps
        mean_grad = (weights[:, None, None] * grads).sum(0)                             # (L, E)
        ig = ((embeds - base) * mean_grad).sum(-1)                                      # (L,)
        delta = float(scores[-1] - scores[0])
        total = float(ig.sum())
        result.integrated_gradients = [float(v) for v in ig]
        result.score_baseline = float(scores[0])
        result.ig_total = total
        result.completeness_gap = abs(total - delta) / max(abs(delta), 1e-8)
    return result


def saliency(
    lm,
    text_or_tt,
    *,
    position: int | None = None,
    target: str | int | None = None,
    steps: int = 32,
    method: Method = "both",
    score: Score = "logprob",
    baseline: Baseline = "mask",
    truncate: bool = False,
) -> SaliencyResult:
    """Tokenize (unless given a TokenizedText) and explain the prediction at one mask.

    position: the token index to explain; None = the first typed mask. A position that is not a
        typed mask is masked first (replaced by the mask token), like a clicked chip.
    target: a word given as one vocabulary piece, or a token id; None = the top prediction.
    """
    tt = text_or_tt if isinstance(text_or_tt, TokenizedText) else tokenize(
        lm.tokenizer, text_or_tt, max_length=lm.max_length, truncate=truncate)
    if position is None:
        position = forward.typed_masks(tt, WHAT)[0]
    forward.check_position(position, len(tt.tokens))
    if tt.tokens[position].special and not tt.tokens[position].typed_mask:
        raise InputError(f"token {position} is the special token {tt.tokens[position].text}; pick a word or a mask")
    ids = list(tt.input_ids)
    ids[position] = lm.tokenizer.mask_token_id
    target_id = target_id_for(lm.tokenizer, target) if isinstance(target, str) else target
    explained = explain_position(lm, ids, position, target_id=target_id, steps=steps, method=method,
                                 score=score, baseline=baseline)
    return SaliencyResult(tt.text, list(tt.tokens), explained)
