"""Bytes -> text in a stream: pick the encoding, count what could not be decoded.

* A byte-order mark decides (UTF-8, UTF-16 LE/BE) and is not text.
* Otherwise UTF-8, unless the first 64 KiB are not UTF-8 and hold no multi-byte UTF-8
  sequence at all: then the file is most likely an old Windows / Latin-1 text and is read
  as cp1252 (noted), rather than losing every accented letter to U+FFFD.
* Undecodable bytes become U+FFFD and are counted (`Notes.replaced_bytes`), never dropped
  silently. The counting handler is shared, so each decode call takes its own difference.
* Pieces end on a line boundary (the last may not); a character split across two reads
  is kept whole by the incremental decoder.
"""

from __future__ import annotations

import codecs
import re
import threading
from pathlib import Path
from typing import BinaryIO, Iterator

from mlm_explorer.train.data.extract.base import Notes

SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MULTIBYTE_UTF8 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
_count = threading.local()


def _count_and_replace(exc: UnicodeDecodeError):
    _count.n = getattr(_count, "n", 0) + (exc.end - exc.start)
    return ("\ufffd", exc.end)


codecs.register_error("mlm_explorer_extract_count", _count_and_replace)


def has_bom(head: bytes) -> bool:
    return any(head.startswith(bom) for bom, _ in _BOMS)


def guess_encoding(head: bytes) -> str:
    """The codec to read a file whose first bytes are `head` (see the module doc)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # only a character cut by the sniff window
            return "utf-8"
    return "utf-8" if _MULTIBYTE_UTF8.search(head) else "cp1252"


class Decoder:
    """An incremental decoder that adds what it replaced to `notes.replaced_bytes`."""

    def __init__(self, encoding: str, notes: Notes) -> None:
        self.notes = notes
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="mlm_explorer_extract_count")
        notes.encoding = {"utf-8-sig": "utf-8", "utf-16": "utf-16"}.get(encoding, encoding)

    def decode(self, data: bytes, final: bool = False) -> str:
        before = getattr(_count, "n", 0)
        text = self._decoder.decode(data, final=final)
        self.notes.replaced_bytes += getattr(_count, "n", 0) - before
        return text


def decode_stream(f: BinaryIO, notes: Notes, *, encoding: str | None = None,
                  chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Yield the text of an open binary file in pieces that end on a newline."""
    head = f.read(chunk_bytes)
    decoder = Decoder(encoding or guess_encoding(head[:SNIFF_BYTES]), notes)
    carry = ""
    data = head
    while True:
        final = not data
        text = carry + decoder.decode(data, final=final)
        if final:
            if text:
                yield text
            return
        cut = text.rfind("\n") + 1  # the unfinished last line waits for the next read
        carry = text[cut:]
        if cut:
            yield text[:cut]
        data = f.read(chunk_bytes)


def read_text_chunks(path: Path, notes: Notes, *, encoding: str | None = None,
                     chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    with open(path, "rb") as f:
        yield from decode_stream(f, notes, encoding=encoding, chunk_bytes=chunk_bytes)


def lines_of(chunks: Iterator[str]) -> Iterator[str]:
    """The lines of a stream of pieces, each with its "\\n" (the last may lack it).

    Only "\\n" ends a line (not the other characters str.splitlines knows), so that every
    pass over the same text counts the same lines; a "\\r" before it is dropped.
    """
    carry = ""
    for chunk in chunks:
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        for line in parts:
            yield (line[:-1] if line.endswith("\r") else line) + "\n"
    if carry:
        yield carry
