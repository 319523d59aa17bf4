"""core/infer/kbest.py against by-hand loops over the transformers model (one full forward each)."""

from __future__ import annotations

import itertools
import json

import pytest

from mlm_explorer.errors import InputError

TWO = "The [MASK] dog walks in the [MASK] park."
THREE = "The [MASK] dog [MASK] in the [MASK] park."
FOUR = "[MASK] cute dog [MASK] in the [MASK] park [MASK]"


_FORWARDS: dict = {}   # (model, ids) -> log-probabilities (L, V): the same row is never run twice


def _logprobs(lm, ids, position):
    """log p(. at position | ids) from the plain transformers forward (no head split, no batching)."""
    import torch

    key = (id(lm.model), tuple(ids))
    if key not in _FORWARDS:
        with torch.inference_mode():
            logits = lm.model(input_ids=torch.tensor([ids])).logits[0].float()
        _FORWARDS[key] = torch.log_softmax(logits, -1)
    return _FORWARDS[key][position]


def _pll_by_hand(lm, ids, positions, fill):
    """sum over masks m of log p(fill_m | the other masks filled, m masked): one forward per mask."""
    mask_id = lm.tokenizer.mask_token_id
    filled = list(ids)
    for p, t in zip(positions, fill):
        filled[p] = t
    terms = []
    for p, t in zip(positions, fill):
        row = list(filled)
        row[p] = mask_id
        terms.append(float(_logprobs(lm, row, p)[t]))
    return terms


def _greedy_by_hand(lm, ids, positions):
    """Most confident first: fill the position whose top token is most probable, re-run, repeat."""
    import torch

    filled, remaining = list(ids), list(positions)
    while remaining:
        with torch.inference_mode():
            probs = torch.softmax(lm.model(input_ids=torch.tensor([filled])).logits[0].float(), -1)
        best = max(remaining, key=lambda p: float(probs[p].max()))
        filled[best] = int(probs[best].argmax())
        remaining.remove(best)
    return [filled[p] for p in positions]


def _ordinary(lm) -> set[int]:
    """The ids a fill may use: no special token, no [unusedN] (the vocabulary's own pieces otherwise)."""
    pieces = lm.tokenizer.convert_ids_to_tokens(list(range(len(lm.tokenizer))))
    return {i for i, p in enumerate(pieces) if i not in lm.tokenizer.all_special_ids and not p.startswith("[unused")}


def _candidates_by_hand(lm, ids, positions, n, greedy):
    ordinary = _ordinary(lm)
    out = []
    for m, p in enumerate(positions):
        lp = _logprobs(lm, ids, p)
        order = [int(i) for i in lp.argsort(descending=True).tolist() if int(i) in ordinary][:n]
        if greedy[m] not in order:
            order.append(greedy[m])
        out.append(order)
    return out


def _masked(lm, text):
    from mlm_explorer.core.mask.text import tokenize

    tt = tokenize(lm.tokenizer, text)
    return tt.input_ids, [t.index for t in tt.tokens if t.typed_mask]


@pytest.mark.parametrize("text,n", [(TWO, 8), (THREE, 4)])
def test_exact_search_equals_the_exhaustive_loop(tiny_lm, text, n):
    from mlm_explorer.core.infer.kbest import kbest_text

    k = 5
    result = kbest_text(tiny_lm, text, k=k, top_n=n)
    ids, positions = _masked(tiny_lm, text)
    greedy = _greedy_by_hand(tiny_lm, ids, positions)
    in_search = set(greedy) <= _ordinary(tiny_lm)
    cands = _candidates_by_hand(tiny_lm, ids, positions, n, greedy if in_search else [-1] * len(greedy))
    scored = {fill: sum(_pll_by_hand(tiny_lm, ids, positions, fill)) for fill in itertools.product(*cands)}
    expected = sorted(scored.values(), reverse=True)

    assert result.method == "exact" and result.top_n == n
    assert result.searched == len(scored)
    assert len(positions) == 2 or result.forward_rows >= len(positions) * n ** (len(positions) - 1)
    assert [f.pll for f in result.fills] == pytest.approx(expected[:k], abs=1e-4)
    for rank, fill in enumerate(result.fills, 1):
        assert fill.rank == rank
        assert fill.pll == pytest.approx(scored[tuple(fill.token_ids)], abs=1e-4)
        assert fill.logprobs == pytest.approx(_pll_by_hand(tiny_lm, ids, positions, fill.token_ids), abs=1e-4)
        assert set(fill.token_ids) <= _ordinary(tiny_lm)
    # the most-confident-first fill: the same tokens as fill_masks(joint=True), its exact rank
    assert result.greedy.token_ids == greedy
    assert result.greedy.pll == pytest.approx(sum(_pll_by_hand(tiny_lm, ids, positions, greedy)), abs=1e-4)
    if in_search:
        assert result.greedy_rank == 1 + sum(v > scored[tuple(greedy)] + 1e-6 for v in scored.values())
    else:   # it took an [unusedN] piece: outside the search, and said so
        assert result.greedy_rank is None and result.note
    assert result.agrees == (result.fills[0].token_ids == greedy)
    json.dumps(result.to_dict())


def test_beam_search_rescores_by_the_exact_pll(tiny_lm):
    from mlm_explorer.core.infer.kbest import kbest_text

    result = kbest_text(tiny_lm, FOUR, k=4, beam=3)
    ids, positions = _masked(tiny_lm, FOUR)
    assert result.method == "beam" and result.beam == 3 and len(positions) == 4
    plls = [f.pll for f in result.fills]
    assert plls == sorted(plls, reverse=True)
    for fill in result.fills:
        assert fill.logprobs == pytest.approx(_pll_by_hand(tiny_lm, ids, positions, fill.token_ids), abs=1e-4)
    # the greedy fill is in the pool (unless it took an [unusedN] piece), so the best is never worse
    assert result.greedy.token_ids == _greedy_by_hand(tiny_lm, ids, positions)
    if set(result.greedy.token_ids) <= _ordinary(tiny_lm):
        assert result.greedy_rank is not None and result.fills[0].pll >= result.greedy.pll - 1e-6


def test_masks_typed_together_are_one_word(tiny_lm):
    """[MASK][MASK] after a space: a word start then a continuation; attached to "un": two continuations."""
    from mlm_explorer.core.infer.kbest import blank_words, kbest_text, word_shapes
    from mlm_explorer.core.mask.text import tokenize

    vocab = tiny_lm.tokenizer.convert_ids_to_tokens
    tt = tokenize(tiny_lm.tokenizer, "The [MASK][MASK] dog walks [MASK].")
    positions = [t.index for t in tt.tokens if t.typed_mask]
    words = blank_words(tt, positions)
    assert words == [positions[:2], positions[2:]]
    assert word_shapes(tt, words) == {positions[0]: "start", positions[1]: "continue"}
    result = kbest_text(tiny_lm, "The [MASK][MASK] dog walks [MASK].", k=6, top_n=6)
    for fill in result.fills:
        first, second, _ = vocab(fill.token_ids)
        assert not first.startswith("##") and second.startswith("##")
        assert fill.words[0] == first + second[2:]
    attached = kbest_text(tiny_lm, "The un[MASK][MASK] dog.", k=4, top_n=5)
    for fill in attached.fills:
        assert all(piece.startswith("##") for piece in vocab(fill.token_ids))


def test_one_mask_is_the_distribution(tiny_lm):
    """One mask: the PLL of a fill is its log-probability, so the k best are fill_masks' top-k."""
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.kbest import kbest_text

    text = "The cute dog [MASK] in the green park."
    result = kbest_text(tiny_lm, text, k=5)
    top = [c for c in predict(tiny_lm, text, top_k=12).predictions[0].candidates
           if c.token_id in _ordinary(tiny_lm)][:5]
    assert [f.token_ids[0] for f in result.fills] == [c.token_id for c in top]
    assert [f.pll for f in result.fills] == pytest.approx([c.logprob for c in top], abs=1e-4)
    assert result.agrees == (result.fills[0].token_ids == result.greedy.token_ids)


def test_input_errors(tiny_lm):
    from mlm_explorer.core.infer.kbest import kbest_fills, kbest_text

    with pytest.raises(InputError, match="no mask"):
        kbest_text(tiny_lm, "The cute dog walks.")
    with pytest.raises(InputError, match="--k-best"):
        kbest_text(tiny_lm, TWO, k=0)
    with pytest.raises(InputError, match="beam"):
        kbest_fills(tiny_lm, [2, 4, 4, 4, 4, 3], [1, 2, 3, 4], method="exact")
