"""The README's family table is the family matrix's results, rendered (no model is run here)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from families import FAMILIES
from family_matrix import OPERATIONS, RESULTS

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("family_table", ROOT / "scripts" / "family_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_results_cover_every_family_and_operation():
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    assert [f["name"] for f in results["families"]] == list(FAMILIES)
    for family in results["families"]:
        assert set(family["cells"]) == set(OPERATIONS[family["name"]])
        assert family["hub"] == list(FAMILIES[family["name"]].hub)


def test_the_readme_table_is_the_rendered_results():
    table = _script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = table.section(readme)
    assert readme[start:end] == "\n" + table.render(json.loads(RESULTS.read_text(encoding="utf-8"))), \
        "run `python scripts/family_table.py` after tests/test_families.py"
    assert table.main(["--check"]) == 0


def test_a_failing_cell_shows_in_the_table():
    table = _script()
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results["families"][0]["cells"]["attention"] = {"status": "fails", "detail": "rows sum to 0.125"}
    text = table.render(results)
    assert "✗ (1)" in text.splitlines()[2] and "(1) rows sum to 0.125" in text
