"""`--html FILE` / `--svg FILE` (cli/parser.py add_exports) on the commands that show a view.

The view is built only when asked (`report/views.py`), rendered by `report/html.py` / `report/svg.py`,
written to a temporary name and renamed; the paths go to stderr, so `--json` output stays clean.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from mlm_explorer.errors import InputError


def write_text(path: str, text: str) -> Path:
    """`text` to `path` (UTF-8) through a temporary name; InputError for a path that cannot be written."""
    target = Path(path).expanduser()
    tmp = target.with_name(f".tmp-{target.name}-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def export_if_asked(args, build: Callable[[], dict]) -> None:
    """Write --html / --svg of the view `build()` returns (called only when one is asked)."""
    html_path, svg_path = getattr(args, "html", None), getattr(args, "svg", None)
    if not (html_path or svg_path):
        return
    view = build()
    if html_path:
        from mlm_explorer.report.html import render_html

        print(f"wrote {write_text(html_path, render_html(view))}", file=sys.stderr)
    if svg_path:
        from mlm_explorer.report.svg import render_svg

        print(f"wrote {write_text(svg_path, render_svg(view))}", file=sys.stderr)
