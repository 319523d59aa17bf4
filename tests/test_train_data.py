"""Packing, the hold-out and sentence pairs (reading files and the caches: test_extract_*.py)."""

from __future__ import annotations

import numpy as np
import pytest

from mlm_explorer.train.data import token_cache as data
from mlm_explorer.train.data import packing
from mlm_explorer.train.data.nsp import build_pairs


@pytest.fixture(scope="module")
def bert_tok(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert_dir))


def _ft(ids, starts=None):
    ids = np.asarray(ids, dtype=np.int32)
    starts = np.asarray(starts if starts is not None else [0, len(ids)], dtype=np.int64)
    return data.FileTokens(path=None, ids=ids, seg_starts=starts, seg_para=np.zeros(len(starts) - 1, np.int32),
                           replaced_bytes=0, cache_hit=False)


def test_pack_keeps_the_tail_with_specials_in_place(bert_tok):
    layout = packing.special_layout(bert_tok, 8)
    assert layout.prefix == (bert_tok.cls_token_id,) and layout.suffix == (bert_tok.sep_token_id,)
    blocks = packing.pack([_ft(range(10, 20)), _ft(range(30, 33))], layout)  # 10 + [SEP] + 3 = 14 tokens
    cls, sep, pad = bert_tok.cls_token_id, bert_tok.sep_token_id, bert_tok.pad_token_id
    assert blocks.input_ids.tolist() == [
        [cls, 10, 11, 12, 13, 14, 15, sep],
        [cls, 16, 17, 18, 19, sep, 30, sep],
        [cls, 31, 32, sep, pad, pad, pad, pad],
    ]
    assert blocks.lengths.tolist() == [8, 8, 4]


def test_holdout_by_file_is_deterministic_and_falls_back_to_blocks(bert_tok):
    layout = packing.special_layout(bert_tok, 8)
    files = [_ft(range(10, 10 + n)) for n in (30, 4, 28, 26, 5, 29)]
    a = packing.split(files, layout, eval_fraction=0.1, seed=1)
    b = packing.split(files, layout, eval_fraction=0.1, seed=1)
    assert a[2]["holdout"] == "files" and a[2]["eval_files"] == b[2]["eval_files"]
    assert a[0].input_ids.equal(b[0].input_ids) and len(a[1]) >= 1
    one = packing.split([_ft(range(10, 60))], layout, eval_fraction=0.05, seed=0)
    assert one[2]["holdout"] == "blocks" and len(one[1]) == 1 and len(one[0]) == one[2]["train_blocks"]
    tiny = packing.split([_ft([10, 11])], layout, eval_fraction=0.05, seed=0)
    assert tiny[2]["holdout"] == "none" and len(tiny[0]) == len(tiny[1]) == 1


def test_nsp_pairs_half_random_with_segments():
    files = [_ft(range(100 * d, 100 * d + 60), list(range(0, 61, 6))) for d in range(1, 5)]
    pairs = build_pairs(files, width=32, cls_id=2, sep_id=3, pad_id=0, seed=0, epoch=0)
    labels = pairs.next_sentence_label.float()
    assert 0.25 < labels.mean() < 0.75
    row = pairs.input_ids[0].tolist()
    n = int(pairs.lengths[0])
    assert row[0] == 2 and row[n - 1] == 3 and row.count(3) == 2 and all(t == 0 for t in row[n:])
    types = pairs.token_type_ids[0].tolist()
    assert types[: row.index(3) + 1] == [0] * (row.index(3) + 1) and set(types[row.index(3) + 1:n]) == {1}
    again = build_pairs(files, width=32, cls_id=2, sep_id=3, pad_id=0, seed=0, epoch=0)
    assert again.input_ids.equal(pairs.input_ids)


def _reference_pairs(files, *, width, seed, epoch):
    """The earlier pure-Python build_pairs (token lists, pop-one-at-a-time trimming): the rows it
    made, as (ids, token types, label) lists, for the equivalence test below."""
    import random

    from mlm_explorer.train.data.nsp import _segments

    def _random_b(rng, docs, d, avoid, room):
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

    rng = random.Random(seed * 1_000_003 + epoch)
    docs = [_segments(ft) for ft in files]
    room = width - 3
    rows = []
    for d, doc in enumerate(docs):
        i, chunk, size = 0, [], 0
        while i < len(doc):
            chunk.append(i)
            size += len(doc[i])
            if i == len(doc) - 1 or size >= room:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [int(t) for j in chunk[:a_end] for t in doc[j]]
                if len(chunk) == 1 or rng.random() < 0.5:
                    b_parts = _random_b(rng, docs, d, range(chunk[0], chunk[-1] + 2), room - len(a))
                    if not b_parts or sum(map(len, b_parts)) == 0:
                        chunk, size = [], 0
                        i += 1
                        continue
                    b, label = [int(t) for part in b_parts for t in part], 1
                    i -= len(chunk) - a_end
                else:
                    b, label = [int(t) for j in chunk[a_end:] for t in doc[j]], 0
                while len(a) + len(b) > room:
                    (a if len(a) > len(b) else b).pop()
                if a and b:
                    rows.append(([2, *a, 3, *b, 3], [0] * (len(a) + 2) + [1] * (len(b) + 1), label))
                chunk, size = [], 0
            i += 1
    return rows


@pytest.mark.parametrize("seed, documents", [(0, 6), (1, 6), (2, 1), (3, 1)])
def test_nsp_pairs_are_the_token_by_token_recipe(seed, documents):
    """Array-based pairs equal the earlier token-list code's, row for row: random sentence
    lengths, long sentences that force trimming (both sides, ties), one-sentence documents, and
    a single document (random B from the same document, away from A)."""
    import random

    rng = random.Random(seed)
    files = []
    for d in range(documents):
        lengths = [rng.choice([1, 2, 5, 9, 17, 40]) for _ in range(rng.randint(1, 12) if documents > 1 else 60)]
        starts = [0]
        for n in lengths:
            starts.append(starts[-1] + n)
        files.append(_ft(range(1000 * (d + 1), 1000 * (d + 1) + starts[-1]), starts))
    for width in (12, 32):
        pairs = build_pairs(files, width=width, cls_id=2, sep_id=3, pad_id=0, seed=seed, epoch=1)
        expected = _reference_pairs(files, width=width, seed=seed, epoch=1)
        assert len(pairs) == len(expected)
        for r, (ids, types, label) in enumerate(expected):
            n = int(pairs.lengths[r])
            assert pairs.input_ids[r, :n].tolist() == ids and pairs.token_type_ids[r, :n].tolist() == types
            assert int(pairs.next_sentence_label[r]) == label and not pairs.input_ids[r, n:].any()


def test_sentences_outside_a_span_are_the_list_they_stand_for():
    from mlm_explorer.train.data.nsp import _Outside

    for n in range(0, 7):
        for start in range(0, 8):
            for stop in range(start, 9):
                expected = [j for j in range(n) if j not in range(start, stop)]
                outside = _Outside(n, range(start, stop))
                assert [outside[i] for i in range(len(outside))] == expected
