"""Find the files the user pointed at: folders recursively, files named as they are.

Hidden files and folders (.git, .venv, .DS_Store) are not looked into; how many were
passed over is counted (a hidden folder counts once, whatever it holds), so the report can
say so. A path that does not exist is an error
(one line), since it is most likely a typo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from mlm_explorer.errors import InputError


@dataclass
class Found:
    files: list[tuple[Path, bool]] = field(default_factory=list)  # (absolute path, named by the user), sorted
    hidden: int = 0  # hidden files and hidden folders passed over


def find_files(paths: Sequence[str | Path]) -> Found:
    if not paths:
        raise InputError("no input: name at least one file or folder to train on")
    named: dict[Path, bool] = {}
    found = Found()
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                found.hidden += sum(d.startswith(".") for d in dirs)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in names:
                    if name.startswith("."):
                        found.hidden += 1
                        continue
                    p = Path(root, name)
                    if p.is_file():
                        named.setdefault(p.resolve(), False)
        elif path.is_file():
            named[path.resolve()] = True
        else:
            raise InputError(f"no such file or folder: {raw}")
    found.files = sorted(named.items())
    return found
