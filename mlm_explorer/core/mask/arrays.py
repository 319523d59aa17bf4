"""The array operations the masking engine is written in, for two array libraries.

`mask_tokens` is written once against the small namespace below and runs on

    NumPy  for tensors on the CPU (zero-copy views of the tensors): a NumPy call on a
           (32, 128) batch costs about 1 µs where a torch CPU operator costs 4-10 µs, and
           NumPy's comparisons and selections are vectorised where torch's CPU kernels for
           them are not (`benchmarks/bench_masking.py`, a profile in benchmarks/results);
    torch  on every other device (one kernel per operation on a GPU).

Every random draw comes from the caller's `torch.Generator` in both, in the same order and
the same shapes, so the two give identical results (tests/test_masking.py runs both on the
CPU and compares them).
"""

from __future__ import annotations

import numpy as np
import torch


class NumpyOps:
    """CPU tensors as NumPy views; results back as tensors sharing the arrays' memory."""

    name = "numpy"

    @staticmethod
    def array(t: torch.Tensor) -> np.ndarray:
        return t.numpy()

    @staticmethod
    def lookup(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """table[ids] for a (V,) table and ids of any shape."""
        return np.take(table, ids)

    @staticmethod
    def take(a: np.ndarray, index: np.ndarray) -> np.ndarray:
        """a[index] for a 1-D a."""
        return np.take(a, index)

    @staticmethod
    def take_clipped(a: np.ndarray, index: np.ndarray) -> np.ndarray:
        """a[index] for a 1-D a, negative indices read a[0]."""
        return np.take(a, index, mode="clip")

    @staticmethod
    def row_sum(b: np.ndarray) -> np.ndarray:  # (B, n) -> (B, 1)
        return b.sum(1, keepdims=True)

    @staticmethod
    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a)

    @staticmethod
    def uniform(generator: torch.Generator, shape) -> np.ndarray:  # float32 in [0, 1)
        return torch.rand(shape, generator=generator).numpy()

    @staticmethod
    def randint(generator: torch.Generator, high: int, n: int) -> np.ndarray:  # (n,) int64 in [0, high)
        return torch.randint(high, (n,), generator=generator).numpy()

    @staticmethod
    def bucket(u: np.ndarray, t1: float, t2: float, t3: float) -> np.ndarray:
        """(u >= t1) + (u >= t2) + (u >= t3) as uint8: 0, 1, 2 or 3 per element."""
        k = (u >= t1).view(np.uint8) + (u >= t2).view(np.uint8)
        k += (u >= t3).view(np.uint8)
        return k

    @staticmethod
    def as_uint8(b: np.ndarray) -> np.ndarray:
        return b.view(np.uint8)

    @staticmethod
    def as_long(a: np.ndarray) -> np.ndarray:
        return a.astype(np.int64)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def cumsum(a: np.ndarray, axis: int) -> np.ndarray:
        return a.cumsum(axis)

    @staticmethod
    def take_rows(a: np.ndarray, index: np.ndarray) -> np.ndarray:
        """a[r, index[r, j]] for (B, n) a and (B, m) index."""
        return np.take_along_axis(a, index, 1)

    @staticmethod
    def smallest(u: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, column indices) of the k smallest of each row (k <= row length; any order)."""
        cols = np.argpartition(u, k - 1, axis=1)[:, :k] if k < u.shape[1] else np.broadcast_to(
            np.arange(u.shape[1]), u.shape)
        return np.take_along_axis(u, cols, 1), cols

    @staticmethod
    def scatter_rows(shape, index: np.ndarray, values: np.ndarray) -> np.ndarray:
        """A (B, n) bool array, False except out[r, index[r, j]] = values[r, j]."""
        out = np.zeros(shape, dtype=bool)
        np.put_along_axis(out, index, values, 1)
        return out

    @staticmethod
    def arange(n: int, like: np.ndarray) -> np.ndarray:
        return np.arange(n)


class TorchOps:
    """Tensors as they are, on their own device."""

    name = "torch"

    @staticmethod
    def array(t: torch.Tensor) -> torch.Tensor:
        return t

    @staticmethod
    def lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        # a gather, not table[ids]: advanced indexing is slow on the CPU (tests run this namespace there)
        return table.expand(ids.shape[0], -1).gather(1, ids)

    @staticmethod
    def take(a: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return a.index_select(0, index)

    @staticmethod
    def take_clipped(a: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return a.index_select(0, index.clamp(min=0))

    @staticmethod
    def row_sum(b: torch.Tensor) -> torch.Tensor:
        return b.sum(1, keepdim=True)

    @staticmethod
    def tensor(a: torch.Tensor) -> torch.Tensor:
        return a

    @staticmethod
    def uniform(generator: torch.Generator, shape) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=generator.device)

    @staticmethod
    def randint(generator: torch.Generator, high: int, n: int) -> torch.Tensor:
        return torch.randint(high, (n,), generator=generator, device=generator.device)

    @staticmethod
    def bucket(u: torch.Tensor, t1: float, t2: float, t3: float) -> torch.Tensor:
        k = (u >= t1).to(torch.uint8) + (u >= t2).to(torch.uint8)
        k += (u >= t3).to(torch.uint8)
        return k

    @staticmethod
    def as_uint8(b: torch.Tensor) -> torch.Tensor:
        return b.to(torch.uint8)

    @staticmethod
    def as_long(a: torch.Tensor) -> torch.Tensor:
        return a.long()

    @staticmethod
    def where(cond, a, b):
        return torch.where(cond, a, b)

    @staticmethod
    def cumsum(a: torch.Tensor, axis: int) -> torch.Tensor:
        return a.cumsum(axis)

    @staticmethod
    def take_rows(a: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return a.gather(1, index)

    @staticmethod
    def smallest(u: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return u.topk(k, dim=1, largest=False)

    @staticmethod
    def scatter_rows(shape, index: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(shape, dtype=torch.bool, device=index.device).scatter_(1, index, values)

    @staticmethod
    def arange(n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.arange(n, device=like.device)


def ops_for(device: torch.device, backend: str | None = None):
    """NumPy for the CPU, torch elsewhere; `backend` ("numpy" / "torch") overrides (tests)."""
    if backend is None:
        backend = "numpy" if device.type == "cpu" else "torch"
    if backend == "numpy" and device.type != "cpu":
        raise ValueError(f"the numpy backend runs on the CPU only, not on {device}")
    return {"numpy": NumpyOps, "torch": TorchOps}[backend]
