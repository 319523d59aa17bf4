"""Runs on disk: `run.json` written by the job (RunRecord) and read by `mlm-explorer runs`.

run.json (written atomically: temporary file, then rename):

    name, status (running | finished | cancelled | failed), pid, created, updated,
    model, objective, device, parameters, trainable, config (every option of the job),
    data (the data summary), step, checkpoint (newest), best {step, loss, perplexity,
    accuracy, path}, history {"step": [...], "eval": [...]}, error (message, when failed),
    probe_history (with --probes / --probe): [{"step": N, "results": [ProbeResult.to_dict(), ...]}, ...]
        one entry per probe evaluation (step 0 = the model before training, each evaluation,
        the end), by step; a resumed run drops the entries after its checkpoint and appends
    forgetting_history (the forgetting meter, unless --no-forgetting): [{"step": N, "n", "top1", "top5",
        "mean_rank", "median_rank", "mean_probability", "ranks": [...]}, ...] at the same steps
        (core/explain/forgetting.py meter_summary); forgetting: {"probes": FILE, "skipped": [...]}

A run whose status is still `running` but whose process is gone was killed: `list_runs`
reports it as `interrupted` (resume it with --resume).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mlm_explorer.paths import runs_dir

RUN_JSON = "run.json"
SAVE_EVERY_S = 30.0


def _atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    os.replace(tmp, path)


class RunRecord:
    """The job's run.json; a no-op on ranks other than 0 (`enabled=False`)."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, initial: dict | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.data: dict = dict(initial or {})
        self.data.setdefault("history", {"step": [], "eval": []})
        self._saved_at = 0.0

    @classmethod
    def load(cls, run_dir: Path) -> dict:
        path = Path(run_dir) / RUN_JSON
        return json.loads(path.read_text()) if path.exists() else {}

    def truncate(self, step: int) -> None:
        """On resume: forget history after the checkpoint's step."""
        for key in ("step", "eval"):
            self.data["history"][key] = [e for e in self.data["history"].get(key, []) if e["step"] <= step]
        for key in ("probe_history", "forgetting_history"):
            if key in self.data:
                self.data[key] = [e for e in self.data[key] if e["step"] <= step]

    def save(self) -> None:
        if not self.enabled:
            return
        self.data["updated"] = time.time()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            _atomic_json(self.run_dir / RUN_JSON, self.data)
        except OSError:
            pass  # a full disk shows up when the checkpoint is written, with a clear message
        self._saved_at = time.monotonic()

    def update(self, **fields) -> None:
        self.data.update(fields)
        self.save()

    def add_step(self, event: dict) -> None:
        self.data["history"]["step"].append({k: event[k] for k in ("step", "loss", "lr", "tokens_per_s") if k in event})
        self.data["step"] = event["step"]
        if time.monotonic() - self._saved_at > SAVE_EVERY_S:
            self.save()

    def add_eval(self, result: dict) -> None:
        self.data["history"]["eval"].append(result)
        self.save()

    def has_probes_at(self, step: int) -> bool:
        return any(e["step"] == step for e in self.data.get("probe_history", []))

    def add_probes(self, step: int, results: list[dict]) -> None:
        """Record one probe evaluation (replacing an earlier one at the same step) and save."""
        history = [e for e in self.data.get("probe_history", []) if e["step"] != step]
        history.append({"step": step, "results": results})
        self.data["probe_history"] = sorted(history, key=lambda e: e["step"])
        self.save()

    def has_forgetting_at(self, step: int) -> bool:
        return any(e["step"] == step for e in self.data.get("forgetting_history", []))

    def add_forgetting(self, step: int, summary: dict) -> None:
        """Record one forgetting-meter reading (replacing an earlier one at the same step) and save."""
        history = [e for e in self.data.get("forgetting_history", []) if e["step"] != step]
        history.append({"step": step, **summary})
        self.data["forgetting_history"] = sorted(history, key=lambda e: e["step"])
        self.save()

    def set_best(self, best: dict) -> None:
        self.data["best"] = best
        self.save()


@dataclass
class RunInfo:
    name: str
    path: str
    status: str
    model: str | None
    objective: str | None
    step: int | None
    best_eval_loss: float | None
    best_perplexity: float | None
    best_accuracy: float | None
    best_path: str | None
    updated: float | None

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
    return True


def read_run(run_dir: Path) -> RunInfo | None:
    try:
        data = RunRecord.load(run_dir)
    except (OSError, json.JSONDecodeError):
        return None
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
        best_path=best.get("path"), updated=data.get("updated"),
    )


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run under `root` (default: runs_dir()), newest first."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    runs = [r for r in (read_run(p) for p in root.iterdir() if (p / RUN_JSON).is_file()) if r]
    return sorted(runs, key=lambda r: r.updated or 0.0, reverse=True)


def resolve_run(name_or_path: str, option: str = "--resume") -> Path:
    """A run directory from a path, a name under runs_dir() (or "run:NAME"), or a checkpoint-N
    inside a run; `option` names the option in the error message."""
    from mlm_explorer.errors import InputError

    p = Path(name_or_path).expanduser()
    name = name_or_path[len("run:"):] if name_or_path.startswith("run:") else name_or_path
    for cand in (p, runs_dir() / name):
        if cand.is_dir():
            return cand
    raise InputError(f"{option} {name_or_path}: no such run (a run directory, or a name listed by `mlm-explorer runs`)")


def load_probe_history(name_or_path: str) -> tuple[Path, dict]:
    """(run dir, run.json) of a run that has a probe history; InputError for an unknown run or a
    run without probes. The history is run.json's `probe_history` (see the module docstring)."""
    from mlm_explorer.errors import InputError

    run_dir = resolve_run(name_or_path, "--probes")
    if not (run_dir / RUN_JSON).is_file() and (run_dir.parent / RUN_JSON).is_file():
        run_dir = run_dir.parent  # RUN/checkpoint-N or RUN/best
    try:
        data = RunRecord.load(run_dir)
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"--probes {name_or_path}: cannot read {run_dir / RUN_JSON} ({exc})") from None
    if not data:
        raise InputError(f"--probes {name_or_path}: {run_dir} is not a training run (no run.json)")
    if not data.get("probe_history"):
        raise InputError(f"--probes {name_or_path}: the run has no probe history; start a run with "
                         "--probes FILE or --probe 'TEXT|ANSWER' to watch sentences during training")
    return run_dir, data
