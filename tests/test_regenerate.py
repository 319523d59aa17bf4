"""core/infer/regenerate.py: BART infill — the whole text comes back, each blank's span is aligned."""

from __future__ import annotations

import pytest
import torch

from mlm_explorer.errors import InputError

M = 99   # a mask id for the alignment tests


@pytest.mark.parametrize("source, output, spans, rewritten", [
    ([1, 2, M, 3, 4], [1, 2, 7, 8, 3, 4], [(2, 4)], False),        # a two-token fill
    ([1, 2, M, 3, 4], [1, 2, 3, 4], [(2, 2)], False),              # an empty fill
    ([1, M, 3, M], [1, 5, 3, 6, 6], [(1, 2), (3, 5)], False),      # two blanks, the last at the end
    ([M, 2, 3], [9, 9, 2, 3], [(0, 2)], False),                    # a blank at the start
    ([1, 2, M, 3, 4], [1, 5, 7, 3, 4], [(2, 3)], True),            # the model changed a word around the blank
    ([1, 2, M, 3], [1, 2, 3, 3], [(2, 3)], False),                 # a fill equal to the next word
    ([1, M, 2], [], [(0, 0)], True),                               # nothing came back
])
def test_align_blanks(source, output, spans, rewritten):
    from mlm_explorer.core.infer.regenerate import align_blanks

    assert align_blanks(source, output, M) == (spans, rewritten)


@pytest.fixture(scope="module")
def bart(family_lm):
    return family_lm("BART")


def _answer(lm, text: str):
    """generate() as a model that writes `text` back: decoder start, <s>, the text, </s>."""
    tok = lm.tokenizer
    ids = [lm.model.config.decoder_start_token_id] + tok(text)["input_ids"]

    def generate(**kwargs):
        return torch.tensor([ids] * kwargs.get("num_return_sequences", 1))

    return generate


def test_regenerate_finds_each_blanks_span_and_scores_it(bart, monkeypatch):
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.infer.regenerate import _rescore

    monkeypatch.setattr(bart.model, "generate", _answer(bart, "The cute dog walks in the green park."))
    result = infill(bart, "The cute ___ walks in the ___ ___ park.")
    assert result.style == "mask" and result.n_blanks == 2      # the two touching blanks are one span
    assert result.input_text == "The cute <mask> walks in the <mask> park."
    best = result.candidates[0]
    assert [f.text for f in best.fills] == ["dog", "green"] and not best.rewritten and best.finished
    assert best.text == "The cute dog walks in the green park."
    # the scores are the teacher-forced log-probabilities: the fill's tokens and the one after it
    tok = bart.tokenizer
    decoded = [bart.model.config.decoder_start_token_id] + tok(best.text)["input_ids"]
    enc = tok(result.input_text, return_tensors="pt")
    lp = _rescore(bart, enc["input_ids"], enc["attention_mask"], decoded)
    target = decoded[1:]
    dog = target.index(best.fills[0].token_ids[0])
    assert best.fills[0].logprob == pytest.approx(lp[dog] + lp[dog + 1], abs=1e-5)
    assert best.score == pytest.approx(sum(lp), abs=1e-4)


def test_regenerate_says_when_the_text_around_the_blanks_changed(bart, monkeypatch):
    from mlm_explorer.core.infer.infill import infill

    monkeypatch.setattr(bart.model, "generate", _answer(bart, "The lazy dog walks in the park."))
    best = infill(bart, "The cute dog ___ in the park.").candidates[0]
    assert best.rewritten and [f.text for f in best.fills] == ["walks"]


def test_regenerate_errors(bart):
    from mlm_explorer.core.infer.infill import infill

    with pytest.raises(InputError, match="no blank in the text"):
        infill(bart, "The cute dog walks.")
    with pytest.raises(InputError, match="text is empty"):
        infill(bart, "  ")
    with pytest.raises(InputError, match="the model takes at most 128; shorten it"):
        infill(bart, "the dog ___ " * 60)
