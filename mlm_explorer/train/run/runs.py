"""The job's run.json (`RunRecord`); where it lives and how it is read: mlm_explorer/rundir.py.

run.json (written atomically: temporary file, then rename):

    name, status (running | finished | cancelled | failed), pid, created, updated,
    model, objective, device, parameters, trainable, config (every option of the job),
    data (the data summary), step, checkpoint (newest), best {step, loss, perplexity,
    accuracy, path}, history {"step": [...], "eval": [...]}, error (message, when failed),
    failed_rank (under torchrun, when another process than rank 0 failed first),
    probe_history (with --probes / --probe): [{"step": N, "results": [ProbeResult.to_dict(), ...]}, ...]
        one entry per probe evaluation (step 0 = the model before training, each evaluation,
        the end), by step; a resumed run drops the entries after its checkpoint and appends
    forgetting_history (the forgetting meter, unless --no-forgetting): [{"step": N, "n", "top1", "top5",
        "mean_rank", "median_rank", "mean_probability", "ranks": [...]}, ...] at the same steps
        (core/explain/forgetting.py meter_summary); forgetting: {"probes": FILE, "skipped": [...]}

A run whose status is still `running` but whose process is gone was killed: `rundir.list_runs`
reports it as `interrupted` (resume it with --resume).
"""

from __future__ import annotations

import time
from pathlib import Path

from mlm_explorer import rundir

SAVE_EVERY_S = 30.0  # step events reach run.json at most this often (evals, bests, probes: at once)


class RunRecord:
    """The job's run.json; a no-op on ranks other than 0 (`enabled=False`)."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, initial: dict | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.data: dict = dict(initial or {})
        self.data.setdefault("history", {"step": [], "eval": []})
        self._saved_at = 0.0

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
            rundir.write_record(self.run_dir, self.data)
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
