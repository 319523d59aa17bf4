"""Checkpoints: Hugging Face directories written under a temporary name, then renamed.

    RUN/checkpoint-N/   model (save_pretrained, safetensors; tied weights handled by it),
                        tokenizer, trainer_state.pt (a plain dict: step, optimizer, RNG states...)
    RUN/latest          text file naming the newest complete checkpoint directory
    RUN/best/           model + tokenizer with the lowest eval loss so far (loads in pipeline())

A kill at any moment leaves the previous checkpoint loadable: nothing is written in place;
a half-written `.tmp-*` directory is ignored and removed by the next save. The last `keep`
checkpoints are kept (default 2), plus best/. The trainer state holds only tensors and
plain Python values, so it loads with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import torch

from mlm_explorer.errors import UserError

TRAINER_STATE = "trainer_state.pt"
LATEST = "latest"
BEST = "best"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


class CheckpointError(UserError):
    """A checkpoint could not be written (full disk, permissions); the previous one is intact."""


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename tmp to final; an existing final is moved aside first and removed after."""
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _write_model_dir(tmp: Path, model, tokenizer, state: dict | None) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)  # safetensors
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    if state is not None:
        torch.save(state, tmp / TRAINER_STATE)


def _fail(exc: OSError, what: str, run_dir: Path) -> CheckpointError:
    prev = latest_checkpoint(run_dir)
    kept = f"the previous checkpoint ({prev.name}) is intact" if prev else "no earlier checkpoint exists"
    if exc.errno == errno.ENOSPC:
        return CheckpointError(f"disk full while writing {what} in {run_dir}; {kept}; "
                               f"free some space, then continue with --resume {run_dir}")
    return CheckpointError(f"could not write {what} in {run_dir} ({exc.strerror or exc}); {kept}")


def save_checkpoint(run_dir: Path, step: int, model, tokenizer, state: dict, *, keep: int = 2) -> Path:
    """Write checkpoint-<step> atomically, point `latest` at it, prune old ones."""
    run_dir = Path(run_dir)
    final = run_dir / f"checkpoint-{step}"
    tmp = run_dir / f".tmp-{final.name}-{os.getpid()}"
    try:
        _write_model_dir(tmp, model, tokenizer, state)
        _swap_into_place(tmp, final)
        _write_text(run_dir / LATEST, final.name + "\n")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(exc, final.name, run_dir) from None
    prune(run_dir, keep)
    return final


def save_best(run_dir: Path, model, tokenizer) -> Path:
    """Replace best/ with the current model (same tmp-then-rename dance)."""
    run_dir = Path(run_dir)
    final = run_dir / BEST
    tmp = run_dir / f".tmp-{BEST}-{os.getpid()}"
    try:
        _write_model_dir(tmp, model, tokenizer, None)
        _swap_into_place(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _fail(exc, "best/", run_dir) from None
    return final


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    found = []
    for p in Path(run_dir).iterdir() if Path(run_dir).is_dir() else []:
        m = _CKPT.match(p.name)
        if m and p.is_dir() and (p / TRAINER_STATE).exists():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `latest` names, or the newest complete one."""
    pointer = Path(run_dir) / LATEST
    if pointer.exists():
        p = Path(run_dir) / pointer.read_text().strip()
        if (p / TRAINER_STATE).exists():
            return p
    found = checkpoints(run_dir)
    return found[-1] if found else None


def prune(run_dir: Path, keep: int) -> None:
    """Remove all but the newest `keep` checkpoints and any leftover temporary directories."""
    run_dir = Path(run_dir)
    if not (run_dir / BEST).exists():  # killed between the two renames of save_best: put it back
        for old in run_dir.glob(f".old-{BEST}-*"):
            os.replace(old, run_dir / BEST)
            break
    found = checkpoints(run_dir)
    for p in found[:-keep] if keep > 0 else found:
        shutil.rmtree(p, ignore_errors=True)
    for p in run_dir.iterdir():
        if p.name.startswith((".tmp-", ".old-")) and not p.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def load_trainer_state(checkpoint_dir: Path) -> dict:
    """The plain-dict trainer state; tensors and Python values only (weights_only=True)."""
    return torch.load(Path(checkpoint_dir) / TRAINER_STATE, map_location="cpu", weights_only=True)


def step_of(checkpoint_dir: Path) -> int:
    m = _CKPT.match(Path(checkpoint_dir).name)
    return int(m.group(1)) if m else 0
