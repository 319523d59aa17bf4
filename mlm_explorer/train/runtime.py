"""Where the job runs: device, threads, precision, and the distributed set-up under torchrun.

One code path for CPU and CUDA; only these switches differ:

    CUDA: bf16 autocast when the GPU supports it, else fp16 autocast + GradScaler; TF32
          matmuls; pinned host memory and non_blocking copies; fused AdamW.
    CPU:  float32 (autocast off) unless `--precision bf16` asks for bf16 autocast (worth it
          where the CPU has native bf16: AVX512-BF16 or AMX; benchmarks/bench_precision.py);
          torch.set_num_threads(cores / processes on this machine).

Under autocast the parameters, the optimizer state and the checkpoints stay float32; only
the matmuls run in the lower precision.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; then each process joins a process group
(nccl on CUDA, gloo on CPU), trains on its own share of every batch with its own masking
generator (seed + rank), and only rank 0 writes files and events.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None  # autocast dtype (bf16 / fp16), None: float32
    threads: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def grad_scaler(self):
        """A GradScaler for fp16 (bf16 and fp32 need none)."""
        return torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def describe(self) -> dict:
        name = torch.cuda.get_device_name(self.device) if self.cuda else "cpu"
        precision = {None: "float32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast + GradScaler"}
        return {"device": str(self.device), "device_name": name, "world_size": self.world_size,
                "precision": precision[self.amp_dtype], "threads": self.threads}

    def all_max(self, value: float) -> float:
        """The largest value over all ranks (used to agree on stopping)."""
        if not self.distributed:
            return value
        t = torch.tensor([float(value)], device=self.device if self.cuda else "cpu")
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return float(t.item())

    def all_mean(self, value: float) -> float:
        if not self.distributed:
            return value
        t = torch.tensor([float(value)], device=self.device if self.cuda else "cpu")
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.world_size

    def close(self) -> None:
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def cpu_has_native_bf16() -> bool:
    """True where oneDNN computes bf16 in hardware (AVX512-BF16 / AMX): bf16 autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def pick_precision(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for `--precision` on `device` (None: float32, no autocast)."""
    from mlm_explorer.errors import InputError

    if precision == "fp32":
        return None
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        if precision == "bf16" and not bf16:
            raise InputError("--precision bf16: this GPU has no bf16; use --precision fp16 or auto")
        if precision == "fp16":
            return torch.float16
        return torch.bfloat16 if bf16 else torch.float16
    if precision == "fp16":
        raise InputError("--precision fp16 needs a GPU; on the CPU use --precision bf16 or fp32")
    return torch.bfloat16 if precision == "bf16" else None


def setup(device_spec: str, threads: int | None = None, precision: str = "auto") -> Runtime:
    """Read torchrun's environment, pick the device, set threads and precision."""
    from mlm_explorer.core.load.models import resolve_device

    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    device = resolve_device(device_spec)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    amp = pick_precision(device, precision)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    n = threads or max(1, (os.cpu_count() or 1) // max(1, local_world))
    torch.set_num_threads(n)
    return Runtime(device, rank, world, local_rank, amp, n)
