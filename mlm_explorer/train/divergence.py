"""A NaN or infinite loss ends the job with one line that says how to go on; the weights are not saved."""

from __future__ import annotations

import math
from pathlib import Path

from mlm_explorer import rundir
from mlm_explorer.errors import UserError


class Diverged(UserError):
    """The loss became NaN or infinite: the job stops before saving such weights."""


def stop_if_diverged(loss: float, what: str, *, step: int, run_dir: Path, lr: float) -> None:
    """Raise Diverged when `loss` is not finite: continue from the last intact checkpoint with a
    tenth of the learning rate, or start again with it when there is none."""
    if math.isfinite(loss):
        return
    latest = rundir.latest_checkpoint(run_dir)
    smaller = f"--lr {lr / 10:g}"
    then = (f"the last checkpoint ({latest.name}) is intact: continue from it with a smaller learning rate, "
            f"--resume {run_dir} {smaller}") if latest else f"start again with a smaller learning rate, {smaller}"
    raise Diverged(f"the {what} loss became {loss} at step {step}: training diverged; {then}")
