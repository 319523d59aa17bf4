"""core/spans.py: T5 span corruption and its length arithmetic."""

import pytest
import torch

from mlm_explorer.core.mask.spans import (
    blanks_to_sentinels, compute_input_and_target_lengths, corrupted_lengths, sentinel_ids, span_corrupt,
)

EOS, PAD = 1, 0


def noise_mask(batch) -> torch.Tensor:
    """(B, L) bool: which raw positions were noise, from the batch's noise spans."""
    spans = batch.noise_spans                                                  # (B, S, 2) [start, end)
    edges = torch.zeros((spans.shape[0], batch.length + 1), dtype=torch.long)
    edges.scatter_add_(1, spans[:, :, 0], torch.ones_like(spans[:, :, 0]))     # +1 where a span starts
    edges.scatter_add_(1, spans[:, :, 1], -torch.ones_like(spans[:, :, 1]))    # -1 where it ends
    return edges.cumsum(1)[:, :batch.length].bool()


@pytest.fixture(scope="module")
def t5_tok(tiny_t5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_t5_dir)


def rows(B, L, seed=0):
    return torch.randint(3, 130, (B, L), generator=torch.Generator().manual_seed(seed))


def reconstruct(inputs: list[int], targets: list[int], sentinels: list[int]) -> list[int]:
    """Undo span corruption: put each sentinel's target span back where the sentinel stands."""
    assert inputs[-1] == EOS and targets[-1] == EOS
    spans, current = {}, None
    for t in targets[:-1]:
        if t in sentinels:
            current = spans.setdefault(t, [])
        else:
            current.append(t)
    out = []
    for t in inputs[:-1]:
        out.extend(spans.pop(t) if t in sentinels else [t])
    assert not spans  # every target span was used
    return out


def test_t5_length_arithmetic():
    assert compute_input_and_target_lengths(512) == (568, 114)
    assert compute_input_and_target_lengths(128) == (141, 29)
    assert corrupted_lengths(568) == (512, 114)
    assert corrupted_lengths(141) == (128, 29)
    assert compute_input_and_target_lengths(100, noise_density=0.5)[1] <= 100  # T5's density-0.5 rule


def test_sentinels_are_looked_up_by_name(t5_tok):
    ids = sentinel_ids(t5_tok)
    assert len(ids) == 20
    assert t5_tok.convert_ids_to_tokens(ids[:3].tolist()) == ["<extra_id_0>", "<extra_id_1>", "<extra_id_2>"]

    class Descending:  # real t5: <extra_id_0> is 32099, then 32098, ...
        unk_token_id = 2

        def convert_tokens_to_ids(self, name):
            n = int(name[len("<extra_id_"):-1])
            return 32099 - n if n < 100 else 2

    assert sentinel_ids(Descending())[:3].tolist() == [32099, 32098, 32097]


@pytest.mark.parametrize("raw_length", [568, 141, 57, 12])
def test_span_corruption_reconstructs_the_original(t5_tok, raw_length):
    sent = sentinel_ids(t5_tok)
    if raw_length > 141:
        sent = torch.arange(1000, 1100)  # 568 tokens need 28 sentinels; the tiny tokenizer has 20
    x = rows(64, raw_length)
    b = span_corrupt(x, sentinel_ids=sent, eos_id=EOS, pad_id=PAD, generator=torch.Generator().manual_seed(0))
    num_noise = round(raw_length * 0.15)
    num_spans = round(num_noise / 3)
    assert (b.input_ids.shape[1], b.labels.shape[1]) == corrupted_lengths(raw_length)
    assert (noise_mask(b).sum(1) == num_noise).all()  # exact noise count in every row
    assert (b.input_ids[:, -1] == EOS).all() and (b.labels[:, -1] == EOS).all()
    assert not noise_mask(b)[:, 0].any() and noise_mask(b)[:, -1].all()  # non-noise first, noise last
    sl = sent.tolist()
    for row in range(64):
        inp, tgt = b.input_ids[row].tolist(), b.labels[row].tolist()
        assert [t for t in inp if t in sl] == sl[:num_spans]  # <extra_id_0> first, in order
        assert [t for t in tgt if t in sl] == sl[:num_spans]
        assert reconstruct(inp, tgt, sl) == x[row].tolist()


def test_rows_with_too_few_distinct_draws_are_redrawn(monkeypatch):
    """The cuts are the first S-1 distinct values of a few uniform draws per row; a row whose
    draws repeat too much (rare: < 1e-9) is redrawn another way. Force that path often."""
    from mlm_explorer.core.mask import spans

    monkeypatch.setattr(spans, "_draws_needed", lambda num_gaps, num_cuts, eps=0: num_cuts)
    spans._plan.cache_clear()
    try:
        for L in (141, 568):
            x = rows(64, L, seed=2)
            b = span_corrupt(x, sentinel_ids=torch.arange(1000, 1100), eos_id=EOS, pad_id=PAD,
                             generator=torch.Generator().manual_seed(2))
            sl = list(range(1000, 1100))
            assert all(reconstruct(b.input_ids[r].tolist(), b.labels[r].tolist(), sl) == x[r].tolist()
                       for r in range(64))
            assert (noise_mask(b).sum(1) == round(L * 0.15)).all()
            assert (b.noise_cuts.diff(dim=1) > 0).all() and (b.keep_cuts.diff(dim=1) > 0).all()
    finally:
        spans._plan.cache_clear()


def test_segmentations_are_uniform():
    """Each way to cut 12 noise tokens into 4 spans (C(11, 3) = 165) and 28 others into 4
    spans (C(27, 3) = 2925) is equally likely: a chi-square check on 60,000 rows."""
    x = rows(60_000, 40)
    b = span_corrupt(x, sentinel_ids=torch.arange(1000, 1030), eos_id=EOS, pad_id=PAD,
                     generator=torch.Generator().manual_seed(5), noise_density=0.3)
    for cuts, ways in ((b.noise_cuts, 165), (b.keep_cuts, 2925)):
        _, counts = torch.unique(cuts, dim=0, return_counts=True)
        assert len(counts) == ways
        expected = len(x) / ways
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert abs(chi2 - (ways - 1)) < 5 * (2 * (ways - 1)) ** 0.5  # within 5 sd of its mean


def test_spans_alternate_and_vary_by_row():
    x = rows(256, 141)
    b = span_corrupt(x, sentinel_ids=torch.arange(1000, 1030), eos_id=EOS, pad_id=PAD,
                     generator=torch.Generator().manual_seed(1))
    starts = noise_mask(b)[:, 1:] & ~noise_mask(b)[:, :-1]
    assert (starts.sum(1) + noise_mask(b)[:, 0].long() == 7).all()  # round(21 / 3) = 7 noise spans per row
    assert len({tuple(r) for r in noise_mask(b).int().tolist()}) > 250  # rows get their own spans
    # noise spans average 3 tokens; positions are not biased to the end beyond T5's own last span
    assert noise_mask(b)[:, :70].float().mean() > 0.1


def test_same_seed_same_corruption():
    x = rows(8, 141)
    a, b, c = (span_corrupt(x, sentinel_ids=torch.arange(1000, 1030), eos_id=EOS, pad_id=PAD,
                            generator=torch.Generator().manual_seed(s)) for s in (3, 3, 4))
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    assert not torch.equal(noise_mask(a), noise_mask(c))


def test_padding_is_refused():
    x = rows(2, 30)
    x[1, -3:] = PAD
    with pytest.raises(ValueError, match="packed"):
        span_corrupt(x, sentinel_ids=torch.arange(1000, 1030), eos_id=EOS, pad_id=PAD,
                     generator=torch.Generator())


def test_blanks_to_sentinels_for_t5_infill(t5_tok):
    text, n = blanks_to_sentinels("The cute ___ walks in the [MASK] [MASK] park.")
    assert (text, n) == ("The cute <extra_id_0> walks in the <extra_id_1> park.", 2)
    ids = t5_tok(text)["input_ids"]
    assert [i for i in ids if i in sentinel_ids(t5_tok).tolist()] == sentinel_ids(t5_tok)[:2].tolist()
