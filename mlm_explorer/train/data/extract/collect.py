"""From the user's paths to the documents to train on, and an account of every other file.

    1. find the files (walk.py): folders recursively, hidden ones passed over and counted
    2. pick each file's reader (registry.py), or note why none reads it
    3. leave out exact duplicate files (same bytes as an earlier file in path order)
    4. extract each file once (documents.py; cached by content, reader and options)
    5. drop lines repeated across the corpus (dedup.py); a file left with only repeats goes
Steps 3 and 5 are skipped with `keep_duplicates`. Nothing is dropped without a record:
every file found ends up in `documents` or in `skipped`, with a reason and a message.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from mlm_explorer.errors import InputError
from mlm_explorer.train.data.extract.base import REASONS, ReadOptions, Unreadable
from mlm_explorer.train.data.extract.cache import ExtractCache, content_hash
from mlm_explorer.train.data.extract.dedup import Repeats, drop_repeated_lines, only_repeats
from mlm_explorer.train.data.extract.documents import Document, extract
from mlm_explorer.train.data.extract.registry import choose
from mlm_explorer.train.data.extract.walk import find_files


@dataclass
class Skipped:
    path: Path
    reason: str  # a key of base.REASONS
    message: str

    def to_dict(self) -> dict:
        return {"path": str(self.path), "reason": self.reason, "message": self.message}


@dataclass
class Collection:
    documents: list[Document]
    skipped: list[Skipped]
    repeats: Repeats
    repeat_examples: list[tuple[int, str]]  # (times seen, the line) of the most repeated lines
    hidden: int
    keep_duplicates: bool
    _tmp: object = field(default=None, repr=False)  # the temporary extraction cache of --no-cache

    @property
    def duplicate_files(self) -> int:
        return sum(s.reason == "duplicate" for s in self.skipped)

    def skip(self, doc: Document, reason: str, message: str) -> None:
        self.documents.remove(doc)
        self.skipped.append(Skipped(doc.path, reason, message))


def _cache(cache_root: Path | None):
    """The extraction cache, or one in a temporary folder (--no-cache, or a cache we cannot write)."""
    if cache_root is not None:
        try:
            (Path(cache_root) / "extract").mkdir(parents=True, exist_ok=True)
            return ExtractCache(cache_root), None
        except OSError:
            pass
    tmp = tempfile.TemporaryDirectory(prefix="mlm-explorer-extract-")  # removed when the collection goes
    return ExtractCache(Path(tmp.name)), tmp


def _example(doc: Document, line_index: int) -> str:
    for i, line in enumerate(doc.lines()):
        if i == line_index:
            text = " ".join(line.split())
            return text if len(text) <= 80 else text[:77] + "..."
    return ""


def collect(paths: Sequence[str | Path], *, options: ReadOptions = ReadOptions(), keep_duplicates: bool = False,
            cache_root: Path | None = None,
            progress: Callable[[int, int, Path], None] | None = None) -> Collection:
    found = find_files(paths)
    cache, tmp = _cache(cache_root)
    docs: list[Document] = []
    skipped: list[Skipped] = []
    first_of: dict[str, Path] = {}
    for i, (path, named) in enumerate(found.files):
        try:
            reader = choose(path, named=named)
            content = content_hash(path)
            if content in first_of and not keep_duplicates:
                skipped.append(Skipped(path, "duplicate", f"duplicate of {first_of[content]} (the same bytes)"))
                continue
            first_of.setdefault(content, path)
            docs.append(extract(path, reader, options, cache, content=content))
        except Unreadable as exc:
            skipped.append(Skipped(path, exc.reason, exc.message))
        except OSError as exc:
            skipped.append(Skipped(path, "unreadable", f"could not be opened ({exc.strerror or exc})"))
        if progress is not None:
            progress(i + 1, len(found.files), path)
    out = Collection(docs, skipped, Repeats(), [], found.hidden, keep_duplicates, tmp)
    if not keep_duplicates and docs:
        dropped, out.repeats = drop_repeated_lines([d.line_hashes for d in docs])
        out.repeat_examples = [(n, _example(docs[d], line)) for n, _, d, line in out.repeats.top]
        for doc, drop in zip(list(docs), dropped):
            doc.dropped = drop
            if only_repeats(doc.line_hashes, drop):
                out.skip(doc, "only-repeats", "every line in it also appears earlier in the corpus "
                         "(--keep-duplicates keeps them)")
    out.skipped.sort(key=lambda s: str(s.path))
    return out


def require_documents(collection: Collection, paths: Sequence[str | Path]) -> None:
    """One line that says why there is nothing to train on, and what to do."""
    if collection.documents:
        return
    names = ", ".join(str(p) for p in paths)
    if not collection.skipped:
        raise InputError(f"no files to train on in {names}" + (
            f" (only {collection.hidden} hidden file(s) or folder(s), which are not read)" if collection.hidden else "")
            + "; point at text, Markdown, HTML, PDF, Word, JSON lines or CSV files")
    reasons: dict[str, int] = {}
    for s in collection.skipped:
        reasons[REASONS[s.reason]] = reasons.get(REASONS[s.reason], 0) + 1
    what = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])))
    first = collection.skipped[0]
    raise InputError(f"no usable text in {names}: {len(collection.skipped)} file(s) skipped ({what}); "
                     f"e.g. {first.path.name}: {first.message}")
