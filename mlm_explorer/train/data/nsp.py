"""Sentence pairs for next-sentence prediction, the classic BERT recipe (create_pretraining_data.py).

Each document (a file, its sentences in order) is cut into chunks of consecutive sentences
filling a block; a chunk is split at a random sentence into A and B. Half the time
(and always for a one-sentence chunk) B is replaced by sentences from a random place in
another document (the same one when there is only one, away from A), and the sentences not
used are put back for the next chunk. Label 0: B follows A; 1: B is random (Hugging Face's
convention). Pairs are `[CLS] A [SEP] B [SEP]`, token types 0/1, padded to the block width,
the longer side trimmed at its end when the pair is too long.

Pairs are drawn again for every epoch from a generator seeded by (seed, epoch), so a resumed
run sees the same pairs. Sentences stay numpy arrays throughout (the Python loop runs once per
chunk, not per token), so every rank rebuilding an epoch's pairs costs little.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from mlm_explorer.train.data.token_cache import FileTokens
from mlm_explorer.train.data.packing import BlockSet


def _segments(ft: FileTokens) -> list[np.ndarray]:
    s = ft.seg_starts
    return [ft.ids[s[i]:s[i + 1]] for i in range(len(s) - 1)]


class _Outside:
    """The sentence numbers 0..n-1 outside `avoid` (a range), as a sequence for rng.choice:
    the same pick as choosing from the list, without building it for every pair."""

    def __init__(self, n: int, avoid: range) -> None:
        self.lo, self.hi = max(0, min(avoid.start, n)), max(0, min(avoid.stop, n))  # avoided: [lo, hi)
        self.n = n

    def __len__(self) -> int:
        return self.n - (self.hi - self.lo)

    def __getitem__(self, i: int) -> int:
        return i if i < self.lo else i + (self.hi - self.lo)


def _random_b(rng: random.Random, docs: list[list[np.ndarray]], d: int, avoid: range, room: int) -> list[np.ndarray]:
    """Sentences from a random place, in another document when there is one."""
    others = [k for k in range(len(docs)) if k != d and docs[k]]
    k = rng.choice(others) if others else d
    doc = docs[k]
    starts = range(len(doc)) if k != d else _Outside(len(doc), avoid)
    j = rng.choice(starts if len(starts) else [0])
    out, n = [], 0
    while j < len(doc) and n < room:
        out.append(doc[j])
        n += len(doc[j])
        j += 1
    return out


def _trimmed(la: int, lb: int, room: int) -> tuple[int, int]:
    """Lengths of A and B after trimming the longer side at its end, one token at a time (B
    first on a tie), until the pair fits in `room`."""
    excess = la + lb - room
    if excess <= 0:
        return la, lb
    first = min(excess, abs(la - lb))  # from the longer side, down to equal lengths
    if la > lb:
        la -= first
    else:
        lb -= first
    rest = excess - first  # then alternately, B first
    return la - rest // 2, lb - (rest + 1) // 2


def build_pairs(files: list[FileTokens], *, width: int, cls_id: int, sep_id: int, pad_id: int,
                seed: int, epoch: int) -> BlockSet:
    """All pairs of one epoch as a BlockSet with token_type_ids and next_sentence_label."""
    rng = random.Random(seed * 1_000_003 + epoch)
    docs = [_segments(ft) for ft in files]
    room = width - 3  # [CLS] A [SEP] B [SEP]
    rows: list[tuple[np.ndarray, np.ndarray, int]] = []  # (A, B, label)
    for d, doc in enumerate(docs):
        i, chunk, size = 0, [], 0
        while i < len(doc):
            chunk.append(i)
            size += len(doc[i])
            if i == len(doc) - 1 or size >= room:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a_parts = [doc[j] for j in chunk[:a_end]]
                if len(chunk) == 1 or rng.random() < 0.5:
                    span = range(chunk[0], chunk[-1] + 2)
                    b_parts = _random_b(rng, docs, d, span, room - sum(map(len, a_parts)))
                    if not b_parts or sum(map(len, b_parts)) == 0:
                        chunk, size = [], 0
                        i += 1
                        continue
                    label = 1
                    i -= len(chunk) - a_end  # unused sentences go back
                else:
                    b_parts, label = [doc[j] for j in chunk[a_end:]], 0
                a, b = np.concatenate(a_parts), np.concatenate(b_parts)
                la, lb = _trimmed(len(a), len(b), room)
                if la and lb:
                    rows.append((a[:la], b[:lb], label))
                chunk, size = [], 0
            i += 1
    if not rows:
        from mlm_explorer.errors import InputError

        raise InputError("mlm+nsp needs at least two sentences of text; add more text or use --objective mlm")
    n = len(rows)
    ids = np.full((n, width), pad_id, dtype=np.int64)
    types = np.zeros((n, width), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    for r, (a, b, label) in enumerate(rows):  # [CLS] A [SEP] B [SEP]
        la, lb = len(a), len(b)
        ids[r, 0], ids[r, 1:la + 1], ids[r, la + 1] = cls_id, a, sep_id
        ids[r, la + 2:la + lb + 2], ids[r, la + lb + 2] = b, sep_id
        types[r, la + 2:la + lb + 3] = 1
        lengths[r], labels[r] = la + lb + 3, label
    return BlockSet(torch.from_numpy(ids), torch.from_numpy(lengths), token_type_ids=torch.from_numpy(types),
                    next_sentence_label=torch.from_numpy(labels))
