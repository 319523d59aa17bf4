"""The family matrix's bookkeeping: which operation each family passed, written for the README.

Every cell of tests/test_families.py runs inside `cell(family, operation)`: an "ok" when the
block ends (with the `note` the test left, if any), a "fails" (with the error's first line)
when it raises, "refused" when it records a one-line refusal itself. When a session has run every cell of the matrix, the results go to
`docs/families.json`, from which `scripts/family_table.py` writes the README's support table
(a test checks that the two agree).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from families import ENCODERS, FAMILIES, SEQ2SEQ

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "families.json"
ENCODER_OPS = ("load", "predict", "joint", "candidates", "score", "mask", "words", "attention", "saliency", "diff",
               "train")
SEQ2SEQ_OPS = ("load", "infill", "compare", "train")
OPERATIONS = {name: ENCODER_OPS for name in ENCODERS} | {name: SEQ2SEQ_OPS for name in SEQ2SEQ}


class Matrix:
    def __init__(self) -> None:
        self.cells: dict[str, dict[str, dict]] = {}
        self.notes: dict[tuple[str, str], str] = {}

    @contextlib.contextmanager
    def cell(self, family: str, operation: str):
        assert operation in OPERATIONS[family], (family, operation)
        try:
            yield self
        except BaseException as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.cells.setdefault(family, {})[operation] = {"status": "fails", "detail": first[:200]}
            raise
        done = {"status": "ok"}
        if (family, operation) in self.notes:
            done["detail"] = self.notes[family, operation]
        self.cells.setdefault(family, {}).setdefault(operation, done)

    def note(self, family: str, operation: str, text: str) -> None:
        """What the README should say beside a passing cell ("pooled layers left out")."""
        self.notes[family, operation] = text

    def refused(self, family: str, operation: str, message: str) -> None:
        self.cells.setdefault(family, {})[operation] = {"status": "refused", "detail": message}

    def complete(self) -> bool:
        return all(op in self.cells.get(f, {}) for f, ops in OPERATIONS.items() for op in ops)

    def to_dict(self) -> dict:
        return {
            "operations": {"encoder": list(ENCODER_OPS), "seq2seq": list(SEQ2SEQ_OPS)},
            "families": [
                {"name": f.name, "kind": f.kind, "tokenizer": f.style, "hub": list(f.hub),
                 "cells": {op: self.cells[f.name][op] for op in OPERATIONS[f.name]}}
                for f in FAMILIES.values()
            ],
        }

    def write(self, path: Path = RESULTS) -> bool:
        """Write the results when every cell ran; False (nothing written) for a partial run."""
        if not self.complete():
            return False
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return True
