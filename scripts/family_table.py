"""Write the README's family x operation support table from the family matrix's results.

tests/test_families.py runs tiny random models of every family through the core and the CLI
and, after a full run, writes docs/families.json; this script turns that file into the table
between the README's `<!-- families:begin -->` and `<!-- families:end -->` markers, so the
table is never typed by hand.

    python scripts/family_table.py           # rewrite the README's table
    python scripts/family_table.py --check   # exit 1 when the README's table is not the results'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "families.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- families:begin -->", "<!-- families:end -->"
MARKS = {"ok": "✓", "refused": "refused", "fails": "✗"}
COLUMNS = ("predict", "joint", "candidates", "score", "mask", "words", "attention", "saliency", "diff",
           "infill", "compare", "train")


def render(results: dict) -> str:
    """The markdown between the markers: the table, then its notes (numbered as they first appear)."""
    notes: list[str] = []

    def mark(cell: dict | None) -> str:
        if cell is None:
            return "—"
        text = MARKS.get(cell["status"], cell["status"])
        detail = cell.get("detail")
        if detail:
            if detail not in notes:
                notes.append(detail)
            text += f" ({notes.index(detail) + 1})"
        return text

    head = ["family", "tokenizer", *COLUMNS, "stands for"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for family in results["families"]:
        cells = family["cells"]
        if cells.get("load", {}).get("status") != "ok":
            row = [mark(cells.get("load"))] * len(COLUMNS)
        else:
            row = [mark(cells.get(op)) for op in COLUMNS]
        hub = ", ".join(f"`{h}`" for h in family["hub"])
        lines.append(f"| {family['name']} | {family['tokenizer']} | " + " | ".join(row) + f" | {hub} |")
    lines.append("")
    lines += [f"({n}) {text}" for n, text in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def section(readme: str) -> tuple[int, int]:
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{README.name} has no {BEGIN} ... {END} markers")
    return start + len(BEGIN), end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the README's table is up to date")
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    start, end = section(readme)
    table = "\n" + render(results)
    if readme[start:end] == table:
        return 0
    if args.check:
        print(f"{README.name}'s family table differs from {RESULTS.relative_to(ROOT)}: "
              "run `python scripts/family_table.py`", file=sys.stderr)
        return 1
    README.write_text(readme[:start] + table + readme[end:], encoding="utf-8")
    print(f"wrote the family table of {README.name} from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
