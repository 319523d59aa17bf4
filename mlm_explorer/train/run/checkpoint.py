"""Checkpoints: Hugging Face directories written under a temporary name, then renamed.

The layout (checkpoint-N/, latest, best/) and the renames belong to mlm_explorer/rundir.py;
this module fills the directories (save_pretrained: safetensors, tied weights handled by it;
the tokenizer; trainer_state.pt, a plain dict: step, optimizer, RNG states...).

A kill at any moment leaves the previous checkpoint loadable: nothing is written in place;
a half-written `.tmp-*` directory is ignored and removed by the next save. The last `keep`
checkpoints are kept (default 2), plus best/. The trainer state holds only tensors and
plain Python values, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import torch

from mlm_explorer import rundir
from mlm_explorer.errors import UserError
from mlm_explorer.files import give_umask_mode


class CheckpointError(UserError):
    """A checkpoint could not be written (full disk, permissions); the previous one is intact."""


def _write_model_dir(tmp: Path, model, tokenizer, state: dict | None) -> None:
    """Fill the temporary directory; the trainer state goes last (it marks a checkpoint complete)."""
    model.save_pretrained(tmp)  # safetensors
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    if state is not None:
        torch.save(state, tmp / rundir.TRAINER_STATE)
    give_umask_mode(tmp)


def _fail(exc: OSError, what: str, run_dir: Path) -> CheckpointError:
    prev = rundir.latest_checkpoint(run_dir)
    kept = f"the previous checkpoint ({prev.name}) is intact" if prev else "no earlier checkpoint exists"
    if exc.errno == errno.ENOSPC:
        return CheckpointError(f"disk full while writing {what} in {run_dir}; {kept}; "
                               f"free some space, then continue with --resume {run_dir}")
    return CheckpointError(f"could not write {what} in {run_dir} ({exc.strerror or exc}); {kept}")


def _save_dir(run_dir: Path, final: Path, what: str, model, tokenizer, state: dict | None) -> None:
    tmp = None
    try:
        tmp = rundir.temp_dir(final)
        _write_model_dir(tmp, model, tokenizer, state)
        rundir.swap_into_place(tmp, final)
        if state is not None:
            rundir.write_latest(run_dir, final)
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(exc, what, run_dir) from None


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, state: dict, *, keep: int = 2) -> Path:
    """Write checkpoint-<step> atomically, point `latest` at it, prune old ones."""
    run_dir = Path(run_dir)
    final = rundir.checkpoint_dir(run_dir, step)
    _save_dir(run_dir, final, final.name, model, tokenizer, state)
    rundir.prune(run_dir, keep)
    return final


def save_best(run_dir: Path, model, tokenizer) -> Path:
    """Replace best/ with the current model (same tmp-then-rename dance)."""
    run_dir = Path(run_dir)
    final = run_dir / rundir.BEST
    _save_dir(run_dir, final, f"{rundir.BEST}/", model, tokenizer, None)
    return final


def load_trainer_state(checkpoint_dir: Path) -> dict:
    """The plain-dict trainer state; tensors and Python values only (weights_only=True)."""
    return torch.load(Path(checkpoint_dir) / rundir.TRAINER_STATE, map_location="cpu", weights_only=True)
