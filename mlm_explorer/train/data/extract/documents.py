"""One file's extracted text: read once (or taken from the cache), then streamed on demand.

`extract` runs the file's reader, hashing each line as it goes (for dedup.py) and, for the
readers worth caching, writing the text to the extraction cache; a second run finds the
entry and reads nothing but the file's bytes (for its hash). `Document.chunks()` streams
the text again without the lines dropped as repeats, in pieces that end on a line, which
is what the token cache tokenises; `Document.token_key` names that exact text.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable
from mlm_explorer.train.data.extract.cache import ExtractCache, content_hash, extraction_key
from mlm_explorer.train.data.extract.decode import CHUNK_BYTES, lines_of
from mlm_explorer.train.data.extract.dedup import BLANK, line_hash
from mlm_explorer.train.data.extract.registry import Reader


@dataclass
class Document:
    path: Path
    reader: Reader
    options: ReadOptions
    content: str  # sha256 of the file's bytes
    key: str  # the extraction cache key
    notes: Notes
    line_hashes: np.ndarray  # (L,) uint64, one per line of the extracted text
    text_path: Path | None  # the cached text; None: read the source again
    cache_hit: bool
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # line indices left out

    @property
    def format(self) -> str:
        return self.reader.name

    @property
    def token_key(self) -> str:
        """Names the text `chunks()` yields: the extraction and the lines dropped from it."""
        h = hashlib.sha256(self.key.encode())
        h.update(np.ascontiguousarray(self.dropped, dtype=np.int64).tobytes())
        return h.hexdigest()

    def lines(self) -> Iterator[str]:
        """Every line of the extracted text (each ends with "\\n" but perhaps the last)."""
        if self.text_path is not None:
            with open(self.text_path, encoding="utf-8", errors="surrogatepass", newline="") as f:
                yield from lines_of(iter(lambda: f.read(CHUNK_BYTES), ""))
        else:
            yield from lines_of(self.reader.read(self.path, self.options, Notes()))

    def chunks(self, size: int = CHUNK_BYTES) -> Iterator[str]:
        """The text without the dropped lines, in pieces of about `size` characters."""
        drop = set(self.dropped.tolist()) if len(self.dropped) else ()
        piece: list[str] = []
        n = 0
        for i, line in enumerate(self.lines()):
            if i in drop:
                continue
            piece.append(line)
            n += len(line)
            if n >= size:
                yield "".join(piece)
                piece, n = [], 0
        if piece:
            yield "".join(piece)

    def text(self) -> str:
        return "".join(self.chunks())


def extract(path: Path, reader: Reader, options: ReadOptions, cache: ExtractCache, *,
            content: str | None = None) -> Document:
    """Read `path` with `reader` (or take it from `cache`); Unreadable when it gives no text.
    `content`: the sha256 of the file's bytes, when the caller has it already."""
    content = content or content_hash(path)
    key = extraction_key(content, reader.name, reader.version, options)
    entry = cache.load(key, with_text=reader.cache_text)
    hit = entry is not None
    if entry is None:
        notes = Notes()
        out, tmp = cache.new_text(key) if reader.cache_text else (None, None)
        hashes = array("Q")  # 8 bytes a line, however long the file
        try:
            try:
                for line in lines_of(reader.read(path, options, notes)):
                    hashes.append(line_hash(line))
                    if out is not None:
                        out.write(line)
            except Unreadable as exc:
                if exc.reason != "needs-extra":  # the same bytes give the same refusal; a library can be installed
                    cache.commit(key, notes, np.zeros(0, np.uint64), None, refused=(exc.reason, exc.message))
                raise
            except Exception as exc:  # noqa: BLE001 - one odd file must not stop the others
                raise Unreadable("unreadable", f"could not be read as {reader.name} "
                                 f"({type(exc).__name__}: {str(exc)[:80]})") from exc
            finally:
                if out is not None:
                    out.close()
        except BaseException:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            raise
        lines = np.frombuffer(hashes, dtype=np.uint64) if hashes else np.zeros(0, np.uint64)
        entry = cache.commit(key, notes, lines, tmp)
    if entry.refused:
        raise Unreadable(*entry.refused)
    if not np.any(entry.line_hashes != BLANK):
        what = "visible text" if reader.name == "html" else "text"
        raise Unreadable("empty", f"no {what} in it")
    return Document(path, reader, options, content, key, entry.notes, entry.line_hashes, entry.text_path, hit)
