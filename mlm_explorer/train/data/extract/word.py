"""Word .docx: the body's paragraphs and tables in document order (python-docx).

Each Word paragraph (headings included) is a paragraph; a table row is a paragraph whose
cells are its lines (a merged cell, which python-docx repeats, counts once). Page headers,
footers and comments are not body text and are left out. A password-protected .docx is
not a zip at all but an OLE container: refused as encrypted. The old binary .doc format
is not read (the registry says: save it as .docx).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable

NAME = "docx"
VERSION = 1
CACHE_TEXT = True
SUFFIXES = {".docx", ".docm", ".dotx"}
INSTALL = "pip install python-docx"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(head: bytes) -> bool:
    """A zip that holds word/document.xml (the caller checks the zip; here: the magic)."""
    return head.startswith(b"PK\x03\x04") and b"word/" in head[:4096]


def _rows(table) -> Iterator[str]:
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell appears once per grid column it spans
                continue
            last = cell._tc
            text = cell.text.strip()
            if text:
                cells.append(text)
        if cells:
            yield "\n".join(cells) + "\n\n"


def read(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    with open(path, "rb") as f:
        if f.read(8) == OLE_MAGIC:
            raise Unreadable("encrypted", "encrypted (a password-protected Word file): save a copy without "
                             "the password, or as .docx if it is an old .doc")
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
        from docx.table import Table
    except ImportError:
        raise Unreadable("needs-extra", f"reading Word files needs the python-docx package: {INSTALL}") from None
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Unreadable("unreadable", f"not a readable .docx ({type(exc).__name__}: {str(exc)[:80]})") from None
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            yield from _rows(block)
        else:
            text = block.text.strip()
            if text:
                yield text + "\n\n"  # a soft line break (Shift+Enter) stays a line inside the paragraph
