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
