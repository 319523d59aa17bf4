"""core/mask/infilling.py (BART's text infilling) and the objective that trains with it."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from mlm_explorer.errors import ModelError

SPECIAL = (0, 1, 2, 99)   # <s>, <pad>, </s>, <mask>
MASK, PAD, BOS, EOS = 99, 1, 0, 2


def _rows(n_rows=400, width=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 90, (n_rows, width), generator=g)
    lengths = torch.randint(20, width + 1, (n_rows,), generator=g)
    for b, n in enumerate(lengths.tolist()):
        ids[b, 0], ids[b, n - 1] = BOS, EOS
        ids[b, n:] = PAD
    special = torch.zeros(100, dtype=torch.bool)
    special[list(SPECIAL)] = True
    return ids, lengths, special


def _infill(ids, lengths, special, seed=1, **kw):
    from mlm_explorer.core.mask.infilling import text_infill

    return text_infill(ids, lengths, special=special, mask_id=MASK, pad_id=PAD,
                       generator=torch.Generator().manual_seed(seed), **kw)


def test_thirty_percent_in_poisson_spans_each_one_mask():
    ids, lengths, special = _rows()
    out = _infill(ids, lengths, special)
    for b, n in enumerate(lengths.tolist()):
        spans = out.spans[b]
        assert sum(size for _, size in spans) == math.ceil(0.3 * (n - 2))      # exactly 30% of the ordinary tokens
        # rebuild the corrupted row from the spans: each span -> one mask, nothing else changes
        row, expect, p = ids[b, :n].tolist(), [], 0
        for start, size in spans:
            expect += row[p:start] + [MASK]
            p = start + size
        expect += row[p:]
        got = out.input_ids[b, :int(out.attention_mask[b].sum())].tolist()
        assert got == expect and len(got) <= n
        assert all(not special[t] for start, size in spans for t in row[start:start + size])   # specials stay
        assert out.labels[b, :n].tolist() == row and (out.labels[b, n:] == -100).all()
    assert any(size == 0 for spans in out.spans for _, size in spans)       # zero-length spans insert a mask


def test_span_lengths_are_poisson_three_and_add_up():
    from mlm_explorer.core.mask.infilling import span_lengths

    g = torch.Generator().manual_seed(0)
    sizes = span_lengths(60_000, g)
    assert sum(sizes) == 60_000
    body = sizes[:-1]                                                       # the last one is trimmed to fit
    assert abs(statistics.mean(body) - 3.0) < 0.05 and abs(statistics.pvariance(body) - 3.0) < 0.1
    assert abs(body.count(0) / len(body) - math.exp(-3)) < 0.006              # P(0) of Poisson(3)
    assert [sum(span_lengths(n, g)) for n in (1, 2, 7)] == [1, 2, 7]


def test_same_seed_same_corruption_and_a_new_seed_another():
    ids, lengths, special = _rows(50)
    a, b, c = _infill(ids, lengths, special), _infill(ids, lengths, special), _infill(ids, lengths, special, seed=2)
    assert torch.equal(a.input_ids, b.input_ids) and a.spans == b.spans and a.spans != c.spans


def test_objective_trains_bart_and_refuses_what_does_not_fit(family_lm):
    from mlm_explorer.train.model_setup import choose_objective
    from mlm_explorer.train.objectives import InfillObjective

    bart = family_lm("BART")
    objective = InfillObjective(bart.model, bart.tokenizer, device="cpu")
    text = bart.tokenizer(["The cute dog walks in the green park.", "Paris is the capital of France."],
                          padding=True, return_tensors="pt")
    blocks = {"input_ids": text["input_ids"], "lengths": text["attention_mask"].sum(1)}
    batch = objective.corrupt(blocks, torch.Generator().manual_seed(0))
    assert (batch["input_ids"] == bart.tokenizer.mask_token_id).any()
    with torch.no_grad():
        sums = objective.module(**batch)
        full = bart.model(**batch).loss                                # the model's own mean loss on the same batch
    assert float(sums["mlm_sum"] / (batch["labels"] != -100).sum()) == pytest.approx(float(full), abs=1e-5)
    assert choose_objective("auto", "seq2seq", "bart", "b", infill="mask") == "infill"
    assert choose_objective("auto", "seq2seq", "t5", "t", infill="sentinels") == "span"
    for requested, infill, fits in (("span", "mask", "infill"), ("infill", "sentinels", "span"), ("mlm", "mask", "infill")):
        with pytest.raises(ModelError, match=f"use --objective {fits}"):
            choose_objective(requested, "seq2seq", "x", "m", infill=infill)
    with pytest.raises(ModelError, match="use --objective mlm"):
        choose_objective("infill", "mlm", "bert", "b")
