"""core/infer/compare.py: two to four models (encoders, T5, BART) on the same blanks."""

from __future__ import annotations

import math

import pytest

from mlm_explorer.errors import InputError

TEXT = "The cute [MASK] walks in the [MASK] park."


def test_compare_two_to_four_models(tiny_lm, tiny_t5_dir, family_dir, tmp_path):
    from tiny import build_tiny_bert

    from mlm_explorer.core.infer.compare import compare_models
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_mlm, load_seq2seq

    t5, bart = load_seq2seq(str(tiny_t5_dir), device="cpu"), load_seq2seq(str(family_dir("BART")), device="cpu")
    other = load_mlm(str(build_tiny_bert(tmp_path / "other", seed=3)), device="cpu")
    result = compare_models([tiny_lm, t5, bart, other], TEXT)
    assert result.n_blanks == 2
    assert [c.family for c in result.columns] == ["encoder", "t5", "bart", "encoder"]
    assert all(c.error is None and len(c.blanks) == 2 for c in result.columns)
    fill = predict(tiny_lm, TEXT)
    for blank, prediction in zip(result.columns[0].blanks, fill.predictions):
        top = prediction.candidates[0]
        assert blank.text == top.text and blank.probability == pytest.approx(top.probability, rel=1e-5)
    assert result.columns[0].text == fill.decoded
    t5_best = infill(t5, TEXT).candidates[0]
    assert [b.text for b in result.columns[1].blanks] == [f.text for f in t5_best.fills]
    assert result.columns[1].text == t5_best.text
    assert result.to_dict()["columns"][2]["family"] == "bart" and result.columns[2].result["style"] == "mask"
    assert result.columns[0].result["predictions"] and result.columns[1].result["style"] == "sentinels"
    with pytest.raises(InputError, match="2 to 4 models"):
        compare_models([tiny_lm], TEXT)
    with pytest.raises(InputError, match="2 to 4 models"):
        compare_models([tiny_lm, t5, bart, other, tiny_lm], TEXT)
    with pytest.raises(InputError, match="no blank"):
        compare_models([tiny_lm, t5], "No blank here.")


def test_a_blank_of_several_masks_reads_as_one(tiny_lm, tiny_t5_dir):
    from mlm_explorer.core.infer.compare import compare_models
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.load.models import load_seq2seq

    text = "The [MASK] [MASK] walks in the park."
    result = compare_models([tiny_lm, load_seq2seq(str(tiny_t5_dir), device="cpu")], text)
    assert result.n_blanks == 1 and all(len(c.blanks) == 1 for c in result.columns)
    steps = predict(tiny_lm, text).steps
    assert result.columns[0].blanks[0].probability == pytest.approx(math.prod(s.probability for s in steps), rel=1e-5)
