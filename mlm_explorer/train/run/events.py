"""JSON-lines events: the training job's only voice on stdout.

One event per line, each a JSON object with an `event` field (see docs/core-api.md):

    started     data summary (files used with tokens, skipped with reasons, duplicates: extract/report.py),
                device, parameter counts, objective, run dir
    preview     --dry-run, instead of training: data summary, samples (step 1's first blocks as
                masked), estimate {device, steps, step_s, eval_s, total_s}, max_steps (train/preview.py)
    step        step, loss, lr, tokens_per_s, eta_s, epoch (+ mlm_loss / nsp_loss for mlm+nsp)
    eval        step, loss, perplexity, accuracy
    probes      step, results: [{text, answer, rank, probability, top3: [[text, p], ...]}, ...]
                (with --probes / --probe: step 0, after each eval; core/probes.py ProbeResult)
    forgetting  step, n, top1, top5, mean_rank, median_rank, mean_probability, ranks (the forgetting
                meter, core/explain/forgetting.py: step 0 and after each eval; not with span)
    checkpoint  step, path
    finished    step, run_dir, best (path), best_eval_loss
    cancelled   step, checkpoint (path or null), signal
    error       message, rank (under torchrun, when another rank failed first: "rank N: ..."); the
                runner adds `stderr`, the job's last stderr lines
    log         message (for people: what was used and skipped, replaced bytes, repeated lines, ...)

Only rank 0 of a distributed run speaks. Anything else a library prints goes to stderr:
`protect_stdout()` points `sys.stdout` at stderr so a stray print cannot corrupt the stream.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import IO, Any


def _clean(value: Any) -> Any:
    """JSON cannot carry NaN/inf: send them as strings, tensors as numbers."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Events:
    """Write events as JSON lines to `stream` (the real stdout of the job)."""

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool = True) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.reader_gone = False  # the pipe was closed: events are dropped from then on

    def emit(self, name: str, **fields: Any) -> dict:
        event = {"event": name, "time": round(time.time(), 3), **_clean(fields)}
        if self.enabled and not self.reader_gone:
            try:
                self.stream.write(json.dumps(event, ensure_ascii=False) + "\n")
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):  # the launcher is gone (parent.py stops the job)
                self.reader_gone = True
        return event

    def log(self, message: str, **fields: Any) -> dict:
        return self.emit("log", message=message, **fields)


def protect_stdout() -> IO[str]:
    """Return the real stdout for events and send everything else printed to stderr."""
    real = sys.stdout
    sys.stdout = sys.stderr
    return real


def parse_line(line: str) -> dict:
    """One line of job output -> an event (a non-JSON line becomes a `log` event)."""
    line = line.strip()
    try:
        event = json.loads(line)
        if isinstance(event, dict) and "event" in event:
            return event
    except json.JSONDecodeError:
        pass
    return {"event": "log", "message": line}
