"""A fine-tuning run's directory: its layout, and every read and write of it (torch-free).

    RUN/run.json          the run's record (train/run/runs.py RunRecord writes it; fields there)
    RUN/checkpoint-N/     model + tokenizer (save_pretrained, safetensors) + trainer_state.pt
    RUN/latest            text file naming the newest complete checkpoint directory
    RUN/best/             model + tokenizer with the lowest eval loss so far (loads in pipeline())
    RUN/.tmp-*, .old-*    a save under way (or killed); never read, removed by the next `prune`

There is no events file (the job's events go to its stdout) and no `last/`: `latest` names the
newest checkpoint. A checkpoint is complete when its trainer_state.pt exists (written last, then
the directory is renamed into place). Probe histories live in run.json (`probe_history`).

The job writes (train/run/checkpoint.py builds the directories, then `swap_into_place`,
`write_latest`, `prune`); the CLI, the app and core/load/sources.py read. A run is named by
its directory, by its name under paths.runs_dir(), or by "run:NAME".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlm_explorer.errors import InputError
from mlm_explorer.files import TMP_PREFIX, atomic_write_text, temp_name, written_by_live_process
from mlm_explorer.paths import runs_dir

RUN_JSON = "run.json"
LATEST = "latest"
BEST = "best"
TRAINER_STATE = "trainer_state.pt"
MODEL_CONFIG = "config.json"  # what makes a directory loadable with from_pretrained
RUN_PREFIX = "run:"
OLD_PREFIX = ".old-"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


# -- names ------------------------------------------------------------------------------------


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / f"checkpoint-{step}"


def step_of(checkpoint: Path) -> int:
    """N of checkpoint-N (0 for anything else)."""
    m = _CHECKPOINT.match(Path(checkpoint).name)
    return int(m.group(1)) if m else 0


def _numbered(run_dir: Path, marker: str) -> list[Path]:
    """checkpoint-N directories holding `marker`, oldest first."""
    run_dir = Path(run_dir)
    found = []
    for p in run_dir.iterdir() if run_dir.is_dir() else []:
        m = _CHECKPOINT.match(p.name)
        if m and (p / marker).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


# -- reading checkpoints ----------------------------------------------------------------------


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints (their trainer state written), oldest first."""
    return _numbered(run_dir, TRAINER_STATE)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint `latest` names, else the newest complete one."""
    pointer = Path(run_dir) / LATEST
    if pointer.is_file():
        named = Path(run_dir) / pointer.read_text(encoding="utf-8").strip()
        if named.name and (named / TRAINER_STATE).is_file():
            return named
    found = checkpoints(run_dir)
    return found[-1] if found else None


def model_checkpoint(run_dir: Path) -> Path | None:
    """The model to load from a run: best/ (lowest eval loss), else the checkpoint `latest`
    names, else the highest checkpoint-N/; only directories with a config.json count."""
    run_dir = Path(run_dir)
    if (run_dir / BEST / MODEL_CONFIG).is_file():
        return run_dir / BEST
    pointer = run_dir / LATEST
    if pointer.is_file():
        named = run_dir / pointer.read_text(encoding="utf-8").strip()
        if named.name and (named / MODEL_CONFIG).is_file():
            return named
    found = _numbered(run_dir, MODEL_CONFIG)
    return found[-1] if found else None


def is_run_dir(path: Path) -> bool:
    """Does `path` look like a run (a record, a pointer, best/ or a checkpoint)?"""
    path = Path(path)
    if not path.is_dir():
        return False
    return (path / RUN_JSON).is_file() or (path / LATEST).is_file() or (path / BEST).is_dir() \
        or any(_CHECKPOINT.match(p.name) for p in path.iterdir())


def split_checkpoint(target: Path) -> tuple[Path, Path | None]:
    """(run dir, checkpoint) for a run directory (its latest checkpoint, maybe None) or for one
    checkpoint-N inside a run."""
    target = Path(target)
    if (target / TRAINER_STATE).is_file():
        return target.parent, target
    return target, latest_checkpoint(target)


# -- writing checkpoints (train/run/checkpoint.py fills the temporary directory) ----------------


def temp_dir(final: Path) -> Path:
    """A fresh temporary directory beside `final`, for a save in progress."""
    tmp = temp_name(final)
    tmp.mkdir(parents=True)
    return tmp


def swap_into_place(tmp: Path, final: Path) -> None:
    """Rename tmp to final; an existing final is moved aside first and removed after, so a
    kill between the two renames leaves `.old-*`, which `prune` puts back."""
    final = Path(final)
    old = final.with_name(f"{OLD_PREFIX}{final.name}-{os.getpid()}")
    try:
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        if old.exists() and not final.exists():
            os.replace(old, final)  # the previous one back under its name
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_latest(run_dir: Path, checkpoint: Path) -> None:
    atomic_write_text(Path(run_dir) / LATEST, Path(checkpoint).name + "\n")


def prune(run_dir: Path, keep: int) -> None:
    """Keep the newest `keep` complete checkpoints; put back a best/ that a kill left moved
    aside; remove what dead saves left (`.tmp-*`, `.old-*` of other processes). Best effort:
    housekeeping never fails a save. A checkpoint is renamed to `.old-*` before it is deleted,
    so a kill halfway through leaves no half-deleted checkpoint under its own name."""
    run_dir = Path(run_dir)
    with contextlib.suppress(OSError):
        if not (run_dir / BEST).exists():  # killed between the two renames of swap_into_place
            for old in sorted(run_dir.glob(f"{OLD_PREFIX}{BEST}-*")):
                os.replace(old, run_dir / BEST)
                break
    found = checkpoints(run_dir)
    for p in found[:-keep] if keep > 0 else found:
        doomed = p.with_name(f"{OLD_PREFIX}{p.name}-{os.getpid()}")
        with contextlib.suppress(OSError):
            os.replace(p, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
    for p in run_dir.iterdir():
        if p.name.startswith((TMP_PREFIX, OLD_PREFIX)) and not written_by_live_process(p):
            with contextlib.suppress(OSError):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


# -- run.json ---------------------------------------------------------------------------------


def read_record(run_dir: Path) -> dict:
    """run.json as a dict ({} when there is none); json.JSONDecodeError when it is damaged."""
    path = Path(run_dir) / RUN_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_record(run_dir: Path, data: dict) -> None:
    atomic_write_text(Path(run_dir) / RUN_JSON, json.dumps(data, indent=1, ensure_ascii=False))


def holds_run(path: Path) -> bool:
    return (Path(path) / RUN_JSON).is_file()


def base_model(path: Path) -> str | None:
    """The model a run started from (run.json `model`), for a run or a checkpoint inside one."""
    for where in (Path(path), Path(path).parent):
        if holds_run(where):
            try:
                base = read_record(where).get("model")
            except (OSError, ValueError):
                return None
            return str(base) if base else None
    return None


def base_model_of(name_or_path: str | None) -> str | None:
    """The model a run started from, for anything that names a run: "run:NAME", a run's name, its
    directory or a checkpoint in it (None for anything else, or a run.json that does not say)."""
    if not name_or_path:
        return None
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        path = named_run(name_or_path) if name_or_path.startswith(RUN_PREFIX) else None
    return base_model(path) if path is not None else None


# -- finding and listing runs -------------------------------------------------------------------


def named_run(name: str) -> Path | None:
    """The run called `name` (or "run:NAME") under runs_dir(), if there is one."""
    name = name[len(RUN_PREFIX):] if name.startswith(RUN_PREFIX) else name
    run = runs_dir() / name
    return run if name and run.is_dir() else None


def resolve_run(name_or_path: str, option: str = "--resume") -> Path:
    """A run directory from a path, a name under runs_dir() (or "run:NAME"), or a checkpoint-N
    inside a run; `option` names the option in the error message."""
    path = Path(name_or_path).expanduser()
    found = path if path.is_dir() else named_run(name_or_path)
    if found is None:
        raise InputError(f"{option} {name_or_path}: no such run (a run directory, or a name listed by `mlm-explorer runs`)")
    return found


def new_run_dir(model: str) -> Path:
    """A fresh directory name under runs_dir(): <time>-<model>[-n]."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model.rstrip("/")).name or model).strip("-")[:40] or "model"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir, n = runs_dir() / f"{stamp}-{slug}", 1
    while run_dir.exists():
        n += 1
        run_dir = runs_dir() / f"{stamp}-{slug}-{n}"
    return run_dir


@dataclass
class RunInfo:
    """One line of `mlm-explorer runs`."""

    name: str
    path: str
    status: str  # running | finished | cancelled | failed, or interrupted (running, process gone)
    model: str | None
    objective: str | None
    step: int | None
    best_eval_loss: float | None
    best_perplexity: float | None
    best_accuracy: float | None
    best_path: str | None
    updated: float | None
    note: str | None = None  # why a run is damaged or stopped, and what to do

    def to_dict(self) -> dict:
        return asdict(self)


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: an exited process that nobody reaped yet (a zombie) is not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_run(run_dir: Path) -> RunInfo | None:
    """The run's summary (None without a run.json). A run whose status is still `running` but
    whose process is gone was killed: `interrupted`. A run.json that cannot be read: `damaged`."""
    try:
        data = read_record(run_dir)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        where = Path(run_dir) / RUN_JSON
        checkpoint = model_checkpoint(run_dir)
        then = f"its model still loads with --model {checkpoint}" if checkpoint else "it has no checkpoint"
        note = f"{where} cannot be read ({str(exc).splitlines()[0]}); {then}; put back a good run.json or remove the run"
        empty = dict.fromkeys(("model", "objective", "step", "best_eval_loss", "best_perplexity",
                               "best_accuracy", "best_path"))
        return RunInfo(name=Path(run_dir).name, path=str(run_dir), status="damaged", note=note,
                       updated=where.stat().st_mtime if where.exists() else None, **empty)
    if not data:
        return None
    status = data.get("status", "unknown")
    if status == "running" and not _alive(data.get("pid")):
        status = "interrupted"
    best = data.get("best") or {}
    return RunInfo(
        name=Path(run_dir).name, path=str(run_dir), status=status, model=data.get("model"),
        objective=data.get("objective"), step=data.get("step"), best_eval_loss=best.get("loss"),
        best_perplexity=best.get("perplexity"), best_accuracy=best.get("accuracy"),
        best_path=best.get("path"), updated=data.get("updated"), note=data.get("stopped"),
    )


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run under `root` (default: runs_dir()), newest first."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    runs = [r for r in (read_run(p) for p in root.iterdir() if holds_run(p)) if r]
    return sorted(runs, key=lambda r: r.updated or 0.0, reverse=True)


UNFINISHED = ("cancelled", "interrupted", "failed")  # the statuses `--resume` continues


def unfinished_runs(root: Path | None = None) -> list[RunInfo]:
    """The runs that stopped before their end (cancelled, killed, failed), newest first: what
    `--resume` is for."""
    return [r for r in list_runs(root) if r.status in UNFINISHED]


def load_probe_history(name_or_path: str) -> tuple[Path, dict]:
    """(run dir, run.json) of a run that has a probe history; InputError for an unknown run or a
    run without probes."""
    run_dir = resolve_run(name_or_path, "--probes")
    if not holds_run(run_dir) and holds_run(run_dir.parent):
        run_dir = run_dir.parent  # RUN/checkpoint-N or RUN/best
    try:
        data = read_record(run_dir)
    except (OSError, ValueError) as exc:
        raise InputError(f"--probes {name_or_path}: cannot read {run_dir / RUN_JSON} ({exc})") from None
    if not data:
        raise InputError(f"--probes {name_or_path}: {run_dir} is not a training run (no run.json)")
    if not data.get("probe_history"):
        raise InputError(f"--probes {name_or_path}: the run has no probe history; start a run with "
                         "--probes FILE or --probe 'TEXT|ANSWER' to watch sentences during training")
    return run_dir, data
