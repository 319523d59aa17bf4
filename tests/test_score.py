"""core/score.py: the batched pseudo-log-likelihood equals the single-mask log-probs one by one."""

from __future__ import annotations

import math

import pytest

from mlm_explorer.errors import InputError

SENTENCE = "The cute dog walks in the green park."
SPLIT = "Unbelievable tokenizers split words."


def _one_by_one(lm, ids, positions):
    """log p(true token at i | the rest), each position masked alone, one forward each."""
    import torch

    from mlm_explorer.core.infer.fill import mask_logits

    out = []
    for i in positions:
        copy = list(ids)
        copy[i] = lm.tokenizer.mask_token_id
        out.append(float(torch.log_softmax(mask_logits(lm, copy, [i])[0], -1)[ids[i]]))
    return out


def _word_l2r_by_hand(lm, tt):
    """Kauf & Ivanova's PLL-word-l2r: to score piece i, mask it and the later pieces of its word;
    one plain transformers forward per piece."""
    import torch

    out = []
    for tok in tt.tokens:
        if tok.special:
            continue
        copy = list(tt.input_ids)
        for other in tt.tokens:
            if other.index == tok.index or (other.word == tok.word and other.index > tok.index):
                copy[other.index] = lm.tokenizer.mask_token_id
        with torch.inference_mode():
            logits = lm.model(input_ids=torch.tensor([copy])).logits[0, tok.index]
        out.append(float(torch.log_softmax(logits.float(), -1)[tok.id]))
    return out


def test_word_l2r_masks_the_rest_of_the_word(tiny_lm):
    from mlm_explorer.core.infer.score import score_ids, score_text
    from mlm_explorer.core.mask.text import tokenize

    tt = tokenize(tiny_lm.tokenizer, SPLIT)
    assert [t.text for t in tt.tokens if t.word == 0] == ["un", "believ", "able"]   # a 3-piece word
    expected = _word_l2r_by_hand(tiny_lm, tt)
    result = score_text(tiny_lm, SPLIT)                                             # the default
    assert result.pll_variant == "word-l2r"
    assert [t.logprob for t in result.tokens] == pytest.approx(expected, abs=1e-4)
    assert result.pll == pytest.approx(sum(expected), abs=1e-4)
    # the words from the pieces alone (ids without a text) are the same here
    again = score_ids(tiny_lm, tt.input_ids, batch_size=3)
    assert again.pll == pytest.approx(result.pll, abs=1e-4) and again.pll_variant == "word-l2r"
    # the variants differ on the multi-piece words only: the last piece is scored the same way
    original = score_text(tiny_lm, SPLIT, pll="original")
    assert original.pll_variant == "original"
    by_position = {t.position: t for t in original.tokens}
    changed = []
    for t in result.tokens:   # a word's last piece masks only itself in both variants
        if not any(o.word == tt.tokens[t.position].word and o.index > t.position for o in tt.tokens):
            assert t.logprob == pytest.approx(by_position[t.position].logprob, abs=1e-5)
        else:
            changed.append(abs(t.logprob - by_position[t.position].logprob))
    assert len(changed) == 4 and max(changed) > 1e-4   # un, believ; token, izer (a random tiny model: small changes)


def test_one_piece_words_score_the_same_in_both_variants(tiny_lm):
    from mlm_explorer.core.infer.score import score_text

    a, b = score_text(tiny_lm, SENTENCE, pll="original"), score_text(tiny_lm, SENTENCE, pll="word-l2r")
    assert a.pll == pytest.approx(b.pll, abs=1e-5)
    with pytest.raises(InputError, match="--pll"):
        score_text(tiny_lm, SENTENCE, pll="l2r")


@pytest.mark.parametrize("text", [SENTENCE, SPLIT])
def test_pll_is_the_sum_of_single_mask_logprobs(tiny_lm, text):
    from mlm_explorer.core.infer.score import score_text
    from mlm_explorer.core.mask.text import tokenize

    result = score_text(tiny_lm, text, pll="original")
    tt = tokenize(tiny_lm.tokenizer, text)
    positions = [t.index for t in tt.tokens if not t.special]
    expected = _one_by_one(tiny_lm, tt.input_ids, positions)
    assert [t.position for t in result.tokens] == positions
    for token, lp in zip(result.tokens, expected):
        assert token.logprob == pytest.approx(lp, abs=1e-4)
        assert token.surprisal == pytest.approx(-lp, abs=1e-4)
        assert token.surprisal_bits == pytest.approx(-lp / math.log(2), abs=1e-4)
    assert result.pll == pytest.approx(sum(expected), abs=1e-4)
    assert result.n_tokens == len(positions)
    assert result.pseudo_perplexity == pytest.approx(math.exp(-sum(expected) / len(positions)), rel=1e-4)


def test_rank_and_top_choice_match_fill_masks(tiny_lm):
    from mlm_explorer.core.infer.fill import fill_masks
    from mlm_explorer.core.infer.score import score_text
    from mlm_explorer.core.mask.text import tokenize

    result = score_text(tiny_lm, SENTENCE, pll="original")
    ids = tokenize(tiny_lm.tokenizer, SENTENCE).input_ids
    for token in result.tokens[:4]:
        masked = list(ids)
        masked[token.position] = tiny_lm.tokenizer.mask_token_id
        pred = fill_masks(tiny_lm, masked, [token.position], top_k=1,
                          original_ids={token.position: ids[token.position]}).predictions[0]
        assert token.rank == pred.original_rank
        assert token.probability == pytest.approx(pred.original_probability, abs=1e-5)
        assert token.top_id == pred.candidates[0].token_id


def test_batch_size_does_not_change_the_result(tiny_lm):
    from mlm_explorer.core.infer.score import score_text

    runs = {b: score_text(tiny_lm, SPLIT, batch_size=b) for b in (1, 3, 64, None)}
    base = runs[1]
    assert base.forward_passes == base.n_tokens
    assert runs[3].forward_passes == math.ceil(base.n_tokens / 3)
    assert runs[64].forward_passes == 1
    for r in runs.values():
        assert r.pll == pytest.approx(base.pll, abs=1e-4)
        assert [t.rank for t in r.tokens] == [t.rank for t in base.tokens]


def test_the_batch_runs_the_head_at_one_position_per_copy(tiny_lm):
    from mlm_explorer.core.infer.score import score_text

    shapes = []
    decoder = tiny_lm.model.get_output_embeddings()
    handle = decoder.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape)))
    try:
        result = score_text(tiny_lm, SENTENCE, batch_size=4)
    finally:
        handle.remove()
    assert len(shapes) == result.forward_passes == math.ceil(result.n_tokens / 4)
    assert sum(s[0] for s in shapes) == result.n_tokens      # (B, 1, H): one row per masked copy
    assert all(s[1] == 1 for s in shapes)


def test_words_sum_their_pieces(tiny_lm):
    from mlm_explorer.core.infer.score import score_text

    result = score_text(tiny_lm, SPLIT)
    first = result.words[0]
    assert first.text == "Unbelievable" and len(first.positions) == 3    # un ##believ ##able
    pieces = [t for t in result.tokens if t.position in first.positions]
    assert first.logprob == pytest.approx(sum(t.logprob for t in pieces), abs=1e-6)
    assert sum(w.logprob for w in result.words) == pytest.approx(result.pll, abs=1e-4)
    d = result.to_dict()
    assert set(d) >= {"tokens", "words", "pll", "pseudo_perplexity", "n_tokens", "forward_passes", "text"}


def test_typed_blanks_stay_masked_and_are_not_scored(tiny_lm):
    from mlm_explorer.core.infer.score import score_text

    result = score_text(tiny_lm, "The cute [MASK] walks in the park.")
    mask_id = tiny_lm.tokenizer.mask_token_id
    assert mask_id in result.input_ids
    assert all(t.token_id != mask_id for t in result.tokens)


def test_input_errors(tiny_lm):
    from mlm_explorer.core.infer.score import score_ids, score_text

    with pytest.raises(InputError, match="empty"):
        score_text(tiny_lm, "   ")
    with pytest.raises(InputError, match="nothing to score"):
        score_text(tiny_lm, "[MASK] [MASK]")
    with pytest.raises(InputError, match="--truncate"):
        score_text(tiny_lm, "dog " * 100)
    assert score_text(tiny_lm, "dog " * 100, truncate=True).truncated
    with pytest.raises(InputError, match="batch-size"):
        score_text(tiny_lm, SENTENCE, batch_size=0)
    with pytest.raises(InputError, match="inside"):
        score_ids(tiny_lm, [2, 10, 3], positions=[5])


def test_mask_logits_rows_equals_the_full_forward(tiny_lm):
    import torch

    from mlm_explorer.core.infer.fill import mask_logits_rows
    from mlm_explorer.core.mask.text import tokenize

    ids = torch.tensor(tokenize(tiny_lm.tokenizer, SENTENCE).input_ids)       # (L,)
    rows = ids.repeat(3, 1)                                                   # (3, L)
    rows[0, 2] = rows[1, 4] = rows[2, 5] = tiny_lm.tokenizer.mask_token_id
    where = torch.tensor([[2, 1], [4, 6], [5, 5]])                            # (3, 2)
    got = mask_logits_rows(tiny_lm, rows, where)                              # (3, 2, V)
    with torch.inference_mode():
        full = tiny_lm.model(input_ids=rows).logits.float()                   # (3, L, V)
    expected = full[torch.arange(3).unsqueeze(1), where]                      # (3, 2, V)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-4)
