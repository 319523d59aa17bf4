"""Before / after: a base model's and a fine-tuned model's distributions at the same blanks.

Like LMdiff, for your own fine-tune: for each masked position, the union of both models'
top-k candidates, each with its probability under the base model and under the tuned one,
the change `delta = p_tuned - p_base` and `log_ratio = ln(p_tuned / p_base)`, and both
models' ranks; plus each model's top-1 and the KL divergence KL(tuned || base) over the
whole vocabulary.

Order of the candidates (`sort`):
    "delta" (default)  largest |delta| first: what the fine-tune changed most
    "tuned"            most probable under the tuned model first
    "base"             most probable under the base model first
(ties: the tuned probability, then the token id).

Both models must share one vocabulary (a run and the model it started from do): checked,
one-line `ModelError` otherwise. The probabilities are exactly those of `core.fill.fill_masks`
(same `forward.mask_logits`, temperature 1), so for each model `p` over the candidates plus
`mass_outside_*` is 1, and `sum(delta) == mass_outside_base - mass_outside_tuned`.

    from mlm_explorer.core.infer.diff import diff_text, run_base_model
    base = load_mlm(run_base_model("run:my-run")); tuned = load_mlm("run:my-run")
    result = diff_text(base, tuned, "The [MASK] walks in the park.", top_k=5)
    result.to_dict()  # {"text", "base", "tuned", "top_k", "sort", "masks": [MaskDiff...]}

No torch at import time, no textual, no rich.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from mlm_explorer.core.infer import forward
from mlm_explorer.core.mask.text import TokenStrings, tokenize
from mlm_explorer.errors import InputError, ModelError

Sort = Literal["delta", "tuned", "base"]
SORTS = ("delta", "tuned", "base")


@dataclass
class DiffCandidate:
    token_id: int
    token: str          # the vocabulary piece ("##ing", "Ġthe")
    text: str           # as a person reads it
    p_base: float
    p_tuned: float
    delta: float        # p_tuned - p_base
    log_ratio: float    # ln(p_tuned / p_base), nats; > 0: the fine-tune made it more likely
    rank_base: int      # 1 = the base model's first choice
    rank_tuned: int


@dataclass
class MaskDiff:
    position: int                   # index in the input ids
    candidates: list[DiffCandidate]  # union of both models' top-k, ordered by `sort`
    base_top1: DiffCandidate
    tuned_top1: DiffCandidate
    mass_outside_base: float        # 1 - sum of p_base over the candidates
    mass_outside_tuned: float       # 1 - sum of p_tuned over the candidates
    kl: float                       # KL(tuned || base) over the whole vocabulary, nats


@dataclass
class DiffResult:
    text: str                       # as tokenized (blanks normalised to the mask token)
    base: str                       # the models' names
    tuned: str
    top_k: int
    sort: str
    masks: list[MaskDiff]           # one per blank, by position

    def to_dict(self) -> dict:
        return asdict(self)


def check_same_vocabulary(base_lm, tuned_lm) -> None:
    """ModelError unless both tokenizers map the same pieces to the same ids."""
    a, b = base_lm.tokenizer, tuned_lm.tokenizer
    if a.get_vocab() != b.get_vocab() or a.mask_token_id != b.mask_token_id:
        raise ModelError(
            f"'{base_lm.name}' ({len(a)} tokens) and '{tuned_lm.name}' ({len(b)} tokens) have different vocabularies; "
            "a before/after diff needs two models with the same tokenizer (a run and the model it started from)"
        )


def _ranks(probs, ids):
    """1-based rank of each id in `ids` within one distribution (V,)."""
    return [int((probs > probs[i]).sum()) + 1 for i in ids]


def compare_distributions(base_lm, tuned_lm, input_ids: list[int], positions: list[int], *,
                          top_k: int = 5, sort: Sort = "delta") -> list[MaskDiff]:
    """Per position: both distributions over the union of both models' top-`top_k` (see module doc)."""
    if sort not in SORTS:
        raise InputError(f"--sort {sort!r}: use one of {', '.join(SORTS)}")
    forward.check_top_k(top_k)
    for lm in (base_lm, tuned_lm):
        forward.require_encoder(lm, "a before/after diff")
    check_same_vocabulary(base_lm, tuned_lm)
    positions = forward.require_masks(sorted(set(int(p) for p in positions)))
    for lm in (base_lm, tuned_lm):
        forward.check_ids(lm, input_ids, truncate_hint=False)
    base_p, base_logp = forward.distributions(forward.mask_logits(base_lm, input_ids, positions).cpu())     # (N, V) each
    tuned_p, tuned_logp = forward.distributions(forward.mask_logits(tuned_lm, input_ids, positions).cpu())  # (N, V) each
    vocab = TokenStrings(tuned_lm.tokenizer)
    k = min(top_k, base_p.shape[-1])
    out = []
    for j, pos in enumerate(positions):
        pb, pt, lb, lt = base_p[j], tuned_p[j], base_logp[j], tuned_logp[j]
        ids = list(dict.fromkeys(pt.topk(k).indices.tolist() + pb.topk(k).indices.tolist()))
        rb, rt = _ranks(pb, ids), _ranks(pt, ids)
        cands = []
        for i, tid in enumerate(ids):
            token, text = vocab.strings(tid)
            p_b, p_t = float(pb[tid]), float(pt[tid])
            cands.append(DiffCandidate(tid, token, text, p_b, p_t, p_t - p_b, float(lt[tid] - lb[tid]), rb[i], rt[i]))
        top_b = next(c for c in cands if c.token_id == int(pb.argmax()))  # both argmaxes are in the union
        top_t = next(c for c in cands if c.token_id == int(pt.argmax()))
        key = {"delta": lambda c: (-abs(c.delta), -c.p_tuned, c.token_id),
               "tuned": lambda c: (-c.p_tuned, c.token_id),
               "base": lambda c: (-c.p_base, -c.p_tuned, c.token_id)}[sort]
        cands.sort(key=key)
        kl = float((pt * (lt - lb)).sum())
        out.append(MaskDiff(pos, cands, top_b, top_t, max(0.0, 1.0 - sum(c.p_base for c in cands)),
                            max(0.0, 1.0 - sum(c.p_tuned for c in cands)), max(0.0, kl)))
    return out


def diff_text(base_lm, tuned_lm, text: str, *, top_k: int = 5, sort: Sort = "delta") -> DiffResult:
    """Tokenize `text` (its [MASK] / ___ blanks) and compare the two models at every blank."""
    check_same_vocabulary(base_lm, tuned_lm)
    longest = min(base_lm.max_length, tuned_lm.max_length)
    tt = tokenize(tuned_lm.tokenizer, text, max_length=longest)
    positions = forward.typed_masks(tt)
    masks = compare_distributions(base_lm, tuned_lm, tt.input_ids, positions, top_k=top_k, sort=sort)
    return DiffResult(tt.text, base_lm.name, tuned_lm.name, top_k, sort, masks)


def run_base_model(name_or_path: str) -> str | None:
    """The model a fine-tuning run started from (run.json's `model`), when `name_or_path` is a run
    ("run:NAME", a run directory, or a checkpoint directory inside one); None for any other model.
    ModelError for what is not a model at all (core.sources.resolve_source)."""
    from mlm_explorer.core.load.sources import resolve_source
    from mlm_explorer.rundir import base_model

    src = resolve_source(name_or_path)
    if src.path is None:
        return None
    return base_model(src.path)

