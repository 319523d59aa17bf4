"""The README's benchmark table is generated from benchmarks/results/*.json and must say what
those files say (benchmarks/render_readme.py). Pure file parsing: no benchmark runs here."""

import json
import random
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import render_readme  # noqa: E402
from benchkit.goals import goal_met  # noqa: E402
from benchkit.results import summarise  # noqa: E402

RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
MACHINE = ("cpu", "cores", "load_average_before", "load_average_after", "torch", "transformers", "date")
SCRIPTS = sorted(p.stem.removeprefix("bench_") for p in (ROOT / "benchmarks").glob("bench_*.py"))


def test_the_readme_table_is_what_the_results_files_say():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_readme.BEGIN in readme and render_readme.END in readme
    wanted = render_readme.replace_section(readme, render_readme.render(render_readme.load_results()))
    assert wanted == readme, "README.md's benchmark table is stale: run python benchmarks/render_readme.py"


def test_every_benchmark_keeps_results():
    names = {json.loads(p.read_text(encoding="utf-8"))["benchmark"] for p in RESULTS}
    assert set(SCRIPTS) <= names, f"no results file for {sorted(set(SCRIPTS) - names)}"


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_results_record_the_machine_and_every_round(path):
    run = json.loads(path.read_text(encoding="utf-8"))
    assert all(run["machine"].get(key) is not None for key in MACHINE), run["machine"]
    assert run["command"].startswith(".venv/bin/python benchmarks/") and run["claims"]
    for claim in run["claims"]:
        assert claim["rows"], claim["id"]
        for row in claim["rows"]:
            assert row["round"] >= 1 and isinstance(row["value"], (int, float))
        # what the file says was met is what its rows say
        assert claim["summary"] == summarise(claim)
        met = [goal_met(claim["goal"], row["value"]) for row in claim["rows"]]
        assert claim["met"] == (None if claim["goal"] is None else all(met))
        if claim["met"] is False:  # a missed goal comes with a measured profile
            assert claim["profiles"] and all(p["parts"] and p["how"] for p in claim["profiles"])


def test_check_fails_when_a_figure_changes(tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    assert render_readme.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0
    path = results / "masking.json"
    run = json.loads(path.read_text(encoding="utf-8"))
    claim = next(c for c in run["claims"] if c["goal"] is not None)
    claim["rows"][0]["value"] = 0.5  # a round that misses its goal
    path.write_text(json.dumps(run), encoding="utf-8")
    assert render_readme.main(["--check", "--readme", str(readme), "--results", str(results)]) == 1
    assert "differs" in capsys.readouterr().err
    assert render_readme.main(["--readme", str(readme), "--results", str(results)]) == 0  # regenerate
    text = readme.read_text(encoding="utf-8")
    assert "**no**: " + claim["rows"][0]["shape"] in text and "0.50x" in text
    assert render_readme.main(["--check", "--readme", str(readme), "--results", str(results)]) == 0


def test_check_fails_when_the_table_is_edited_by_hand(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(render_readme.BEGIN)
    row = text.index("| ", text.index("| --- |", start) + 1)  # the first row of figures
    readme.write_text(text[:row] + "| a typed row | — | 99x | — | yes |\n" + text[row:], encoding="utf-8")
    assert render_readme.main(["--check", "--readme", str(readme)]) == 1


def test_the_renderer_is_deterministic(tmp_path):
    """The same files give the same table, byte for byte: whatever order they are read in,
    wherever they lie, however often it runs; and rendering leaves a current README as it is."""
    runs = render_readme.load_results()
    first = render_readme.render(runs)
    assert render_readme.render(render_readme.load_results()) == first
    shuffled = list(runs)
    random.Random(0).shuffle(shuffled)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for i, run in enumerate(shuffled):  # other names, other order on disk, other key order in the files
        (elsewhere / f"{i:02d}-{run['benchmark']}.json").write_text(
            json.dumps(run, sort_keys=True), encoding="utf-8")
    assert render_readme.render(render_readme.load_results(elsewhere)) == first
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    before = readme.read_bytes()
    assert render_readme.main(["--readme", str(readme)]) == 0
    assert readme.read_bytes() == before


def test_measured_column_shows_every_round_per_shape():
    claim = {"unit": "x", "note": "", "goal": {"op": ">=", "value": 10}, "rows": [
        {"shape": "32x128", "round": 1, "value": 12.34}, {"shape": "32x128", "round": 2, "value": 9.5},
        {"shape": "256x128", "round": 1, "value": 20.0}, {"shape": "256x128", "round": 2, "value": 20.0}]}
    assert render_readme.measured(claim) == "9.50x–12.3x (32x128), 20.0x (256x128)"
    assert render_readme.met(claim) == "**no**: 32x128"
    ms = {"unit": "ms", "note": "p50 3 ms", "goal": {"op": "<", "value": 50},
          "rows": [{"shape": "p95", "round": 1, "value": 12.0}, {"shape": "p95", "round": 2, "value": 31.0}]}
    assert render_readme.measured(ms) == "12–31 ms (p95); p50 3 ms" and render_readme.met(ms) == "yes"
    close = {"unit": "x", "note": "", "goal": None, "rows": [
        {"shape": "32x128", "round": 1, "value": 1.331}, {"shape": "32x128", "round": 2, "value": 1.333}]}
    assert render_readme.measured(close) == "1.33x (32x128)"  # one figure where the rounds print alike
