"""The user's documents: find them, skip binaries, read them as UTF-8 in a stream.

* Folders are searched recursively for `.txt` / `.md` files (hidden folders skipped);
  a file named explicitly is read whatever its extension.
* A file whose first 64 KiB hold a NUL byte is binary: skipped, with a warning naming it.
* Text is decoded as UTF-8; undecodable bytes become U+FFFD and are counted per file, so
  the job can say "3 bytes in notes.txt were not UTF-8 and were replaced".
* Files are read in chunks (1 MiB) that end on a line boundary, never whole.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from mlm_explorer.errors import InputError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024

_replaced = [0]  # bytes replaced by the decoder since the last reset (one reader at a time)


def _count_and_replace(exc: UnicodeDecodeError):
    _replaced[0] += exc.end - exc.start
    return ("\ufffd", exc.end)


codecs.register_error("mlm_explorer_count", _count_and_replace)


@dataclass
class Corpus:
    """What `scan` found: readable text files (sorted), and the binaries it skipped."""

    files: list[Path]
    binary: list[Path] = field(default_factory=list)
    empty: list[Path] = field(default_factory=list)

    def warnings(self) -> list[str]:
        out = []
        if self.binary:
            names = ", ".join(str(p) for p in self.binary[:10])
            more = f" and {len(self.binary) - 10} more" if len(self.binary) > 10 else ""
            out.append(f"skipped {len(self.binary)} binary file(s) (NUL bytes): {names}{more}")
        return out


def is_binary(path: Path) -> bool:
    """True when the start of the file holds a NUL byte (what git and grep look at)."""
    with open(path, "rb") as f:
        return b"\0" in f.read(SNIFF_BYTES)


def scan(paths: Sequence[str | Path]) -> Corpus:
    """Resolve files and folders into a sorted, de-duplicated list of text files."""
    if not paths:
        raise InputError("no input: name at least one text file or folder to train on")
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path).parts
                if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES and not any(s.startswith(".") for s in rel):
                    found[p.resolve()] = None
        elif path.is_file():
            found[path.resolve()] = None
        else:
            raise InputError(f"no such file or folder: {raw}")
    corpus = Corpus(files=[])
    for p in sorted(found):
        if p.stat().st_size == 0:
            corpus.empty.append(p)
        elif is_binary(p):
            corpus.binary.append(p)
        else:
            corpus.files.append(p)
    if not corpus.files:
        what = "only binary files" if corpus.binary else "no .txt or .md files with text"
        names = ", ".join(str(p) for p in paths)
        raise InputError(f"no usable text in {names}: found {what}; point at UTF-8 .txt/.md files")
    return corpus


@dataclass
class ReadStats:
    """Filled in while a file is read."""

    bytes: int = 0
    replaced_bytes: int = 0


def read_chunks(path: Path, stats: ReadStats | None = None, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Yield the file's text in pieces that end on a newline (the last piece may not).

    Decoding is incremental, so a multi-byte character split across two reads is kept whole.
    """
    stats = stats if stats is not None else ReadStats()
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="mlm_explorer_count")  # a BOM is not text
    _replaced[0] = 0
    carry = ""
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk_bytes)
            final = not data
            stats.bytes += len(data)
            text = carry + decoder.decode(data, final=final)
            if final:
                if text:
                    yield text
                break
            cut = text.rfind("\n") + 1  # keep the unfinished last line for the next round
            carry = text[cut:]
            if cut:
                yield text[:cut]
    stats.replaced_bytes = _replaced[0]


def read_text(path: Path, stats: ReadStats | None = None) -> str:
    """The whole file (tests and small files)."""
    return "".join(read_chunks(path, stats))
