"""core/infer/compare.py and mask_infill.py: two to four models (encoders, T5, BART) on the same blanks."""

from __future__ import annotations

import math

import pytest

from mlm_explorer.errors import InputError

TEXT = "The cute [MASK] walks in the [MASK] park."


def test_align_fills_reads_the_fills_between_the_anchors():
    from mlm_explorer.core.infer.mask_infill import align_fills, anchors_of

    anchors, model_text = anchors_of(TEXT, "<mask>")
    assert anchors == ["The cute ", " walks in the ", " park."] and model_text == "The cute <mask> walks in the <mask> park."
    out = "The cute little dog walks in the green park."
    assert [out[s:e] for s, e in align_fills(out, anchors)] == ["little dog", "green"]
    assert align_fills("A dog walks in a park.", anchors) is None                 # the model rewrote "The cute"
    end, _ = anchors_of("The capital of France is [MASK]", "<mask>")
    assert [("The capital of France is Paris"[s:e]) for s, e in align_fills("The capital of France is Paris", end)] == [
        "Paris"]
    start, _ = anchors_of("___ ___ is the capital.", "<mask>")                    # two blanks in a row: one span
    assert start == ["", " is the capital."]
    assert [("Paris is the capital."[s:e]) for s, e in align_fills("Paris is the capital.", start)] == ["Paris"]
    assert all(s == e for s, e in align_fills("The cute  walks in the  park.", anchors))   # empty fills


def test_bart_infill_scores_its_output_by_teacher_forcing(tiny_bart_dir):
    import torch

    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_seq2seq

    lm = load_seq2seq(str(tiny_bart_dir), device="cpu")
    assert lm.spec.infill == "mask"
    result = infill(lm, TEXT, num_beams=2, num_return=2)
    assert result.n_blanks == 2 and result.input_text == "The cute <mask> walks in the <mask> park."
    enc = lm.tokenizer(result.input_text, return_tensors="pt")
    for cand in result.candidates:
        assert len(cand.fills) == 2 and isinstance(cand.aligned, bool)
        assert math.isfinite(cand.score) and cand.score < 0
    # the score is the teacher-forced log p of what generate wrote (one plain forward, by hand)
    with torch.inference_mode():
        out = lm.model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=enc["input_ids"].shape[1] + 36)
        target = out[0, 1:]
        logits = lm.model(**enc, labels=target[None]).logits[0]
    by_hand = float(torch.log_softmax(logits.float(), -1).gather(1, target[:, None]).sum())
    greedy = infill(lm, TEXT)
    assert greedy.candidates[0].score == pytest.approx(by_hand, abs=1e-3)


def test_compare_two_to_four_models(tiny_lm, tiny_t5_dir, tiny_bart_dir, tiny_bert_dir, tmp_path):
    from tiny import build_tiny_bert

    from mlm_explorer.core.infer.compare import compare_models
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_mlm, load_seq2seq

    t5, bart = load_seq2seq(str(tiny_t5_dir), device="cpu"), load_seq2seq(str(tiny_bart_dir), device="cpu")
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
    assert result.to_dict()["columns"][2]["family"] == "bart"
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
