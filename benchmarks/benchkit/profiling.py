"""Where the time of a call goes, measured: cProfile's self time per function, the benchmarks
keep such a profile wherever a goal is missed, so the README can say why.

cProfile sees every Python function and every C function called by name (torch.rand,
ndarray.take, Tensor.gather, ...); array operators (`a < b`, `a | b`) and the interpreter's own
work count in the function whose lines run them. Profiling slows small calls down, so the
parts are scaled to the unprofiled time per call (measured just before).
"""

from __future__ import annotations

import cProfile
import pstats
import re
import statistics
import time
from pathlib import Path
from typing import Callable

HOW = ("cProfile self time per function, scaled to the unprofiled time per call; "
       "array operators and Python count in the function running them")


# An event loop waiting for work: idle time, not time spent on anything (left out of profiles).
IDLE = {"epoll.poll", "select.select", "poll.poll", "kqueue.control", "select.epoll.poll"}


def readable(key: tuple[str, int, str]) -> str:
    """pstats' (file, line, name) as a short name: 'torch.rand', 'ndarray.take', 'masking.py:mask_tokens'."""
    filename, _, name = key
    if filename == "~":  # a C function
        m = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
        if m:
            return f"{m.group(2).split('.')[-1].replace('TensorBase', 'Tensor')}.{m.group(1)}"
        m = re.fullmatch(r"<built-in method ([\w.]+)>", name)
        return m.group(1) if m else name.strip("<>")
    return f"{Path(filename).name}:{name}"


def call_profile(fn: Callable[[], object], *, calls: int = 200, top: int = 7) -> list[tuple[str, float]]:
    """[(what, milliseconds per call)] for `fn`, largest first: the `top` functions by self
    time and "everything else", scaled so the parts add up to the unprofiled time per call."""
    for _ in range(3):
        fn()
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(max(1, calls // 5)):
            fn()
        samples.append((time.perf_counter() - t0) / max(1, calls // 5))
    unprofiled_ms = statistics.median(samples) * 1e3
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    parts = profile_parts(prof, per=calls, top=top)
    scale = unprofiled_ms / (sum(ms for _, ms in parts) or 1.0)
    return [(name, ms * scale) for name, ms in parts]


def module_of(key: tuple[str, int, str]) -> str:
    """pstats' (file, line, name) as the module it lives in: 'textual/_compositor.py',
    'rich/segment.py'; C functions by their readable name ('torch.rand')."""
    filename = key[0]
    if filename == "~":
        return readable(key)
    parts = Path(filename).parts
    for anchor in ("site-packages", "mlm_explorer", "benchmarks"):
        if anchor in parts:
            i = parts.index(anchor)
            return "/".join(parts[i + (anchor == "site-packages"):])
    return "/".join(parts[-2:])  # the standard library: 'asyncio/events.py'


def profile_parts(prof: cProfile.Profile, *, per: int = 1, top: int = 7,
                  by: str = "function") -> list[tuple[str, float]]:
    """[(what, milliseconds per `per`)] from a collected profile: the `top` functions (or, with
    `by="module"`, modules) by self time, largest first, then "everything else"."""
    stats = pstats.Stats(prof).stats  # {key: (primitive calls, calls, self time, cumulative, callers)}
    name = module_of if by == "module" else readable
    totals: dict[str, float] = {}
    for k, v in stats.items():
        if k[2].startswith(("<method 'disable'", "<method 'enable'")) or readable(k) in IDLE:
            continue
        totals[name(k)] = totals.get(name(k), 0.0) + v[2] * 1e3 / per
    own = sorted(totals.items(), key=lambda p: -p[1])
    parts = own[:top]
    rest = sum(ms for _, ms in own[top:])
    if rest > 0:
        parts.append(("everything else", rest))
    return parts
