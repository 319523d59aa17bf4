"""How a command's answer leaves the process: JSON for scripts (`--json`) or Rich text for
people (cli/render.py), and the exit codes every command shares.

Imported by every command module (main, probes, train), so none of them imports another.
"""

from __future__ import annotations

import json
import sys
from typing import Callable

EXIT_USER_ERROR = 2  # bad input: one line on stderr that says what to do
EXIT_INTERRUPTED = 130  # Ctrl+C (a training job saves its checkpoint first)


def emit(args, payload: dict, render: Callable[[], None]) -> None:
    """Print `payload` as JSON when the command was given `--json`, else call `render()`."""
    if getattr(args, "json", False):
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        render()


def note(message: str) -> None:
    """A remark on stderr that changes nothing about the answer (a value clamped, a count cut)."""
    print(f"note: {message}", file=sys.stderr)
