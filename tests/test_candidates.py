"""core/candidates.py: candidate words at a blank (one piece or several, scored by hand here too)
and the variable-length fills."""

from __future__ import annotations

import math

import pytest

from mlm_explorer.errors import InputError

SINGLE = "The cute dog [MASK] in the green park."


def _ids_and_blank(lm, text):
    from mlm_explorer.core.mask.text import tokenize

    tt = tokenize(lm.tokenizer, text)
    return tt.input_ids, [t.index for t in tt.tokens if t.typed_mask]


def _by_hand(lm, ids, position, pieces):
    """Most confident first with the full model's logits: [(slot, logprob)] in filling order."""
    import torch

    filled = ids[:position] + [lm.tokenizer.mask_token_id] * len(pieces) + ids[position + 1:]
    remaining = list(range(position, position + len(pieces)))
    order = []
    while remaining:
        with torch.inference_mode():
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([filled])).logits[0].float(), -1)  # (L, V)
        best = max(remaining, key=lambda s: float(logp[s, pieces[s - position]]))
        order.append((best, float(logp[best, pieces[best - position]])))
        filled[best] = pieces[best - position]
        remaining.remove(best)
    return order


def _along(lm, ids, position, pieces, slots):
    """Log-probs of `pieces` written into the n-mask sequence in the order `slots`, full model."""
    import torch

    filled = ids[:position] + [lm.tokenizer.mask_token_id] * len(pieces) + ids[position + 1:]
    out = []
    for slot in slots:
        with torch.inference_mode():
            logp = torch.log_softmax(lm.model(input_ids=torch.tensor([filled])).logits[0].float(), -1)  # (L, V)
        out.append(float(logp[slot, pieces[slot - position]]))
        filled[slot] = pieces[slot - position]
    return out


# --------------------------------------------------------------------------------------------- one piece


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_single_piece_equals_the_fill_mask_distribution(tiny_lm, temperature):
    from mlm_explorer.core.infer.candidates import score_candidates
    from mlm_explorer.core.infer.fill import fill_masks

    ids, (pos,) = _ids_and_blank(tiny_lm, SINGLE)
    words = ["walks", "park", "dog", "the"]
    scores = score_candidates(tiny_lm, ids, pos, words, temperature=temperature)
    for word, score in zip(words, scores):
        (tid,) = tiny_lm.tokenizer(word, add_special_tokens=False)["input_ids"]
        pred = fill_masks(tiny_lm, ids, [pos], top_k=3, original_ids={pos: tid},
                          temperature=temperature).predictions[0]
        assert score.method == "single" and score.token_ids == [tid]
        assert score.probability == pytest.approx(pred.original_probability, abs=1e-6)
        assert score.rank == pred.original_rank
        assert score.normalized_logprob == score.logprob == pytest.approx(math.log(pred.original_probability), abs=1e-5)
    top = fill_masks(tiny_lm, ids, [pos], top_k=1, temperature=temperature).predictions[0].candidates[0]
    assert score_candidates(tiny_lm, ids, pos, [top.text], temperature=temperature)[0].rank == 1


# --------------------------------------------------------------------------------------------- several pieces


@pytest.mark.parametrize("word, pieces", [("tokenizers", ["token", "##izer", "##s"]), ("playground", ["play", "##ground"])])
def test_multi_piece_score_is_the_product_computed_by_hand(tiny_lm, word, pieces):
    from mlm_explorer.core.infer.candidates import score_candidates

    ids, (pos,) = _ids_and_blank(tiny_lm, SINGLE)
    (score,) = score_candidates(tiny_lm, ids, pos, [word])
    assert score.pieces == pieces
    assert score.method == f"joint, most confident first, {len(pieces)} passes"
    assert score.rank is None
    order = _by_hand(tiny_lm, ids, pos, score.token_ids)
    assert [s.position for s in score.steps] == [slot for slot, _ in order]
    assert [s.piece_index for s in score.steps] == [slot - pos for slot, _ in order]
    for step, (_, lp) in zip(score.steps, order):
        assert step.logprob == pytest.approx(lp, abs=1e-4)
    product = math.prod(math.exp(lp) for _, lp in order)
    assert score.probability == pytest.approx(product, rel=1e-4)
    assert score.logprob == pytest.approx(sum(lp for _, lp in order), abs=1e-4)
    assert score.normalized_logprob == pytest.approx(score.logprob / len(pieces), abs=1e-6)


def test_a_real_multi_wordpiece_word_on_the_bundled_model(bundled_lm):
    from mlm_explorer.core.infer.candidates import score_blank

    text = "The ship sailed to [MASK] to trade spices."
    report = score_blank(bundled_lm, text, ["zanzibar", "paris"], max_pieces=0)
    zanzibar, paris = report.candidates
    assert zanzibar.pieces == ["za", "##nz", "##ibar"] and paris.pieces == ["paris"]
    ids, (pos,) = _ids_and_blank(bundled_lm, text)
    order = _by_hand(bundled_lm, ids, pos, zanzibar.token_ids)
    assert [s.position for s in zanzibar.steps] == [slot for slot, _ in order]
    assert zanzibar.probability == pytest.approx(math.prod(math.exp(lp) for _, lp in order), rel=1e-4)
    assert paris.method == "single" and paris.rank >= 1 and zanzibar.rank is None


# --------------------------------------------------------------------------------------------- variable length


def test_variable_length_fill_ranks_lengths_one_to_three(tiny_lm):
    from mlm_explorer.core.infer.candidates import variable_length_fill
    from mlm_explorer.core.infer.fill import fill_masks

    ids, (pos,) = _ids_and_blank(tiny_lm, SINGLE)
    fills = variable_length_fill(tiny_lm, ids, pos, max_pieces=3, top=4)
    assert sorted({f.n_pieces for f in fills}) == [1, 2, 3]
    assert all(sum(f.n_pieces == n for f in fills) == 4 for n in (1, 2, 3))
    keys = [f.normalized_logprob for f in fills]
    assert keys == sorted(keys, reverse=True)
    special = set(tiny_lm.tokenizer.all_special_ids)
    for f in fills:
        assert f.logprob == pytest.approx(sum(s.logprob for s in f.steps), abs=1e-6)
        assert f.normalized_logprob == pytest.approx(f.logprob / f.n_pieces)
        assert len(f.steps) == f.n_pieces and not special & set(f.token_ids)
    # Length 1: the top of the blank's own distribution (specials and "##" pieces left out).
    pred = fill_masks(tiny_lm, ids, [pos], top_k=20).predictions[0]
    expected = [c.token_id for c in pred.candidates if c.token_id not in special and not c.token.startswith("##")][:4]
    assert [f.token_ids[0] for f in fills if f.n_pieces == 1] == expected
    # Longer fills: recomputed by hand with the full model, in the order the fill was made.
    for f in fills:
        if f.n_pieces > 1:
            slots = [s.position for s in f.steps]
            assert f.logprob == pytest.approx(sum(_along(tiny_lm, ids, pos, f.token_ids, slots)), abs=1e-4)


def test_the_beam_does_at_least_as_well_as_greedy_joint_filling(tiny_lm):
    from mlm_explorer.core.infer.candidates import variable_length_fill
    from mlm_explorer.core.infer.fill import fill_masks

    ids, (pos,) = _ids_and_blank(tiny_lm, SINGLE)
    two = ids[:pos] + [tiny_lm.tokenizer.mask_token_id] * 2 + ids[pos + 1:]
    greedy = fill_masks(tiny_lm, two, [pos, pos + 1], joint=True)
    best_two = max(f.logprob for f in variable_length_fill(tiny_lm, ids, pos, max_pieces=2, top=3) if f.n_pieces == 2)
    first, second = tiny_lm.tokenizer.convert_ids_to_tokens(greedy.filled_ids[pos:pos + 2])
    one_word = not first.startswith("##") and second.startswith("##")   # the shape a fill must have
    if one_word and not set(greedy.filled_ids[pos:pos + 2]) & set(tiny_lm.tokenizer.all_special_ids):
        assert best_two >= greedy.joint_logprob - 1e-4


@pytest.mark.parametrize("which", ["tiny", "bundled"])
def test_a_fill_is_one_word_a_start_piece_then_continuations(which, tiny_lm, request):
    from mlm_explorer.core.infer.candidates import variable_length_fill

    lm = tiny_lm if which == "tiny" else request.getfixturevalue("bundled_lm")
    ids, (pos,) = _ids_and_blank(lm, SINGLE if which == "tiny" else "The capital of France is [MASK].")
    fills = variable_length_fill(lm, ids, pos, max_pieces=3, top=3)
    assert {f.n_pieces for f in fills} == {1, 2, 3}
    for f in fills:
        assert not f.pieces[0].startswith("##"), f.pieces
        assert all(p.startswith("##") for p in f.pieces[1:]), f.pieces
        assert " " not in f.text, f.text          # one word, e.g. not "french french french"


# --------------------------------------------------------------------------------------------- words, blanks, errors


def test_byte_level_bpe_pieces_carry_the_leading_space():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    from mlm_explorer.core.infer.candidates import candidate_pieces
    from tiny import CORPUS

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok = RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, mask_token="<mask>")
    spaced = tok.convert_ids_to_tokens(candidate_pieces(tok, "dog", space_before=True))
    bare = tok.convert_ids_to_tokens(candidate_pieces(tok, "dog", space_before=False))
    assert spaced[0].startswith("Ġ") and not bare[0].startswith("Ġ")


def test_score_blank_picks_the_blank_and_reports_it(tiny_lm):
    from mlm_explorer.core.infer.candidates import score_blank

    text = "The [MASK] dog walks in the [MASK] park."
    report = score_blank(tiny_lm, text, ["green", "tokenizers"], mask=2, top=2)
    ids, blanks = _ids_and_blank(tiny_lm, text)
    assert report.position == blanks[1] and report.mask == 2
    d = report.to_dict()
    assert [c["word"] for c in d["candidates"]] == ["green", "tokenizers"]
    assert {f["n_pieces"] for f in d["fills"]} == {1, 2, 3}
    assert set(d["candidates"][1]) >= {"pieces", "method", "logprob", "probability", "normalized_logprob", "rank", "steps"}


def test_input_errors(tiny_lm):
    from mlm_explorer.core.infer.candidates import parse_candidates, score_blank, score_candidates

    assert parse_candidates(" green , park ") == ["green", "park"]
    for bad in ("", " , ", "green,,park", "green,"):
        with pytest.raises(InputError, match="candidate"):
            parse_candidates(bad)
    with pytest.raises(InputError, match="no mask"):
        score_blank(tiny_lm, "The dog walks.", ["cat"])
    with pytest.raises(InputError, match="--mask N"):
        score_blank(tiny_lm, "The [MASK] dog [MASK].", ["cat"])
    with pytest.raises(InputError, match="--mask 3"):
        score_blank(tiny_lm, "The [MASK] dog [MASK].", ["cat"], mask=3)
    with pytest.raises(InputError, match="cannot spell"):
        score_blank(tiny_lm, SINGLE, ["ζζ"])
    with pytest.raises(InputError, match="special"):
        score_blank(tiny_lm, SINGLE, ["[MASK]"])
    ids, (pos,) = _ids_and_blank(tiny_lm, SINGLE)
    with pytest.raises(InputError, match="empty"):
        score_candidates(tiny_lm, ids, pos, ["  "])
    with pytest.raises(InputError, match="not a mask"):
        score_candidates(tiny_lm, ids, pos - 1, ["cat"])
