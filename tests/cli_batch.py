"""Run several `mlm-explorer` command lines in one fresh interpreter, for tests/test_cli_bad_input.py.

    python tests/cli_batch.py CASES.json RESULTS.json

CASES.json: {"id": ["predict", "text", ...], ...}. For each, `mlm_explorer.cli.main.main(argv)`
runs with file descriptors 1 and 2 sent to files (everything written there is caught: Rich,
library warnings, a traceback); RESULTS.json gets {"id": {"returncode", "stdout", "stderr"}}.
One interpreter pays for importing torch once; each command still loads its own model.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback


def run_one(argv: list[str]) -> dict:
    from mlm_explorer.cli.main import main

    saved = {fd: os.dup(fd) for fd in (1, 2)}
    files = {fd: tempfile.TemporaryFile() for fd in (1, 2)}
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, f in files.items():
        os.dup2(f.fileno(), fd)
    try:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # escaped main: the user would see this traceback
            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, old in saved.items():
            os.dup2(old, fd)
            os.close(old)
    out = {}
    for fd, f in files.items():
        f.seek(0)
        out[fd] = f.read().decode("utf-8", "replace")
    return {"returncode": code, "stdout": out[1], "stderr": out[2]}


if __name__ == "__main__":
    cases = json.loads(open(sys.argv[1], encoding="utf-8").read())
    results = {case_id: run_one(argv) for case_id, argv in cases.items()}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f)
