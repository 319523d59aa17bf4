"""Count the calls that make the host wait for the device (a "sync" on a GPU), on the CPU.

There is no GPU here, so `torch.cuda.set_sync_debug_mode` cannot help; instead the Python-level
entry points that copy a value or a data-dependent shape to the host are wrapped and counted
while `counting` is on: `.item()`, `.tolist()`, `.cpu()`, `.numpy()`, `bool()` / `int()` /
`float()` of a tensor, `nonzero` (also the hidden one of boolean-mask indexing `x[mask]`),
`masked_select`, `unique`, `repeat_interleave` without `output_size`, `torch.equal`,
`torch.allclose`. Each counted call keeps the place in the code that made it.
"""

from __future__ import annotations

import contextlib
import traceback

import torch


class SyncCounter:
    def __init__(self) -> None:
        self.counting = False
        self.calls: list[str] = []  # "what at file:line"

    def _note(self, what: str) -> None:
        if not self.counting:
            return
        frame = traceback.extract_stack(limit=4)[-3]  # the caller of the wrapped function
        self.calls.append(f"{what} at {frame.filename.split('site-packages/')[-1]}:{frame.lineno}")

    @contextlib.contextmanager
    def paused(self):
        was, self.counting = self.counting, False
        try:
            yield
        finally:
            self.counting = was

    @contextlib.contextmanager
    def measuring(self):
        self.counting = True
        try:
            yield
        finally:
            self.counting = False


def _is_mask(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(torch.is_tensor(i) and i.dtype in (torch.bool, torch.uint8) for i in items)


@contextlib.contextmanager
def counting_syncs():
    """Patch torch for the duration; yield the SyncCounter (counting off until `measuring()`)."""
    counter = SyncCounter()
    T = torch.Tensor
    saved: list[tuple[object, str, object]] = []

    def wrap(owner, name, when=None):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            if when is None or when(*args, **kwargs):
                counter._note(name)
            return original(*args, **kwargs)

        saved.append((owner, name, original))
        setattr(owner, name, wrapper)

    for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__", "nonzero",
                 "masked_select", "unique"):
        wrap(T, name)
    wrap(T, "repeat_interleave", lambda *a, **k: "output_size" not in k)
    wrap(T, "__getitem__", lambda self, index: _is_mask(index))
    wrap(T, "__setitem__", lambda self, index, value: _is_mask(index))
    for name in ("nonzero", "masked_select", "unique", "equal", "allclose"):
        wrap(torch, name)
    wrap(torch, "repeat_interleave", lambda *a, **k: "output_size" not in k)
    try:
        yield counter
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
