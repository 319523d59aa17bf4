"""The bundled infiller's quality table in README.md and RECIPE.md is what its evaluation printed
for the files that ship (scripts/bundled/render_quality.py, scripts/bundled/results/infill.json).
Pure file parsing: no model runs here (tests/test_bundled_infiller.py measures the spans again)."""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts" / "bundled"))

import render_quality  # noqa: E402

from mlm_explorer.files import sha256_file  # noqa: E402


def test_both_tables_are_what_the_results_file_says():
    table = render_quality.render(render_quality.load())
    for doc in render_quality.DOCS:
        text = doc.read_text(encoding="utf-8")
        assert render_quality.BEGIN in text and render_quality.END in text, doc
        assert render_quality.replace_section(text, table) == text, f"{doc.name} is stale: run python scripts/bundled/render_quality.py"


def test_the_results_belong_to_the_shipped_files():
    """A retrained infiller (or encoder) without its evaluation run again fails here."""
    run = render_quality.load()
    assert set(run["files"]) == {"mlm_explorer/assets/bundled-infiller/infiller.safetensors",
                                 "mlm_explorer/assets/bundled/head.safetensors"}
    for name, digest in run["files"].items():
        assert sha256_file(ROOT / name) == digest, f"{name} changed since scripts/bundled/results/infill.json was measured"
    info = json.loads((ROOT / "mlm_explorer/assets/bundled-infiller/infiller.json").read_text(encoding="utf-8"))
    assert run["step"] == info["step"]
    assert run["command"].startswith("python scripts/bundled/eval_infill.py bundled-infiller")


def test_the_figures_are_the_rows_counted():
    """The summary figures are the share of the rows the file holds (no figure typed in by hand)."""
    run = render_quality.load()
    c, s = run["cloze"], run["spans"]
    assert c["n"] == len(c["rows"]) == 135 and s["n"] == len(s["rows"]) == 59
    assert c["infill_top1"] == sum(r["infill_top1"] for r in c["rows"]) / c["n"]
    assert c["encoder_top5"] == sum(r["encoder_top5_ok"] for r in c["rows"]) / c["n"]
    assert s["infill"] == sum(r["infill_ok"] for r in s["rows"]) / s["n"]
    assert s["encoder_best_1_3"] == sum(r["encoder_ok"] for r in s["rows"]) / s["n"]


def test_check_fails_when_a_figure_changes_or_is_typed(tmp_path, capsys):
    results = tmp_path / "infill.json"
    shutil.copy(render_quality.RESULTS, results)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    args = ["--results", str(results), "--doc", str(readme)]
    assert render_quality.main(["--check", *args]) == 0
    run = json.loads(results.read_text(encoding="utf-8"))
    run["spans"]["infill"] = 0.5
    results.write_text(json.dumps(run), encoding="utf-8")
    assert render_quality.main(["--check", *args]) == 1
    assert "differs" in capsys.readouterr().err
    assert render_quality.main(args) == 0 and "| 50.0% |" in readme.read_text(encoding="utf-8")
    assert render_quality.main(["--check", *args]) == 0
    text = readme.read_text(encoding="utf-8").replace("| 50.0% |", "| 51.0% |")
    readme.write_text(text, encoding="utf-8")
    assert render_quality.main(["--check", *args]) == 1
