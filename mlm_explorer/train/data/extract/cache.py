"""The extraction cache: a file's text and line hashes, kept by content, reader and options.

Key: sha256 over (EXTRACT_VERSION, reader name and version, the reader options, sha256 of
the file's bytes), so an edited file, a better reader or another --text-field extracts
again and nothing else does. Layout under cache_dir()/extract/<key[:2]>/:

    <key>.txt   the extracted text (UTF-8; only for readers whose extraction costs more
                than reading: PDF, HTML, Word, JSONL, CSV; plain text is read from the source)
    <key>.npz   lines: (L,) uint64 line hashes (dedup.py); meta: the reader's Notes as JSON,
                or why the reader refused the file (a scan is not read again to learn that)

Both are written to temporary names (files.temp_name) and renamed, the .npz last: an entry exists when its
.npz does, so a kill mid-write leaves no half entry. numpy loads it with allow_pickle=False.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlm_explorer.files import atomic_write, sha256_file, temp_name
from mlm_explorer.train.data.extract.base import Notes, ReadOptions

EXTRACT_VERSION = 1  # bump when the line rules (decode.lines_of, dedup.line_hash) change


def content_hash(path: Path) -> str:
    return sha256_file(path)


def extraction_key(content: str, reader_name: str, reader_version: int, options: ReadOptions) -> str:
    ident = f"x{EXTRACT_VERSION}:{reader_name}:{reader_version}:{options.key()}:{content}"
    return hashlib.sha256(ident.encode()).hexdigest()


@dataclass
class Entry:
    notes: Notes
    line_hashes: np.ndarray  # (L,) uint64
    text_path: Path | None  # the cached text, or None: read the source again
    refused: tuple[str, str] | None = None  # (reason, message) of the reader's Unreadable


class ExtractCache:
    """Entries under `root` (cache_dir() normally; a temporary folder with --no-cache)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "extract"

    def _base(self, key: str) -> Path:
        return self.root / key[:2] / key

    def text_path(self, key: str) -> Path:
        return self._base(key).with_suffix(".txt")

    def load(self, key: str, *, with_text: bool) -> Entry | None:
        base = self._base(key)
        npz, txt = base.with_suffix(".npz"), base.with_suffix(".txt")
        if not npz.exists():
            return None
        try:
            with np.load(npz, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                lines = z["lines"].astype(np.uint64, copy=False)
            refused = meta.pop("refused", None)
            notes = Notes.from_dict(meta)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is extracted again
        if refused:
            return Entry(notes, lines, None, (refused[0], refused[1]))
        if with_text and not txt.exists():
            return None
        return Entry(notes, lines, txt if with_text else None)

    def new_text(self, key: str):
        """An open temporary text file beside the entry; `commit` renames it into place."""
        final = self.text_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(final)
        return open(tmp, "x", encoding="utf-8", errors="surrogatepass", newline=""), tmp

    def commit(self, key: str, notes: Notes, lines: np.ndarray, text_tmp: Path | None, *,
               refused: tuple[str, str] | None = None) -> Entry:
        base = self._base(key)
        base.parent.mkdir(parents=True, exist_ok=True)
        txt = base.with_suffix(".txt")
        if text_tmp is not None:
            os.replace(text_tmp, txt)  # the text first: an entry is complete once its .npz exists
        try:
            with atomic_write(base.with_suffix(".npz")) as f:
                meta = {**notes.to_dict(), **({"refused": list(refused)} if refused else {})}
                np.savez(f, lines=lines, meta=np.array(json.dumps(meta)))
        except OSError:  # a cache that cannot be written costs time next run, nothing else
            pass
        return Entry(notes, lines, txt if text_tmp is not None else None, refused)
