"""Faults at each step of a save, for tests/test_train_faults.py.

`install(point, nth, action, patch)` makes `action()` happen at the `nth` time the job reaches
`point` (counted from 1); `patch(obj, name, value)` is monkeypatch.setattr in-process, or a
plain setattr in a process of its own. As a script it runs the job and SIGKILLs it there:

    python tests/faults.py POINT NTH JOB_ARGS...

Points, in the order a save goes through them (best/ and checkpoint-N/ share the first ones):

    weights        the model's files written into the temporary directory (any save)
    trainer-state  half of trainer_state.pt written (checkpoint saves)
    rename         the temporary directory complete, not renamed into place yet (any save)
    best-aside     the old best/ moved aside, the new one not renamed in yet
    pointer        checkpoint-N in place, `latest` not rewritten yet
    pointer-temp   the new `latest` in its temporary file, not renamed yet
    prune          halfway through deleting an old checkpoint
    run.json       run.json's temporary file half written
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Callable

POINTS = ("weights", "trainer-state", "rename", "best-aside", "pointer", "pointer-temp", "prune", "run.json")


def install(point: str, nth: int, action: Callable[[], None], patch: Callable) -> None:
    from transformers import PreTrainedModel

    from mlm_explorer import rundir

    calls = {"n": 0}

    def hit() -> bool:
        calls["n"] += 1
        return calls["n"] == nth

    if point == "weights":
        real_save = PreTrainedModel.save_pretrained

        def save_pretrained(self, path, *a, **k):
            real_save(self, path, *a, **k)
            if hit():
                action()
        patch(PreTrainedModel, "save_pretrained", save_pretrained)
    elif point == "trainer-state":
        import io

        import torch

        real_torch_save = torch.save

        def torch_save(obj, path, *a, **k):
            if hit():
                buf = io.BytesIO()
                real_torch_save(obj, buf)
                Path(path).write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
                action()
            return real_torch_save(obj, path, *a, **k)
        patch(torch, "save", torch_save)
    elif point == "rename":
        real_swap = rundir.swap_into_place

        def swap_into_place(tmp, final):
            if hit():
                action()
            real_swap(tmp, final)
        patch(rundir, "swap_into_place", swap_into_place)
    elif point in ("best-aside", "pointer-temp"):
        real_replace = os.replace

        def replace(src, dst, *a, **k):
            if point == "pointer-temp" and Path(dst).name == rundir.LATEST and hit():
                action()
            real_replace(src, dst, *a, **k)
            if point == "best-aside" and Path(src).name == rundir.BEST and Path(dst).name.startswith(".old-") and hit():
                action()
        patch(os, "replace", replace)
    elif point == "pointer":
        real_latest = rundir.write_latest

        def write_latest(run_dir, checkpoint):
            if hit():
                action()
            real_latest(run_dir, checkpoint)
        patch(rundir, "write_latest", write_latest)
    elif point == "prune":
        real_rmtree = shutil.rmtree

        def rmtree(path, *a, **k):
            if Path(path).name.startswith(".old-checkpoint-") and Path(path).is_dir() and hit():
                next(p for p in sorted(Path(path).rglob("*")) if p.is_file()).unlink()
                action()
            real_rmtree(path, *a, **k)
        patch(shutil, "rmtree", rmtree)
    elif point == "run.json":
        real_fsync = os.fsync

        def fsync(fd):
            if ".tmp-run.json-" in os.readlink(f"/proc/self/fd/{fd}") and hit():
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
                action()
            real_fsync(fd)
        patch(os, "fsync", fsync)
    else:
        raise ValueError(point)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    install(sys.argv[1], int(sys.argv[2]), _die, setattr)
    from mlm_explorer.train.job import main

    raise SystemExit(main(sys.argv[3:]))
