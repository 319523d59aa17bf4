"""What the training benchmarks share: the text and the model both sides train on, the clock
that stamps the end of every optimizer step, and our job run in-process with its data and
masking time measured.

Throughput is counted from the end of the first step to the end of the last (start-up, model
loading and the first step excluded), in real tokens, on two clocks: the wall clock and the
process's CPU time (all threads; steadier when other jobs share the cores).
"""

from __future__ import annotations

import contextlib
import glob
import io
import json
import os
import tempfile
import time
from pathlib import Path

TEXT_GLOBS = ["/usr/share/common-licenses/*", "/usr/share/doc/*/copyright", "/usr/share/doc/*/README*"]


def gather_text(out_dir: Path, max_bytes: int) -> int:
    """Local licence and documentation files (no network), copied into `out_dir`; their bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for pattern in TEXT_GLOBS:
        for i, path in enumerate(sorted(glob.glob(pattern))):
            p = Path(path)
            if not p.is_file() or p.suffix in (".gz", ".bz2", ".xz", ".html"):
                continue
            data = p.read_bytes()
            if b"\0" in data[:4096]:
                continue
            (out_dir / f"{p.parent.name}-{p.name}-{i}.txt").write_bytes(data)
            total += len(data)
            if total >= max_bytes:
                return total
    return total


def make_model(out_dir: Path, size: str) -> Path:
    """A BertForMaskedLM saved once so both sides load the same weights:
    "bundled" is the bundled encoder (6 layers, hidden 384); "base" a BERT-base shape
    (12 layers, hidden 768, `BertConfig()`'s defaults) with fresh weights and the bundled
    bert-base-uncased tokenizer (the hub is not needed)."""
    import torch

    from mlm_explorer.core.load.bundled import load_bundled

    model, tokenizer, _ = load_bundled(torch.device("cpu"))
    if size == "base":
        from transformers import BertConfig, BertForMaskedLM

        torch.manual_seed(0)
        model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer)))
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@contextlib.contextmanager
def workspace(text_bytes: int, model_size: str = "bundled"):
    """A temporary folder with the text and the model, the job's data and cache dirs inside it.
    Yields (folder, bytes of text, model dir)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MLM_EXPLORER_CACHE_DIR"] = str(work / "cache")
        os.environ["MLM_EXPLORER_DATA_DIR"] = str(work / "data")
        size = gather_text(work / "corpus", text_bytes)
        yield work, size, make_model(work / "model", model_size)


class StepClock:
    """Stamps (wall, process CPU) at the end of every optimizer step; on CUDA it synchronises
    first, so a stamp means the step's kernels have finished."""

    def __init__(self, cuda: bool = False) -> None:
        self.cuda = cuda
        self.marks: list[tuple[float, float]] = []

    def stamp(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        self.marks.append((time.perf_counter(), time.process_time()))

    def rates(self, tokens_per_step: float) -> dict:
        """Tokens per second (wall) and per CPU second, from the end of step 1 to the end of the last."""
        (w0, c0), (w1, c1) = self.marks[0], self.marks[-1]
        steps = len(self.marks) - 1
        return {"tokens_per_s": steps * tokens_per_step / (w1 - w0), "tokens_per_cpu_s": steps * tokens_per_step / (c1 - c0),
                "seconds": w1 - w0, "cpu_seconds": c1 - c0, "steps_timed": steps}


class Spent:
    """Seconds spent inside some functions, from a moment on (`reset`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn, *, cuda: bool = False):
        def wrapper(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            if cuda:
                import torch

                torch.cuda.synchronize()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
            return out
        return wrapper

    def reset(self) -> None:
        self.seconds = {k: 0.0 for k in self.seconds}


def run_our_job(argv: list[str], *, cuda: bool = False, profiler=None) -> dict:
    """`python -m mlm_explorer.train ARGV` in this process, with every step stamped and the
    time in data preparation (`Loop.step_blocks`: the step's blocks, to the device) and in
    masking (`Objective.corrupt`) measured from the end of step 1. `profiler`: an object with
    enable()/disable() (cProfile.Profile) switched on around every step after the first."""
    from mlm_explorer.train import loop as loop_mod
    from mlm_explorer.train import objectives
    from mlm_explorer.train.job import main

    clock, spent = StepClock(cuda), Spent()
    originals = (loop_mod.Loop.step_blocks, loop_mod.Loop.train_step, objectives.MLMObjective.corrupt)
    train_step = originals[1]

    def stamped(self, *a, **k):
        if profiler is not None and clock.marks:
            profiler.enable()
        out = train_step(self, *a, **k)
        if profiler is not None and clock.marks:
            profiler.disable()
        clock.stamp()
        if len(clock.marks) == 1:
            spent.reset()  # count from the end of the first step
        return out

    loop_mod.Loop.step_blocks = spent.wrap("data", originals[0], cuda=cuda)
    loop_mod.Loop.train_step = stamped
    objectives.MLMObjective.corrupt = spent.wrap("masking", originals[2], cuda=cuda)
    buf = io.StringIO()
    try:
        rc = main(argv, stdout=buf)
    finally:
        loop_mod.Loop.step_blocks, loop_mod.Loop.train_step, objectives.MLMObjective.corrupt = originals
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    if rc != 0:
        raise SystemExit(f"our job failed: {events[-1]}")
    steps = [e for e in events if e["event"] == "step"]
    started = next(e for e in events if e["event"] == "started")
    tokens_per_step = (steps[-1]["tokens"] - steps[0]["tokens"]) / max(1, len(steps) - 1)
    out = clock.rates(tokens_per_step)
    out.update({f"{k}_share": v / out["seconds"] for k, v in spent.seconds.items()},
               loss=steps[-1]["loss"], precision=started.get("precision"))
    return out
