"""PDF: the text layer, page by page (pypdf), cleaned of what the page layout added.

1. Each page's text layer is extracted in reading order; a PDF whose pages have none at all
   is a scan (refused as "scanned, no text layer": OCR it first) and an encrypted PDF that
   opens with no password is read, one that needs a password is refused.
2. Headers and footers: a line among the first or last two lines of a page that recurs on
   most pages is dropped there; in a short line (up to SHORT_WORDS words) the numbers may
   differ, so "Page 3 of 9" matches "Page 4 of 9", but two long lines must be equal.
3. Hyphenation at line ends is undone ("exam-" + "ple" -> "example") when a lower-case
   letter follows, across a page break too; typographic ligatures (ﬁ, ﬂ) become letters.
Pages are joined by a line break, not a paragraph break, so a sentence may cross them.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import Iterator

from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable

NAME = "pdf"
VERSION = 1
CACHE_TEXT = True
SUFFIXES = {".pdf"}
INSTALL = "pip install pypdf"

EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be a header / footer
SHORT_WORDS = 6
_HYPHEN_END = re.compile(r"(\w)[-\u00ad]\n(?=[a-z\u00df-\u00ff])")
_DIGITS = re.compile(r"\d+")
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})


def sniff(head: bytes) -> bool:
    return head[:1024].lstrip().startswith(b"%PDF-")


def _open(path: Path):
    try:
        import pypdf
        from pypdf.errors import DependencyError, PdfReadError
    except ImportError:
        raise Unreadable("needs-extra", f"reading PDF needs the pypdf package: {INSTALL}") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd files go nowhere useful
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError:
                raise Unreadable("needs-extra", "encrypted with AES, which pypdf reads with the cryptography "
                                 "package: pip install cryptography") from None
            if opened == pypdf.PasswordType.NOT_DECRYPTED:
                raise Unreadable("encrypted", "encrypted: it needs a password; save a copy without one "
                                 "(e.g. qpdf --decrypt --password=PW in.pdf out.pdf)")
        return reader, len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Unreadable("unreadable", f"not a readable PDF ({type(exc).__name__}: {str(exc)[:80]})") from None


def _page_lines(reader, n: int) -> list[list[str]]:
    pages = []
    for i in range(n):
        try:
            text = reader.pages[i].extract_text() or ""
        except Exception:  # noqa: BLE001 - one broken page must not lose the rest
            text = ""
        text = text.translate(_LIGATURES)
        pages.append([line.rstrip() for line in text.split("\n") if line.strip()])
    return pages


def _shape(line: str) -> str:
    words = line.split()
    text = " ".join(words).lower()
    return _DIGITS.sub("#", text) if len(words) <= SHORT_WORDS else text


def repeated_edges(pages: list[list[str]]) -> set[str]:
    """Shapes of the lines that open or close most pages (headers, footers, page numbers)."""
    with_text = [p for p in pages if p]
    if len(with_text) < 2:
        return set()
    seen = Counter()
    for lines in with_text:
        seen.update({_shape(x) for x in lines[:EDGE_LINES] + lines[-EDGE_LINES:]})
    need = max(2, math.ceil(0.6 * len(with_text)))
    return {shape for shape, count in seen.items() if count >= need}


def _drop_edges(lines: list[str], edges: set[str]) -> tuple[list[str], int]:
    top = 0
    while top < min(EDGE_LINES, len(lines)) and _shape(lines[top]) in edges:
        top += 1
    bottom = len(lines)
    while bottom > max(top, len(lines) - EDGE_LINES) and _shape(lines[bottom - 1]) in edges:
        bottom -= 1
    return lines[top:bottom], top + len(lines) - bottom


def read(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    reader, n = _open(path)
    notes.pages = n
    if n == 0:
        raise Unreadable("empty", "a PDF with no pages")
    pages = _page_lines(reader, n)
    if not any(pages):
        raise Unreadable("no-text-layer", f"scanned, no text layer ({n} page(s)): run OCR on it first "
                         "(e.g. ocrmypdf in.pdf out.pdf), then train on the result")
    notes.pages_without_text = sum(1 for p in pages if not p)
    edges = repeated_edges(pages)
    carry = ""  # the text of the previous page, held back in case a hyphenated word continues
    for lines in pages:
        kept, dropped = _drop_edges(lines, edges)
        notes.header_lines += dropped
        if not kept:
            continue
        text = _HYPHEN_END.sub(r"\1", (carry + "\n" if carry else "") + "\n".join(kept) + "\n")
        cut = text.rfind("\n", 0, len(text) - 1) + 1  # hold the page's last line
        carry, out = text[cut:-1], text[:cut]
        if out:
            yield out
    if carry:
        yield carry + "\n"
