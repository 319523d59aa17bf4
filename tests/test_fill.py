"""core/fill.py: distributions at masked positions, parity with pipeline("fill-mask"), joint filling."""

from __future__ import annotations

import json
import math

import pytest

from mlm_explorer.errors import InputError, ModelError

SINGLE = "The cute dog [MASK] in the green park."
SEVERAL = "The [MASK] dog walks in the [MASK] park [MASK]"


def _full_logits(lm, ids):
    import torch

    with torch.inference_mode():
        return lm.model(input_ids=torch.tensor([ids])).logits[0].float()   # (L, V)


def _assert_pipeline_parity(lm, text, top_k=5):
    from transformers import pipeline

    from mlm_explorer.core.infer.fill import predict

    result = predict(lm, text, top_k=top_k)
    fill_mask = pipeline("fill-mask", model=lm.model, tokenizer=lm.tokenizer, device=lm.device)
    expected = fill_mask(text.replace("[MASK]", lm.tokenizer.mask_token), top_k=top_k)
    if isinstance(expected[0], dict):   # one mask: the pipeline returns a flat list
        expected = [expected]
    assert len(result.predictions) == len(expected) == text.count("[MASK]")
    for prediction, rows in zip(result.predictions, expected):
        assert [c.token_id for c in prediction.candidates] == [r["token"] for r in rows]
        for c, r in zip(prediction.candidates, rows):
            assert abs(c.probability - r["score"]) < 1e-5
            assert c.text == r["token_str"].strip() or c.token == r["token_str"]
    return result


# --------------------------------------------------------------------------------------------- parity


@pytest.mark.parametrize("text", [SINGLE, SEVERAL])
def test_pipeline_parity_tiny_bert(tiny_lm, text):
    _assert_pipeline_parity(tiny_lm, text, top_k=7)


@pytest.mark.parametrize("text", ["The capital of France is [MASK].", "The [MASK] sat on the [MASK] near the [MASK] door."])
def test_pipeline_parity_bundled_encoder(bundled_lm, text):
    _assert_pipeline_parity(bundled_lm, text)


# --------------------------------------------------------------------------------------------- the head runs at mask positions only


def test_vocabulary_projection_runs_only_at_mask_positions(tiny_lm):
    from mlm_explorer.core.infer.fill import predict

    rows = []
    handle = tiny_lm.model.get_output_embeddings().register_forward_hook(lambda m, args, out: rows.append(tuple(args[0].shape)))
    try:
        result = predict(tiny_lm, SEVERAL)
    finally:
        handle.remove()
    assert rows == [(3, tiny_lm.model.config.hidden_size)]
    assert len(result.predictions) == 3


# --------------------------------------------------------------------------------------------- the numbers


def test_distribution_numbers_match_a_direct_computation(tiny_lm):
    import torch

    from mlm_explorer.core.infer.fill import fill_masks

    ids = tiny_lm.tokenizer("The cute dog walks in the green park.")["input_ids"]
    originals = {3: ids[3], 7: ids[7]}
    masked = list(ids)
    for p in originals:
        masked[p] = tiny_lm.tokenizer.mask_token_id
    result = fill_masks(tiny_lm, masked, [7, 3, 3], top_k=4, original_ids=originals)
    logits = _full_logits(tiny_lm, masked)
    assert [p.position for p in result.predictions] == [3, 7]
    for p in result.predictions:
        probs = torch.softmax(logits[p.position], -1)
        top = probs.topk(4)
        assert [c.token_id for c in p.candidates] == top.indices.tolist()
        assert all(abs(c.logprob - math.log(c.probability)) < 1e-4 for c in p.candidates)
        assert abs(p.entropy - float(-(probs * probs.log()).sum())) < 1e-4
        assert abs(p.mass_outside - (1 - float(top.values.sum()))) < 1e-5
        assert p.original_id == originals[p.position]
        assert p.original_rank == int((probs > probs[p.original_id]).sum()) + 1
        assert abs(p.original_probability - float(probs[p.original_id])) < 1e-6
    expected_loss = torch.nn.functional.cross_entropy(logits[[3, 7]], torch.tensor([originals[3], originals[7]]))
    assert abs(result.loss - float(expected_loss)) < 1e-5
    json.dumps(result.to_dict())


def test_positions_that_are_not_mask_tokens_are_predicted_as_given(tiny_lm):
    """The masking engine's KEEP / RANDOM decisions leave a real token at a position to predict."""
    import torch

    from mlm_explorer.core.infer.fill import fill_masks

    ids = tiny_lm.tokenizer("The cute dog walks in the green park.")["input_ids"]
    result = fill_masks(tiny_lm, ids, [4], original_ids={4: ids[4]})
    probs = torch.softmax(_full_logits(tiny_lm, ids)[4], -1)
    assert result.predictions[0].candidates[0].token_id == int(probs.argmax())
    assert abs(result.loss + math.log(float(probs[ids[4]]))) < 1e-5
    assert fill_masks(tiny_lm, ids, [4]).loss is None


def test_temperature_divides_the_logits_but_not_the_loss(tiny_lm):
    import torch

    from mlm_explorer.core.infer.fill import fill_masks

    ids = tiny_lm.tokenizer("The cute dog [MASK] in the green park.")["input_ids"]
    position = ids.index(tiny_lm.tokenizer.mask_token_id)
    logits = _full_logits(tiny_lm, ids)[position]
    base = fill_masks(tiny_lm, ids, [position], original_ids={position: 7})
    for t in (0.5, 2.0):
        hot = fill_masks(tiny_lm, ids, [position], original_ids={position: 7}, temperature=t)
        expected = torch.softmax(logits / t, -1).topk(5)
        assert [c.token_id for c in hot.predictions[0].candidates] == expected.indices.tolist()
        assert all(abs(c.probability - v) < 1e-5 for c, v in zip(hot.predictions[0].candidates, expected.values.tolist()))
        assert abs(hot.loss - base.loss) < 1e-6
    assert fill_masks(tiny_lm, ids, [position], temperature=2.0).predictions[0].entropy > base.predictions[0].entropy
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(InputError):
            fill_masks(tiny_lm, ids, [position], temperature=bad)


# --------------------------------------------------------------------------------------------- joint vs independent


def test_joint_fills_most_confident_first_and_reruns(tiny_lm):
    from mlm_explorer.core.infer.fill import fill_masks, predict

    independent = predict(tiny_lm, SEVERAL)
    joint = predict(tiny_lm, SEVERAL, joint=True)
    assert independent.mode == "independent" and joint.mode == "joint"
    positions = [p.position for p in independent.predictions]
    assert [s.position for s in independent.steps] == positions
    # Step 1 of joint = the most confident position of the independent pass.
    tops = {p.position: p.candidates[0] for p in independent.predictions}
    first = max(positions, key=lambda pos: tops[pos].probability)
    assert joint.steps[0].position == first and joint.steps[0].token_id == tops[first].token_id
    assert sorted(s.position for s in joint.steps) == positions
    # Each later step = an independent pass over the ids filled so far.
    ids = list(independent.filled_ids)
    for pos in positions:
        ids[pos] = tiny_lm.tokenizer.mask_token_id
    for step in joint.steps:
        remaining = [p for p in positions if ids[p] == tiny_lm.tokenizer.mask_token_id]
        again = fill_masks(tiny_lm, ids, remaining)
        best = max(again.predictions, key=lambda p: p.candidates[0].probability)
        assert (best.position, best.candidates[0].token_id) == (step.position, step.token_id)
        assert abs(best.candidates[0].probability - step.probability) < 1e-5
        ids[step.position] = step.token_id
    assert joint.filled_ids == ids
    for result in (joint, independent):
        assert abs(result.joint_logprob - sum(s.logprob for s in result.steps)) < 1e-6
        assert all(abs(s.logprob - math.log(s.probability)) < 1e-4 for s in result.steps)
    # One mask: joint and independent are the same thing.
    one_i, one_j = predict(tiny_lm, SINGLE), predict(tiny_lm, SINGLE, joint=True)
    assert one_i.filled_ids == one_j.filled_ids and abs(one_i.joint_logprob - one_j.joint_logprob) < 1e-6


def test_decoded_is_readable_and_has_no_special_tokens(tiny_lm, bundled_lm):
    from mlm_explorer.core.infer.fill import predict

    for lm in (tiny_lm, bundled_lm):
        result = predict(lm, SEVERAL)
        for special in ("[CLS]", "[SEP]", "[MASK]", "##"):
            assert special not in result.decoded
        assert "The " in result.decoded and "dog walks in the" in result.decoded  # the text as typed, case kept


# --------------------------------------------------------------------------------------------- errors


def test_input_errors(tiny_lm):
    from mlm_explorer.core.infer.fill import fill_masks, predict

    with pytest.raises(InputError, match="no mask in the text: put \\[MASK\\] or ___"):
        predict(tiny_lm, "The cute dog walks.")
    with pytest.raises(InputError, match="text is empty"):
        predict(tiny_lm, "   ")
    with pytest.raises(InputError, match="the model takes at most 64"):
        predict(tiny_lm, "the dog [MASK] " * 40)
    assert predict(tiny_lm, "the dog ___ " * 40, truncate=True).predictions
    with pytest.raises(InputError, match="outside the text"):
        fill_masks(tiny_lm, [2, 4, 3], [3])
    with pytest.raises(InputError, match="--top-k"):
        fill_masks(tiny_lm, [2, 4, 3], [1], top_k=0)


def test_seq2seq_model_is_refused(tiny_t5_dir):
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.load.models import load_seq2seq

    with pytest.raises(ModelError, match="use infill"):
        predict(load_seq2seq(tiny_t5_dir), "The cute dog ___ in the park.")
