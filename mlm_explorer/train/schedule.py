"""When: how long a run lasts, its learning-rate schedule, and the clock every rank agrees on.

    limits       --max-steps, --epochs (nothing given: 3 epochs), --time-budget; the first reached stops
    warm-up      --warmup-steps (default 6% of the steps; 50 when only a time budget is set)
    decay        --schedule linear | cosine | constant, by steps, or by time under a time budget alone
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    max_steps: int | None  # None: the time budget decides
    warmup: int
    kind: str  # linear | cosine | constant
    budget_s: float | None

    @classmethod
    def from_args(cls, args, steps_per_epoch: int) -> "Schedule":
        limits = []
        if args.max_steps:
            limits.append(args.max_steps)
        epochs = args.epochs or (None if args.max_steps or args.time_budget else 3.0)  # nothing given: 3 epochs
        if epochs:
            limits.append(max(1, round(epochs * steps_per_epoch)))
        max_steps = min(limits) if limits else None
        warmup = args.warmup_steps if args.warmup_steps is not None else (
            round(0.06 * max_steps) if max_steps else 50)
        return cls(max_steps, warmup, args.schedule, args.time_budget * 60 if args.time_budget else None)

    def lr(self, step: int, peak: float, elapsed: float) -> float:
        """The learning rate of `step` for a group whose peak is `peak`; `elapsed`: seconds of
        training so far (the shared clock's), used when only a time budget is set."""
        # 1. linear warm-up from peak/warmup to peak
        if step < self.warmup:
            return peak * (step + 1) / self.warmup
        if self.kind == "constant":
            return peak
        # 2. progress through the decay: by steps, or by time when only a time budget is set
        if self.max_steps:
            progress = (step - self.warmup) / max(1, self.max_steps - self.warmup)
        else:
            progress = elapsed / self.budget_s
        progress = min(max(progress, 0.0), 1.0)
        # 3. linear or cosine down to zero
        if self.kind == "cosine":
            return peak * 0.5 * (1.0 + math.cos(math.pi * progress))
        return peak * (1.0 - progress)


class SharedClock:
    """Rank 0's elapsed time as every rank knows it: agreed at each stop check, extrapolated
    between checks from the agreed pace. So a time-budget run gives every rank the same learning
    rate (DDP never reconciles replicas that took different steps), and the stop checks, one
    all-reduce read on the host each, come about every CHECK_S seconds instead of every step."""

    CHECK_S = 2.0
    MAX_STEPS_BETWEEN = 64

    def __init__(self, *, every_step: bool) -> None:
        self.every_step = every_step  # one process: nothing to agree, so check every step
        self.step: int | None = None
        self.elapsed = 0.0
        self.pace = 0.0  # seconds per step between the last two checks

    def mark(self, step: int, elapsed: float) -> None:
        if self.step is not None and step > self.step:
            self.pace = (elapsed - self.elapsed) / (step - self.step)
        self.step, self.elapsed = step, elapsed

    def at(self, step: int) -> float:
        return self.elapsed + (step - (self.step or 0)) * self.pace

    def steps_to_next_check(self) -> int:
        if self.every_step or self.pace <= 0:
            return 1
        return int(min(self.MAX_STEPS_BETWEEN, max(1, self.CHECK_S // self.pace)))
