"""Sentence pairs for next-sentence prediction, the classic BERT recipe (create_pretraining_data.py).

Each document (a file, its sentences in order) is cut into chunks of consecutive sentences
filling a block; a chunk is split at a random sentence into A and B. Half the time
(and always for a one-sentence chunk) B is replaced by sentences from a random place in
another document (the same one when there is only one, away from A), and the sentences not
used are put back for the next chunk. Label 0: B follows A; 1: B is random (Hugging Face's
convention). Pairs are `[CLS] A [SEP] B [SEP]`, token types 0/1, padded to the block width,
the longer side trimmed at its end when the pair is too long.

Pairs are drawn again for every epoch from a generator seeded by (seed, epoch), so a resumed
run sees the same pairs.
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


def _random_b(rng: random.Random, docs: list[list[np.ndarray]], d: int, avoid: range, room: int) -> list[np.ndarray]:
    """Sentences from a random place, in another document when there is one."""
    others = [k for k in range(len(docs)) if k != d and docs[k]]
    k = rng.choice(others) if others else d
    doc = docs[k]
    starts = [j for j in range(len(doc)) if k != d or j not in avoid] or [0]
    j = rng.choice(starts)
    out, n = [], 0
    while j < len(doc) and n < room:
        out.append(doc[j])
        n += len(doc[j])
        j += 1
    return out


def _trim(a: list[int], b: list[int], room: int) -> None:
    while len(a) + len(b) > room:
        (a if len(a) > len(b) else b).pop()


def build_pairs(files: list[FileTokens], *, width: int, cls_id: int, sep_id: int, pad_id: int,
                seed: int, epoch: int) -> BlockSet:
    """All pairs of one epoch as a BlockSet with token_type_ids and next_sentence_label."""
    rng = random.Random(seed * 1_000_003 + epoch)
    docs = [_segments(ft) for ft in files]
    room = width - 3  # [CLS] A [SEP] B [SEP]
    rows: list[tuple[list[int], list[int], int]] = []
    for d, doc in enumerate(docs):
        i, chunk, size = 0, [], 0
        while i < len(doc):
            chunk.append(i)
            size += len(doc[i])
            if i == len(doc) - 1 or size >= room:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [int(t) for j in chunk[:a_end] for t in doc[j]]
                if len(chunk) == 1 or rng.random() < 0.5:
                    span = range(chunk[0], chunk[-1] + 2)
                    b_parts = _random_b(rng, docs, d, span, room - len(a))
                    if not b_parts or sum(map(len, b_parts)) == 0:
                        chunk, size = [], 0
                        i += 1
                        continue
                    b, label = [int(t) for part in b_parts for t in part], 1
                    i -= len(chunk) - a_end  # unused sentences go back
                else:
                    b, label = [int(t) for j in chunk[a_end:] for t in doc[j]], 0
                _trim(a, b, room)
                if a and b:
                    rows.append((a, b, label))
                chunk, size = [], 0
            i += 1
    if not rows:
        from mlm_explorer.errors import InputError

        raise InputError("mlm+nsp needs at least two sentences of text; add more text or use --objective mlm")
    n = len(rows)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    types = torch.zeros((n, width), dtype=torch.long)
    lengths = torch.zeros(n, dtype=torch.long)
    labels = torch.zeros(n, dtype=torch.long)
    for r, (a, b, label) in enumerate(rows):
        seq = [cls_id, *a, sep_id, *b, sep_id]
        ids[r, :len(seq)] = torch.tensor(seq)
        types[r, len(a) + 2:len(seq)] = 1
        lengths[r] = len(seq)
        labels[r] = label
    return BlockSet(ids, lengths, token_type_ids=types, next_sentence_label=labels)
