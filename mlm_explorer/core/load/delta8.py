"""Int8 weight deltas: how the bundled model ships trained encoder layers in a few MB.

A trained matrix W' is shipped as its change from the package's own W: D = W' - W, one int8
per element and one float32 scale per row (symmetric, D ~= q * scale with |q| <= 127). The
change made by fine-tuning is small beside W, so the rounding (at most scale / 2 per element)
is a small fraction of an already small change; scripts/bundled/export_head.py measures what
it does to the predictions and records that in head.json. Vectors (biases, LayerNorms) and
the MLM head ship as plain fp16 values.

In the file, a delta is two tensors, NAME + ".delta_int8" (int8, the matrix's shape) and
NAME + ".delta_scale" (float32, (rows, 1)); a value is NAME itself.
"""

from __future__ import annotations

import torch

Q_SUFFIX = ".delta_int8"
SCALE_SUFFIX = ".delta_scale"


def encode(trained: torch.Tensor, base: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, scale) for the change trained - base of a (rows, cols) matrix."""
    delta = trained.float() - base.float()  # (rows, cols)
    scale = delta.abs().amax(dim=1, keepdim=True) / 127.0  # (rows, 1): the row's largest change -> 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an unchanged row: q = 0, any scale
    q = torch.round(delta / scale).clamp_(-127, 127).to(torch.int8)
    return q, scale


def decode(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The delta as float32: q * scale, row by row."""
    return q.float() * scale.float()


def parameter_names(shipped: dict[str, torch.Tensor]) -> dict[str, str]:
    """{parameter name: "delta" | "value"} for the tensors of a shipped file."""
    out: dict[str, str] = {}
    for key in shipped:
        if key.endswith(Q_SUFFIX):
            out[key[: -len(Q_SUFFIX)]] = "delta"
        elif not key.endswith(SCALE_SUFFIX):
            out[key] = "value"
    return out


def problems(shipped: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> list[str]:
    """What keeps `shipped` from being applied to a model with this state_dict (empty: fits)."""
    found = []
    for name, kind in parameter_names(shipped).items():
        if name not in state:
            found.append(f"unknown tensor {name}")
            continue
        if kind == "value":
            if shipped[name].shape != state[name].shape:
                found.append(f"wrong shape for {name}")
            continue
        q, scale = shipped[name + Q_SUFFIX], shipped.get(name + SCALE_SUFFIX)
        if q.dtype != torch.int8 or q.shape != state[name].shape or q.dim() != 2:
            found.append(f"bad delta for {name}")
        elif scale is None or tuple(scale.shape) != (q.shape[0], 1):
            found.append(f"bad delta scale for {name}")
    found += [f"scale without delta: {k}" for k in shipped
              if k.endswith(SCALE_SUFFIX) and k[: -len(SCALE_SUFFIX)] + Q_SUFFIX not in shipped]
    return found


@torch.no_grad()
def apply(state: dict[str, torch.Tensor], shipped: dict[str, torch.Tensor]) -> list[str]:
    """Write `shipped` into `state` in place (a state_dict sharing storage with a model whose
    weights are still the package's): values are copied, deltas added. Returns the names."""
    names = parameter_names(shipped)
    for name, kind in names.items():
        target = state[name]
        if kind == "value":
            target.copy_(shipped[name].to(target.dtype))
        else:
            target.add_(decode(shipped[name + Q_SUFFIX], shipped[name + SCALE_SUFFIX]).to(target.dtype))
    return sorted(names)
