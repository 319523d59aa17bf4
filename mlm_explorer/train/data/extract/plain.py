"""Plain text: prose, Markdown, reStructuredText, LaTeX, Org, source code, read as they are.

Markup is kept (a model fine-tuned on your .tex files should know LaTeX). The text is
streamed, so a file of any size is never held whole; the decoding rules are in decode.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from mlm_explorer.train.data.extract.base import Notes, ReadOptions
from mlm_explorer.train.data.extract.decode import read_text_chunks

NAME = "text"
VERSION = 1
CACHE_TEXT = False  # reading it again is as fast as reading a cached copy

PROSE = {".txt", ".text", ".md", ".markdown", ".rst", ".tex", ".org", ".adoc", ".asciidoc", ".textile", ".wiki"}
SOURCE = {
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".scala", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".pl", ".lua", ".r", ".jl", ".swift", ".m",
    ".hs", ".ml", ".ex", ".exs", ".erl", ".clj", ".lisp", ".el", ".sh", ".bash", ".zsh", ".sql", ".css",
    ".scss", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".bib", ".sty", ".cls",
}
SUFFIXES = PROSE | SOURCE


def read(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    yield from read_text_chunks(path, notes)
