"""Checkpoints: Hugging Face directories written under a temporary name, then renamed.

The layout (checkpoint-N/, latest, best/) and the renames belong to mlm_explorer/rundir.py;
this module fills the directories (save_pretrained: safetensors, tied weights handled by it;
the tokenizer; trainer_state.pt, a plain dict: step, optimizer, RNG states...).

A kill at any moment leaves the previous checkpoint loadable: nothing is written in place;
a half-written `.tmp-*` directory is ignored and removed by the next save. The last `keep`
checkpoints are kept (default 2), plus best/. The trainer state holds only tensors and
plain Python values, so it loads with `torch.load(weights_only=True)`.

A full disk: before a save, the free space is checked against the size of the last save of
the same kind (or, for the first one, the bytes of the weights and the trainer state); a write
that fails anyway (safetensors raises SafetensorError, torch.save a RuntimeError "unexpected
pos ...", Python an OSError) becomes one `CheckpointError` that says the previous checkpoint is
intact and how to continue, and its temporary directory is removed, whatever the failure.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import torch

from mlm_explorer import rundir
from mlm_explorer.errors import UserError
from mlm_explorer.files import give_umask_mode

MARGIN_BYTES = 1 << 20  # tokenizer files and file-system overhead on top of the tensors
_DISK_FULL_WORDS = ("no space left", "os error 28", "disk quota", "os error 122")


class CheckpointError(UserError):
    """A checkpoint could not be written (full disk, permissions); the previous one is intact."""


def _tensor_bytes(value) -> int:
    """Bytes of every tensor in a (nested) trainer state."""
    if torch.is_tensor(value):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def _model_bytes(model) -> int:
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in model.state_dict().values()}
    return sum(storages.values())  # tied weights share a storage and are saved once


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _bytes_needed(run_dir: Path, final: Path, model, state: dict | None) -> int:
    """The size of the last save of this kind, else an estimate from the tensors."""
    last = rundir.latest_checkpoint(run_dir) if state is not None else (final if final.is_dir() else None)
    if last is not None:
        return _dir_bytes(last) + MARGIN_BYTES
    return _model_bytes(model) + _tensor_bytes(state) + MARGIN_BYTES


def _free_bytes(run_dir: Path) -> int:
    return shutil.disk_usage(run_dir).free


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def _kept(run_dir: Path) -> str:
    prev = rundir.latest_checkpoint(run_dir)
    return f"the previous checkpoint ({prev.name}) is intact" if prev else "no earlier checkpoint exists"


def _disk_full(what: str, run_dir: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"disk full while writing {what} in {run_dir} ({detail}); {_kept(run_dir)}; "
                           f"free some space, then continue with --resume {run_dir}")


def _fail(exc: BaseException, what: str, run_dir: Path, need: int) -> CheckpointError:
    """Any write failure -> one line. ENOSPC shows as an errno (OSError), as words (safetensors),
    or only as a short write (torch.save's "unexpected pos"): then the free space tells."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) \
        or any(w in text.lower() for w in _DISK_FULL_WORDS)
    try:
        free = _free_bytes(run_dir)
    except OSError:
        free = None
    if full or (free is not None and free < need):
        return _disk_full(what, run_dir, f"about {_size(need)} needed" + (f", {_size(free)} free" if free is not None else ""))
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {text}"
    return CheckpointError(f"could not write {what} in {run_dir} ({reason}); {_kept(run_dir)}")


def check_free_space(run_dir: Path, what: str, need: int) -> None:
    """Refuse a save before writing anything when the disk cannot hold it."""
    free = _free_bytes(run_dir)
    if free < need:
        raise _disk_full(what, run_dir, f"about {_size(need)} needed, {_size(free)} free")


def _write_model_dir(tmp: Path, model, tokenizer, state: dict | None) -> None:
    """Fill the temporary directory; the trainer state goes last (it marks a checkpoint complete)."""
    model.save_pretrained(tmp)  # safetensors
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    if state is not None:
        torch.save(state, tmp / rundir.TRAINER_STATE)
    give_umask_mode(tmp)


def _save_dir(run_dir: Path, final: Path, what: str, model, tokenizer, state: dict | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    need = _bytes_needed(run_dir, final, model, state)
    check_free_space(run_dir, what, need)
    tmp = None
    try:
        tmp = rundir.temp_dir(final)
        _write_model_dir(tmp, model, tokenizer, state)
        rundir.swap_into_place(tmp, final)
        tmp = None
        if state is not None:
            rundir.write_latest(run_dir, final)
    except Exception as exc:  # OSError, SafetensorError, torch.save's RuntimeError, ...
        raise _fail(exc, what, run_dir, need) from None
    finally:  # on every failure path, a signal or Ctrl+C included
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


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
