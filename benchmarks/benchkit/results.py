"""The results file every benchmark writes: `benchmarks/results/NAME.json` (NAME-cuda.json on a GPU).

One file holds one run: the machine (`machine.machine_info`: CPU, cores, load average before
and after, versions, date), the settings, and for each claim every measured value (one per
shape and round), its goal, whether every round met it, and where a goal was missed, a
profile of where the time went. `render_readme.py` builds the README's table from these files
only, so the README says what the last run measured.

The file is written once, at the end of a run, atomically: a run that fails keeps the last
good results.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

from benchkit.goals import goal_met
from benchkit.machine import load_average, machine_info

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"
SCHEMA = 1


class Results:
    def __init__(self, name: str, *, script: str, command: str, device: str = "cpu", settings: dict | None = None,
                 gpu: str | None = None) -> None:
        self.name, self.device = name, device
        script = f"benchmarks/{Path(script).name}"  # as run from the repository's root
        self.data = {"schema": SCHEMA, "benchmark": name, "script": script, "command": command, "device": device,
                     "machine": machine_info(gpu), "settings": dict(settings or {}), "claims": [], "figures": {}}
        self._claims: dict[str, dict] = {}

    # ---- what is claimed ------------------------------------------------------------------
    def claim(self, cid: str, *, title: str, anchor: str, unit: str = "x", goal: dict | None = None,
              note: str = "") -> None:
        """Declare a claim; `goal` like {"op": ">=", "value": 10} (None: a figure without a goal)."""
        entry = {"id": cid, "title": title, "anchor": anchor, "unit": unit, "goal": goal, "note": note,
                 "rows": [], "profiles": []}
        self._claims[cid] = entry
        self.data["claims"].append(entry)

    def add(self, cid: str, shape: str, round_: int, value: float, **figures) -> bool | None:
        """One measured value of claim `cid` at `shape` in round `round_` (1-based); returns
        whether it meets the goal. `figures`: what else that measurement saw (times, spreads)."""
        entry = self._claims[cid]
        row = {"shape": shape, "round": round_, "value": round(float(value), 4), **{k: _plain(v) for k, v in figures.items()}}
        entry["rows"].append(row)
        return goal_met(entry["goal"], value)

    def profile(self, cid: str, shape: str, parts: list[tuple[str, float]], *, how: str) -> None:
        """Where the time of one call of claim `cid` at `shape` goes: (what, milliseconds) parts,
        largest first, and `how` they were measured (e.g. "torch.profiler self CPU time")."""
        total = sum(ms for _, ms in parts) or 1.0
        self._claims[cid]["profiles"].append({
            "shape": shape, "how": how,
            "parts": [{"what": what, "ms": round(ms, 4), "share": round(100 * ms / total, 1)} for what, ms in parts]})

    def note(self, cid: str, text: str) -> None:
        """A short line the README shows after claim `cid`'s values (figures from this run)."""
        self._claims[cid]["note"] = text

    def rows(self, cid: str) -> list[dict]:
        return self._claims[cid]["rows"]

    def figure(self, key: str, value) -> None:
        """A free-form figure of the run (e.g. the first frame's time), kept in "figures"."""
        self.data["figures"][key] = _plain(value)

    # ---- what was measured ------------------------------------------------------------------
    def unmet(self) -> list[tuple[str, str]]:
        """(claim, shape) pairs where some round missed the goal."""
        return [(c["id"], shape) for c in self.data["claims"] for shape, s in summarise(c).items() if s["met"] is False]

    def write(self, directory: Path | str | None = None) -> Path:
        directory = Path(directory) if directory is not None else RESULTS_DIR
        self.data["machine"]["load_average_after"] = load_average()
        for c in self.data["claims"]:
            c["summary"] = summarise(c)
            met = [s["met"] for s in c["summary"].values()]
            c["met"] = None if c["goal"] is None or not met else all(met)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}{'' if self.device == 'cpu' else '-' + self.device}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path


def summarise(claim: dict) -> dict[str, dict]:
    """Per shape, in the order first measured: min, median, max over rounds, the number of
    rounds, and whether every round met the goal (None without a goal)."""
    shapes: dict[str, list[float]] = {}
    for row in claim["rows"]:
        shapes.setdefault(row["shape"], []).append(row["value"])
    out = {}
    for shape, values in shapes.items():
        met = [goal_met(claim["goal"], v) for v in values]
        out[shape] = {"min": min(values), "median": statistics.median(values), "max": max(values),
                      "rounds": len(values), "met": None if claim["goal"] is None else all(met)}
    return out


def _plain(value):
    """Floats rounded for a readable file; tuples as lists."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
