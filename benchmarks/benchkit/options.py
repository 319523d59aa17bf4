"""The options every benchmark takes, and the device they select.

    --rounds N      whole measurements, one after another; a goal counts as met only when
                    every round meets it
    --device D      cpu (default) or cuda: bf16 autocast and CUDA-event timing on a GPU
    --clock C       wall (default) or cpu (thread CPU time); cuda timing uses CUDA events
    --results DIR   where NAME.json goes (default benchmarks/results: the README's source)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from benchkit.timing import Clock


def add_common_options(ap: argparse.ArgumentParser, *, rounds: int = 3) -> None:
    ap.add_argument("--rounds", type=int, default=rounds, help="whole measurements; goals must hold in every one")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: the model and our kernels on the GPU, bf16 autocast, CUDA-event timing")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="host timing: wall clock or thread CPU time")
    ap.add_argument("--results", type=Path, default=None, help="directory for the results file (default benchmarks/results)")


def fail(message: str) -> "NoReturn":  # noqa: F821
    """One line on stderr, exit status 2 (bad options, no GPU): never a traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def select_device(args: argparse.Namespace):
    """The torch.device for `--device`; `--device cuda` without a GPU is a one-line error."""
    import torch

    if args.device == "cuda":
        if not cuda_available():
            fail("--device cuda: torch sees no CUDA device here (torch "
                 f"{torch.__version__}); run on a machine with a GPU and a CUDA build of torch, or use --device cpu")
        return torch.device("cuda")
    return torch.device("cpu")


def clock_for(args: argparse.Namespace) -> Clock:
    """CUDA events on a GPU, else the host clock `--clock` names."""
    return Clock("cuda" if args.device == "cuda" else args.clock)


def autocast(device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU (what a GPU user trains and infers with); nothing on the CPU."""
    import torch

    if getattr(device, "type", device) == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def gpu_name(device) -> str | None:
    if getattr(device, "type", device) != "cuda":
        return None
    import torch

    return torch.cuda.get_device_name(device)


def command_line(script: str) -> str:
    """The command that reproduces this run, as the README quotes it."""
    return " ".join([".venv/bin/python", f"benchmarks/{Path(script).name}", *sys.argv[1:]])
