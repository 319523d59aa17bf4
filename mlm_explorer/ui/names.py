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


def same_model(a: str | None, b: str | None) -> bool:
    """Do two model names mean the same model? (None is the bundled default; paths compare resolved.)"""
    a, b = a or "bundled", b or "bundled"
    if a == b:
        return True
    if os.path.exists(a) and os.path.exists(b):
        return os.path.realpath(a) == os.path.realpath(b)
    return False
