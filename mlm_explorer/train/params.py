"""Which parameters train (`--train-params`) and with which learning rate (`--head-lr`).

    all           every parameter
    head          the prediction head only (BERT: cls.*; RoBERTa: lm_head.*; an EncoderDecoderModel:
                  decoder.cls.* / decoder.lm_head.*). A decoder tied
                  to the word embeddings is listed under the embeddings, so it stays frozen.
    head+norms    the head, every LayerNorm and every bias
    head+top:N    the head and the top N layers of each stack (BERT encoder.layer.K;
                  T5 encoder.block.K and decoder.block.K; BERT2BERT encoder.encoder.layer.K and
                  decoder.bert.encoder.layer.K, cross-attention included), plus the final norms
    head+decoder  seq2seq: the head and the whole decoder but its embeddings (T5 decoder.*,
                  BERT2BERT decoder.bert.encoder.*); the encoder stays frozen, so a step costs
                  no backward pass through it

AdamW groups: weight decay on matrices only (not biases, norms, embeddings' LayerNorm), and
the head in its own groups when `--head-lr` is given.
"""

from __future__ import annotations

import re

import torch

HEAD_PREFIXES = ("cls.", "lm_head.", "lm_head")
_LAYER = re.compile(r"(^|\.)(?P<stack>[\w.]*?)\.(layer|layers|block)\.(?P<i>\d+)\.")
_EMBEDDINGS = re.compile(r"(embed|(^|\.)shared\.)")  # word/position embeddings (T5's `shared`)
_NORM = re.compile(r"(LayerNorm|layer_norm|layernorm|final_layer_norm|\bnorm\b|\.norm)", re.I)


def is_head(name: str) -> bool:
    """The prediction head; in an EncoderDecoderModel, the decoder's (decoder.cls.*, decoder.lm_head.*)."""
    return name.startswith(HEAD_PREFIXES) or (name.startswith("decoder.") and name[len("decoder."):].startswith(HEAD_PREFIXES))


def is_norm_or_bias(name: str) -> bool:
    return name.endswith(".bias") or name == "bias" or bool(_NORM.search(name))


def _top_layers(names: list[str], n: int) -> set[str]:
    """Names of parameters in the top n layers of each stack (and norms after the last layer)."""
    depth: dict[str, int] = {}
    for name in names:
        m = _LAYER.search(name)
        if m:
            depth[m.group("stack")] = max(depth.get(m.group("stack"), -1), int(m.group("i")))
    chosen = set()
    for name in names:
        m = _LAYER.search(name)
        if m and int(m.group("i")) > depth[m.group("stack")] - n:
            chosen.add(name)
        elif not m and _NORM.search(name) and ("final" in name or "encoder." in name or "decoder." in name) \
                and not _EMBEDDINGS.search(name):  # not BERT2BERT's encoder.embeddings.LayerNorm
            chosen.add(name)  # T5's final_layer_norm
    return chosen


def select_trainable(model: torch.nn.Module, spec: str) -> dict[str, int]:
    """Set requires_grad by `spec`; return counts for the `started` event."""
    named = list(model.named_parameters())  # tied parameters appear once
    names = [n for n, _ in named]
    if spec == "all":
        keep = set(names)
    else:
        keep = {n for n in names if is_head(n)}
        if spec == "head+norms":
            keep |= {n for n in names if is_norm_or_bias(n)}
        elif spec.startswith("head+top:"):
            keep |= _top_layers(names, int(spec.split(":", 1)[1]))
        elif spec == "head+decoder":
            keep |= {n for n in names if n.startswith("decoder.") and not _EMBEDDINGS.search(n)}
    for name, p in named:
        p.requires_grad_(name in keep)
    total = sum(p.numel() for _, p in named)
    trainable = sum(p.numel() for _, p in named if p.requires_grad)
    if trainable == 0:
        from mlm_explorer.errors import InputError

        raise InputError(f"--train-params {spec} selects no parameters of this model; use --train-params all")
    return {"parameters": total, "trainable": trainable}


def param_groups(model: torch.nn.Module, *, lr: float, head_lr: float | None, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: (head or body) x (decay or not), empty groups dropped."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        head = head_lr is not None and is_head(name)
        decay = p.dim() >= 2 and not is_norm_or_bias(name)
        groups.setdefault((head, decay), []).append(p)
    out = []
    for (head, decay), params in sorted(groups.items()):
        peak = head_lr if head else lr
        out.append({"params": params, "lr": peak, "peak_lr": peak,
                    "weight_decay": weight_decay if decay else 0.0, "name": ("head" if head else "body") + ("" if decay else "-nodecay")})
    return out
