"""Which reader reads a file: by its suffix, else by its first bytes; or why none does.

A file found in a folder is read when its suffix is one a reader knows, or its first bytes
say PDF, Word or HTML; other text files found in a folder are listed as unsupported (a
folder holds package-lock.json and LICENSE as often as prose). A file named on the command
line is read as plain text whatever its name, when it is text.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from mlm_explorer.train.data.extract import html_page, pdf, plain, records, word
from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable
from mlm_explorer.train.data.extract.decode import SNIFF_BYTES, has_bom


@dataclass(frozen=True)
class Reader:
    name: str  # the format, as reports show it
    version: int
    cache_text: bool  # keep the extracted text in the cache (extraction costs more than reading)
    read: Callable[[Path, ReadOptions, Notes], Iterator[str]]


TEXT = Reader(plain.NAME, plain.VERSION, plain.CACHE_TEXT, plain.read)
HTML = Reader(html_page.NAME, html_page.VERSION, html_page.CACHE_TEXT, html_page.read)
PDF = Reader(pdf.NAME, pdf.VERSION, pdf.CACHE_TEXT, pdf.read)
DOCX = Reader(word.NAME, word.VERSION, word.CACHE_TEXT, word.read)
JSONL = Reader("jsonl", records.VERSION, records.CACHE_TEXT, records.read_jsonl)
CSV = Reader("csv", records.VERSION, records.CACHE_TEXT, records.read_csv)

BY_SUFFIX = {
    **dict.fromkeys(plain.SUFFIXES, TEXT), **dict.fromkeys(html_page.SUFFIXES, HTML),
    **dict.fromkeys(pdf.SUFFIXES, PDF), **dict.fromkeys(word.SUFFIXES, DOCX),
    **dict.fromkeys(records.JSONL_SUFFIXES, JSONL), **dict.fromkeys(records.CSV_SUFFIXES, CSV),
}
# what to do with the documents people have that no reader reads
HINTS = {
    ".doc": "the old Word format: save it as .docx",
    ".rtf": "save it as .docx or .txt",
    ".odt": "OpenDocument text: save it as .docx",
    ".pages": "save it as .docx",
    ".epub": "an e-book: convert it to .txt or .html first (e.g. pandoc book.epub -o book.html)",
    ".pptx": "a slide deck: export its text (or save as PDF)",
    ".ppt": "a slide deck: export its text (or save as PDF)",
    ".xlsx": "a spreadsheet: save it as .csv and name the column with --text-field",
    ".xls": "a spreadsheet: save it as .csv and name the column with --text-field",
    ".ods": "a spreadsheet: save it as .csv and name the column with --text-field",
    ".json": "JSON: one record per line (.jsonl) is read, with --text-field naming the text",
}


def _is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "word/document.xml" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _suffix(path: Path) -> str:
    return path.suffix.lower() or "(no extension)"


def choose(path: Path, *, named: bool) -> Reader:
    """The reader for `path`, or Unreadable; `named`: the user named this file itself."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise Unreadable("empty", "an empty file")
    suffix = path.suffix.lower()
    reader = BY_SUFFIX.get(suffix)
    if reader is None:
        if pdf.sniff(head):
            reader = PDF
        elif head.startswith(b"PK\x03\x04") and _is_docx(path):
            reader = DOCX
        elif html_page.sniff(head):
            reader = HTML
    binary = b"\0" in head and not has_bom(head)
    if reader in (TEXT, HTML, JSONL, CSV) and binary:
        raise Unreadable("binary", "binary (NUL bytes) though named like text")
    if reader is not None:
        return reader
    if suffix in HINTS:
        raise Unreadable("unsupported", f"unsupported type {suffix}: {HINTS[suffix]}")
    if binary:
        raise Unreadable("binary", f"binary ({_suffix(path)})")
    if named:
        return TEXT
    raise Unreadable("unsupported", f"unsupported type {_suffix(path)}: name the file itself to read it as plain text")
