"""Exact duplicate files, and lines repeated across the corpus (licences, page headers, nav).

* A file whose bytes equal an earlier file's (in path order) is left out, naming the first.
* A line is compared by its content with white space collapsed; lines shorter than
  MIN_REPEAT_CHARS are never compared ("}", "Returns:", a lone page number are not
  boilerplate). The first occurrence of a line is kept, every later one, in the same file
  or another, is dropped. A file left with nothing but repeats is reported as such.
* Line hashes are 64-bit blake2b, computed once per file at extraction and cached with
  it; hash 0 marks a blank line, 1 a line too short to compare (see `line_hash`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

MIN_REPEAT_CHARS = 20
BLANK, SHORT = 0, 1


def line_hash(line: str, _blake2b=hashlib.blake2b) -> int:
    """0 for a blank line, 1 for one too short to compare, else a 64-bit hash of its content."""
    words = line.split()
    if not words:
        return BLANK
    text = " ".join(words)
    if len(text) < MIN_REPEAT_CHARS:
        return SHORT
    h = int.from_bytes(_blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
    return h if h > SHORT else h + 2


@dataclass
class Repeats:
    """What drop_repeated_lines found."""

    lines_dropped: int = 0  # later occurrences removed
    distinct: int = 0  # distinct lines that occurred more than once
    top: list[tuple[int, int, int, int]] = field(default_factory=list)  # (count, hash, doc index, line index)


def drop_repeated_lines(hashes: list[np.ndarray], *, top: int = 3) -> tuple[list[np.ndarray], Repeats]:
    """For each file's (L,) uint64 line hashes, the indices of its lines to drop; and the counts."""
    sizes = [len(h) for h in hashes]
    flat = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    doc_of = np.repeat(np.arange(len(hashes)), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)])[:-1] if hashes else np.zeros(0, np.int64)
    compared = np.flatnonzero(flat > SHORT)  # global positions of comparable lines, in corpus order
    values = flat[compared]
    uniq, first, counts = np.unique(values, return_index=True, return_counts=True)
    keep = np.zeros(len(values), dtype=bool)
    keep[first] = True  # np.unique gives the index of each value's first occurrence
    dropped_pos = compared[~keep]
    per_doc = [np.zeros(0, np.int64) for _ in hashes]
    if len(dropped_pos):
        docs = doc_of[dropped_pos]
        for d in np.unique(docs):
            per_doc[d] = (dropped_pos[docs == d] - start[d]).astype(np.int64)
    stats = Repeats(lines_dropped=int(len(dropped_pos)), distinct=int((counts > 1).sum()))
    for i in np.argsort(-counts, kind="stable")[:top]:
        if counts[i] > 1:
            pos = int(compared[first[i]])
            d = int(doc_of[pos])
            stats.top.append((int(counts[i]), int(uniq[i]), d, pos - int(start[d])))
    return per_doc, stats


def only_repeats(hashes: np.ndarray, dropped: np.ndarray) -> bool:
    """True when a file with text has no line with content left once `dropped` are removed."""
    content = np.flatnonzero(hashes != BLANK)
    return len(content) > 0 and len(np.setdiff1d(content, dropped, assume_unique=True)) == 0
