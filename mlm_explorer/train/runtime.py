"""Where the job runs: device, threads, precision, and the distributed set-up under torchrun.

One code path for CPU and CUDA; only these switches differ:

    CUDA: bf16 autocast on a GPU that computes bf16 natively (compute capability >= 8.0:
          A100, H100, RTX 30xx/40xx, L4), else fp16 autocast + GradScaler (V100, T4, P100);
          TF32 matmuls; pinned host memory and non_blocking copies; fused AdamW.
    CPU:  float32 (autocast off) unless `--precision bf16` asks for bf16 autocast (worth it
          where the CPU has native bf16: AVX512-BF16 or AMX; benchmarks/bench_precision.py);
          torch.set_num_threads(cores / processes on this machine).

Under autocast the parameters, the optimizer state and the checkpoints stay float32; only
the matmuls run in the lower precision.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK (and GROUP_RANK, the machine's number); then
each process joins a process group (nccl on CUDA, gloo on CPU), trains on its own share of
every batch with its own masking generator (seed + rank), and only rank 0 writes files and
events. Besides the collectives, the processes talk through the process group's key-value
store (torchrun's rendezvous store): who tokenises first (`turn`), and the first failure.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch

# Collectives wait at most this long for a slow rank (NCCL's default is 10 minutes): rank 0
# evaluates and writes checkpoints while the others wait at the next collective. The long
# first-time tokenisation is not a collective: the other ranks wait for it in the store.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)
TURN_TIMEOUT = timedelta(hours=24)


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    amp_dtype: torch.dtype | None = None  # autocast dtype (bf16 / fp16), None: float32
    threads: int = 1
    node: int = 0  # which machine (torchrun's GROUP_RANK)

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

    # ---- collectives ----------------------------------------------------------------------
    def all_sum_(self, t: torch.Tensor) -> torch.Tensor:
        """Sum `t` (on the device) over all ranks, in place; no host sync (NCCL queues it)."""
        if self.distributed:
            torch.distributed.all_reduce(t)
        return t

    def agree_max(self, values: list[float]) -> list[float]:
        """The element-wise largest of `values` over all ranks: one small all-reduce and one host sync."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return t.tolist()

    def gather_to_main(self, obj) -> list | None:
        """Every rank's `obj` (small, plain data and tensors), as a list on rank 0; None elsewhere."""
        if not self.distributed:
            return [obj]
        out = [None] * self.world_size if self.is_main else None
        torch.distributed.gather_object(obj, out, dst=0)
        return out

    # ---- the store ------------------------------------------------------------------------
    @property
    def store(self):
        """The process group's key-value store (torchrun's rendezvous store, which outlives a
        failed worker), or None when not distributed."""
        if not (self.distributed and torch.distributed.is_initialized()):
            return None
        from torch.distributed import distributed_c10d

        return distributed_c10d._get_default_store()  # torch has no public accessor

    @contextlib.contextmanager
    def turn(self, name: str):
        """Run the block rank 0 first, then the first process of every other machine, then
        all the others: each machine fills its cache once and the rest read it (with a shared
        filesystem, the other machines read what rank 0 wrote). Waits in the store, not in a
        collective, so a long first-time tokenisation cannot trip the collective timeout."""
        store = self.store
        if store is None:
            yield
            return
        first_of_node = self.local_rank == 0
        if not self.is_main:
            store.wait([f"{name}/rank0" if first_of_node else f"{name}/node{self.node}"], TURN_TIMEOUT)
        yield
        if self.is_main:
            store.set(f"{name}/rank0", "1")
        if first_of_node:
            store.set(f"{name}/node{self.node}", "1")

    def close(self) -> None:
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def cpu_has_native_bf16() -> bool:
    """True where oneDNN computes bf16 in hardware (AVX512-BF16 / AMX): bf16 autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def gpu_has_native_bf16(device: torch.device) -> bool:
    """True when `device` (this GPU, not the current one) computes bf16 natively: compute
    capability 8.0 or more. (`torch.cuda.is_bf16_supported()` also counts the emulated bf16 of
    older GPUs, which is much slower than fp16, and asks about the current device.)"""
    if torch.version.hip:  # ROCm: torch treats every AMD GPU as bf16-capable
        return True
    return torch.cuda.get_device_capability(device) >= (8, 0)


def pick_precision(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for `--precision` on `device` (None: float32, no autocast)."""
    from mlm_explorer.errors import InputError

    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "fp16":
            return torch.float16
        bf16 = gpu_has_native_bf16(device)
        if precision == "bf16" and not bf16:
            major, minor = torch.cuda.get_device_capability(device)
            raise InputError(f"--precision bf16: this GPU (compute capability {major}.{minor}) has no native bf16; "
                             "use --precision fp16 or auto")
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
    node = int(os.environ.get("GROUP_RANK", rank // max(1, local_world)))
    device = resolve_device(device_spec)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
        torch.cuda.set_device(device)
    amp = pick_precision(device, precision)  # before joining: a refusal needs no process group
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                             timeout=COLLECTIVE_TIMEOUT)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    n = threads or max(1, (os.cpu_count() or 1) // max(1, local_world))
    torch.set_num_threads(n)
    return Runtime(device, rank, world, local_rank, amp, n, node)


def wrap_module(module: torch.nn.Module, rt: Runtime, *, compile: bool):
    """(module to call, DDP wrapper or None). DDP first, then torch.compile of the wrapped
    module, so that compiled DDP overlaps the gradient all-reduce with the backward pass
    (compiling the inner module first would hide it from DDP's graph splitting).

    broadcast_buffers=False: the buffers (BERT's position and token-type ids) never change, so
    broadcasting them on every forward is wasted traffic. gradient_as_bucket_view=True: the
    gradients live in DDP's all-reduce buckets instead of beside them (one copy less memory)."""
    ddp = None
    if rt.distributed:
        import inspect

        DDP = torch.nn.parallel.DistributedDataParallel
        # torch >= 2.13 names it forward_sync_buffers (and still syncs once at init: harmless)
        sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters else "broadcast_buffers"
        ddp = DDP(module, device_ids=[rt.device.index] if rt.cuda else None, gradient_as_bucket_view=True,
                  **{sync: False})
        module = ddp
    if compile:
        module = torch.compile(module)
    return module, ddp


def mark_dynamic(inputs: dict) -> dict:
    """Mark the first dimension of every tensor input dynamic for torch.compile: the batch
    (the last micro-batch of a step may be shorter) and the masked positions (their count
    changes every step), so one graph serves every step instead of a recompile per shape."""
    for t in inputs.values():
        if torch.is_tensor(t):
            torch._dynamo.maybe_mark_dynamic(t, 0)
    return inputs
