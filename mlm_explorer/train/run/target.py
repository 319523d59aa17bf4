"""Which run directory a job writes, checked before any model is loaded (no torch here).

    a new run     --output DIR (refused if it already holds a run), or a fresh name under
                  runs_dir(); the directory must be creatable: that is tried at once, so a
                  file in the way or a read-only place is one line, not a crash after loading
    --resume RUN  the run's newest complete checkpoint and its recorded options (those given
                  now override them); a run killed during its very first save has run.json but
                  no checkpoint: it starts again from step 0 with its recorded options
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mlm_explorer import rundir
from mlm_explorer.errors import InputError


@dataclass
class Target:
    run_dir: Path | None  # None: a fresh name, chosen by rank 0 once the job starts
    checkpoint: Path | None  # the checkpoint to continue from (None: step 0)
    record: dict  # the run.json being continued ({} for a new run)
    args: argparse.Namespace  # the options to run with (a resumed run's merged ones)

    @property
    def resumed(self) -> bool:
        return bool(self.record)


def _create(run_dir: Path, option: str) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{option} {run_dir} is a file; give a directory (it is created if missing)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{option} {run_dir}: cannot create the directory ({exc.strerror or exc}); "
                         "give another place") from None


def new_run(args: argparse.Namespace, *, main_rank: bool = True) -> Target:
    """A new run: --output (must not hold a run yet) or a name under runs_dir() chosen later."""
    if not args.output:
        if main_rank:
            _create(rundir.runs_dir(), "the runs directory")
        return Target(None, None, {}, args)
    run_dir = Path(args.output).expanduser()
    if main_rank:
        if rundir.holds_run(run_dir):
            raise InputError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --output")
        _create(run_dir, "--output")
    return Target(run_dir, None, {}, args)


def resume(args: argparse.Namespace, given: set[str]) -> Target:
    """--resume RUN: its checkpoint (or step 0), its run.json and the merged options."""
    from mlm_explorer.train.config import merge_resumed

    run_dir, checkpoint = rundir.split_checkpoint(rundir.resolve_run(args.resume))
    where = run_dir / rundir.RUN_JSON
    try:
        record = rundir.read_record(run_dir)
    except (OSError, ValueError) as exc:
        instead = f"start a new run from its intact checkpoint with --model {checkpoint}" if checkpoint \
            else "start a new run (it has no checkpoint yet)"
        raise InputError(f"--resume {args.resume}: {where} is damaged ({str(exc).splitlines()[0]}); "
                         f"put back a good run.json, or {instead}") from None
    if not record:
        raise InputError(f"--resume {args.resume}: {run_dir} is not a training run (it has no {rundir.RUN_JSON})")
    if not isinstance(record.get("config"), dict):
        raise InputError(f"--resume {args.resume}: {where} does not record the run's options; "
                         f"start a new run{f' from --model {checkpoint}' if checkpoint else ''}")
    return Target(run_dir, checkpoint, record, merge_resumed(record["config"], args, given))
