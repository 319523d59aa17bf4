"""Attention: how much one token attends to every other token, per layer and head or averaged.

Two steps, so a UI can switch layer and head without running the model again:

    maps = attention_maps(lm, input_ids)           # one forward: AttentionMaps, weights (layers, heads, L, L)
    row = maps.row(token_index, layer=-1, head=3)  # AttentionRow: cheap, no model call
    row = maps.row(token_index)                    # mean over every layer and head

and one call for scripts and the CLI:

    result = attention(lm, "The cute dog [MASK] in the park.", 3, layer=-1)   # AttentionResult

Indices are 0-based; a negative layer or head counts from the end (-1 = the last) and is
reported as its non-negative index. `layer=None` averages over layers, `head=None` over heads
(both None: the mean of all layers x heads). Every row is a softmax output, so it sums to 1,
and so does any mean of rows.

Attention weights need the eager attention path: models load with the faster `sdpa`, which
returns no weights. `attention_maps` switches the model to eager for its one forward
(`model.set_attn_implementation("eager")`) and back afterwards, under a lock; a call made on
the same model from another thread meanwhile still computes the same numbers (eager and sdpa
are the same function). A model whose forward returns no attention weights -> ModelError.

Families whose layers do not return a plain (L, L) map:
- Longformer returns its sliding-window attention as a band (heads, L, 2w + 1): entry k of
  row i is the weight of token i - w + k. `_band_to_square` puts each entry at its token
  position (no token has global attention here: none is asked for), so rows sum to 1 again.
- Funnel pools the sequence between blocks: a pooled layer attends from fewer queries than
  tokens. Only the layers that keep the input length are kept; `note` says which are left
  out, and layer numbers count the kept layers.
- BigBird: its block-sparse path returns no weights on a model's first call (and only block
  weights otherwise), so the one forward runs on its full-attention path (`_full_attention`,
  the model is switched back afterwards); `note` says so, as BigBird itself runs block-sparse
  attention on longer texts. Maps of a text padded to a block multiple are cropped to the text.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from mlm_explorer.core.infer.forward import check_ids, check_position, require_encoder
from mlm_explorer.core.mask.text import TokenizedText, tokenize
from mlm_explorer.errors import InputError, ModelError

_SWITCH_LOCK = threading.Lock()   # one implementation switch at a time (the app uses one worker thread anyway)


@dataclass
class AttentionRow:
    token_index: int       # the token whose attention is shown (the query)
    layer: int | None      # 0-based layer; None = mean over layers
    head: int | None       # 0-based head; None = mean over heads
    weights: list[float]   # (L,): attention from token_index to every position, sums to 1
    num_layers: int
    num_heads: int
    note: str = ""         # layers left out (Funnel's pooled ones), or ""

    @property
    def label(self) -> str:
        """"layer 6/6 · head 3/12", "layer 6/6 · mean over heads", "mean over layers · mean over heads"."""
        layer = "mean over layers" if self.layer is None else f"layer {self.layer + 1}/{self.num_layers}"
        head = "mean over heads" if self.head is None else f"head {self.head + 1}/{self.num_heads}"
        return f"{layer} · {head}"

    def to_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


@dataclass
class AttentionMaps:
    """Every attention weight of one forward pass, kept to pick rows from without re-running."""

    input_ids: list[int]
    weights: Any           # torch.Tensor (layers, heads, L, L), float32 on the CPU; [l, h, i, j]: token i attends to j
    note: str = ""         # which of the model's layers are not in `weights`, and why ("" when all are)

    @property
    def num_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def num_heads(self) -> int:
        return int(self.weights.shape[1])

    def row(self, token_index: int, *, layer: int | None = None, head: int | None = None) -> AttentionRow:
        """The attention of `token_index` to every token, for one layer/head or averaged; InputError on bad indices."""
        check_position(token_index, len(self.input_ids))
        layer = _check_index(layer, self.num_layers, "layer")
        head = _check_index(head, self.num_heads, "head")
        rows = self.weights[:, :, token_index, :]                  # (layers, heads, L)
        rows = rows.mean(dim=0) if layer is None else rows[layer]  # (heads, L)
        row = rows.mean(dim=0) if head is None else rows[head]     # (L,)
        return AttentionRow(token_index, layer, head, [float(w) for w in row], self.num_layers, self.num_heads,
                            self.note)


@dataclass
class AttentionResult:
    text: str              # the text as tokenized (mask aliases normalised)
    tokens: list           # list[core.text.Token], one per position, specials included
    row: AttentionRow

    def to_dict(self) -> dict:
        return {"text": self.text, "tokens": [t.to_dict() for t in self.tokens], **self.row.to_dict()}


def _check_index(value: int | None, count: int, what: str) -> int | None:
    """None stays None (the mean); -count..count-1 -> 0..count-1; anything else -> InputError naming the range."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not -count <= value < count:
        raise InputError(
            f"{what} {value} does not exist: the model has {count} {what}s (0-{count - 1}, or -1 for the last)"
        )
    return value % count


def attention_maps(lm, input_ids: list[int]) -> AttentionMaps:
    """Run the encoder once on `input_ids` (one sequence, no padding) and keep every attention weight."""
    import torch

    require_encoder(lm, "attention")
    check_ids(lm, input_ids)
    model = lm.model
    encoder = getattr(model, "base_model", model)                  # no MLM head needed
    ids = torch.tensor([input_ids], dtype=torch.long, device=lm.device)   # (1, L)
    switch = _full_attention(model)
    with _SWITCH_LOCK, _eager(model), switch, torch.inference_mode():
        try:
            out = encoder(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
        except TypeError as exc:                                    # a forward without output_attentions
            raise _no_attentions(lm) from exc
    layers = getattr(out, "attentions", None)                       # tuple of (1, heads, Lq, Lk), one per layer
    if not layers or any(a is None for a in layers):
        raise _no_attentions(lm)
    length = len(input_ids)
    kept, pooled = [], []
    for number, a in enumerate(layers):
        a = a[0].float().cpu()                                        # (heads, Lq, Lk)
        if a.shape[-2] >= length and a.shape[-1] >= length and getattr(model.config, "model_type", "") != "longformer":
            kept.append(a[:, :length, :length])                         # BigBird pads to its block size: crop
        elif getattr(model.config, "model_type", "") == "longformer" and a.shape[-2] == length:
            kept.append(_band_to_square(a, length, lm))
        else:
            pooled.append((number, a.shape[-2]))
    if not kept:
        raise ModelError(f"'{lm.name}' ({type(model).__name__}) changes the sequence length in every layer, so no "
                         "layer has a token-to-token attention map to show")
    note = switch.note(length)
    if pooled:
        which = ", ".join(f"{n + 1} ({q} of {length} tokens)" for n, q in pooled)
        note = (f"{type(model).__name__.removesuffix('ForMaskedLM')} pools the sequence, so layer{'s' * (len(pooled) > 1)} "
                f"{which} of {len(layers)} {'are' if len(pooled) > 1 else 'is'} left out; the {len(kept)} shown keep "
                "the length and are numbered among themselves")
    return AttentionMaps(list(input_ids), torch.stack(kept), note)                  # (layers, heads, L, L)


def _band_to_square(band, length: int, lm):
    """Longformer's sliding-window band (heads, L, 2w + 1) -> (heads, L, L): band[h, i, k] is the
    attention of token i to token i - w + k (positions outside the text carry 0 and are dropped)."""
    import torch

    width = band.shape[-1]
    if width % 2 == 0:   # 2w + 1 + x: x > 0 means global tokens, which we never ask for
        raise ModelError(f"'{lm.name}' returned global attention, which mlm-explorer cannot map to tokens yet")
    w = (width - 1) // 2
    rows = torch.arange(length)[:, None].expand(length, width)                    # (L, 2w+1): query i
    cols = rows - w + torch.arange(width)[None, :]                                 # (L, 2w+1): key i - w + k
    inside = (cols >= 0) & (cols < length)
    square = band.new_zeros(band.shape[0], length, length)                         # (heads, L, L)
    square[:, rows[inside], cols[inside]] = band[:, inside]
    return square


def _no_attentions(lm) -> ModelError:
    return ModelError(
        f"'{lm.name}' ({type(lm.model).__name__}) does not return attention weights; "
        "attention needs a BERT-family encoder (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA...)"
    )


class _full_attention:
    """Context manager: a BigBird model in block-sparse mode runs its full-attention path inside."""

    def __init__(self, model):
        self.base = getattr(model, "base_model", model)
        self.config = model.config
        self.switched = False

    def __enter__(self):
        if getattr(self.base, "attention_type", None) == "block_sparse" and hasattr(self.base, "set_attention_type"):
            self.base.set_attention_type("original_full")
            self.switched = True
        return self

    def __exit__(self, *exc_info):
        if self.switched:
            self.base.set_attention_type("block_sparse")
        return False

    def note(self, length: int) -> str:
        """Said whenever the model is configured block-sparse (transformers switches a BigBird to full
        attention for good after its first short text, so `switched` depends on what ran before)."""
        if getattr(self.config, "attention_type", None) != "block_sparse":
            return ""
        sparse_from = (5 + 2 * self.config.num_random_blocks) * self.config.block_size + 1
        if length < sparse_from:
            return ""
        return (f"shown on BigBird's full-attention path; on texts of {sparse_from} tokens or more the model itself "
                "attends block-sparse")


class _eager:
    """Context manager: the model's attention implementation is "eager" inside, what it was outside."""

    def __init__(self, model):
        self.model = model
        self.before = None

    def __enter__(self):
        self.before = getattr(getattr(self.model, "config", None), "_attn_implementation", None)
        if self.before not in (None, "eager") and hasattr(self.model, "set_attn_implementation"):
            try:
                self.model.set_attn_implementation("eager")
            except (ValueError, ImportError) as exc:
                raise ModelError(f"cannot switch {type(self.model).__name__} to eager attention: {exc}") from exc
        return self

    def __exit__(self, *exc_info):
        now = getattr(self.model.config, "_attn_implementation", None)
        if self.before is not None and now != self.before:
            self.model.set_attn_implementation(self.before)
        return False


def attention(lm, text_or_tt, token_index: int, *, layer: int | None = None, head: int | None = None,
              truncate: bool = False) -> AttentionResult:
    """Tokenize (unless given a TokenizedText), run once, and return the row of `token_index`."""
    tt = text_or_tt if isinstance(text_or_tt, TokenizedText) else tokenize(
        lm.tokenizer, text_or_tt, max_length=lm.max_length, truncate=truncate)
    check_position(token_index, len(tt.tokens))   # before paying for a forward
    maps = attention_maps(lm, tt.input_ids)
    return AttentionResult(tt.text, list(tt.tokens), maps.row(token_index, layer=layer, head=head))
