"""How model names read in the status line."""

from __future__ import annotations

import os


def short_name(name: str | None) -> str:
    """A local path shows its last component; hub names and `run:NAME` stay as they are."""
    if not name:
        return "bundled"
    if os.sep in name and not name.startswith("run:") and (name.startswith((os.sep, ".", "~")) or os.path.exists(name)):
        return os.path.basename(name.rstrip(os.sep)) or name
    return name
