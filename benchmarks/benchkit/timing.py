"""Clocks and the side-by-side timing every benchmark uses.

    wall   time.perf_counter: what a user waits (the default on the CPU)
    cpu    time.thread_time: the calling thread's CPU time, steadier when other jobs share
           the cores (exact for one-thread work)
    cuda   CUDA events recorded on the current stream around the calls, then synchronised:
           GPU time, without the host's launch queue (the --device cuda default)

`timed_pair` alternates ours and the anchor in every repeat, so both see the same machine
load, and returns medians plus the per-repeat ratios (their spread is the noise).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable


class Clock:
    def __init__(self, kind: str = "wall") -> None:
        if kind not in ("wall", "cpu", "cuda"):
            raise ValueError(f"unknown clock {kind!r}")
        self.kind = kind

    def __repr__(self) -> str:
        return f"Clock({self.kind!r})"

    @property
    def label(self) -> str:
        return {"wall": "wall clock", "cpu": "thread CPU time", "cuda": "CUDA events"}[self.kind]

    def seconds(self, fn: Callable[[], object], calls: int = 1) -> float:
        """Seconds per call of `fn`, over `calls` back-to-back calls."""
        if self.kind == "cuda":
            import torch

            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000.0 / calls  # elapsed_time is in milliseconds
        now = time.thread_time if self.kind == "cpu" else time.perf_counter
        t0 = now()
        for _ in range(calls):
            fn()
        return (now() - t0) / calls


def calls_for(clock: Clock, fn: Callable[[], object], min_time: float) -> int:
    """How many back-to-back calls of `fn` last about `min_time` seconds (at least one)."""
    return max(1, int(min_time / max(clock.seconds(fn), 1e-7)))


def timed_pair(ours: Callable[[], object], anchor: Callable[[], object], clock: Clock, *, warmup: int = 3,
               repeats: int = 15, min_time: float = 0.02) -> tuple[float, float, list[float]]:
    """Median seconds per call of `ours` and `anchor`, measured in alternating repeats, and the
    per-repeat ratios anchor / ours; each repeat loops enough calls to last about `min_time`."""
    for _ in range(warmup):
        ours(), anchor()
    n_ours, n_anchor = calls_for(clock, ours, min_time), calls_for(clock, anchor, min_time)
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        samples[0].append(clock.seconds(ours, n_ours))
        samples[1].append(clock.seconds(anchor, n_anchor))
    ratios = [a / o for o, a in zip(*samples)]
    return statistics.median(samples[0]), statistics.median(samples[1]), ratios


def quartiles(values: list[float]) -> tuple[float, float]:
    """(25th, 75th) percentile; a single value twice."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile (0..1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
