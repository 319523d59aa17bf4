"""core/saliency.py: IG completeness, grad x input against hand computations, targets, model state left alone."""

from __future__ import annotations

import json

import pytest

from mlm_explorer.errors import InputError

TEXT = "The cute dog [MASK] in the green park."
FRANCE = "The capital of France is [MASK]."


def _full_logprob(model, embeds, position, target):
    """log p(target at position) through the whole model (not core's encoder/head split): embeds (B, L, E) -> (B,)."""
    import torch

    logits = model(inputs_embeds=embeds).logits[:, position]                    # (B, V)
    return torch.log_softmax(logits.double(), dim=-1)[:, target]


# --------------------------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("which, text, target", [
    ("tiny_lm", TEXT, None), ("tiny_lm", TEXT, "walks"), ("tiny_lm", "[MASK] is the capital of france.", "paris"),
    ("bundled_lm", FRANCE, None), ("bundled_lm", FRANCE, "paris"), ("bundled_lm", "The cat sat on the [MASK].", "mat"),
])
def test_integrated_gradients_completeness_within_5_percent_at_32_steps(request, which, text, target):
    from mlm_explorer.core.explain.saliency import saliency

    lm = request.getfixturevalue(which)
    s = saliency(lm, text, target=target, steps=32).saliency
    delta = s.score_input - s.score_baseline
    assert abs(sum(s.integrated_gradients) - delta) <= 0.05 * abs(delta), (s.ig_total, delta)
    assert s.completeness_gap < 0.05
    assert s.ig_total == pytest.approx(sum(s.integrated_gradients), rel=1e-4, abs=1e-6)


def test_scores_agree_with_fill(bundled_lm):
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.explain.saliency import saliency

    top = predict(bundled_lm, FRANCE, top_k=5).predictions[0].candidates
    s = saliency(bundled_lm, FRANCE, method="grad-x-input").saliency
    assert s.target_id == top[0].token_id and s.target_rank == 1
    assert s.score_input == pytest.approx(top[0].logprob, abs=1e-4)
    assert s.target_probability == pytest.approx(top[0].probability, abs=1e-5)
    s4 = saliency(bundled_lm, FRANCE, target=top[3].token_id, method="grad-x-input").saliency
    assert s4.target_rank == 4 and s4.target_text == top[3].text


def test_specials_and_the_mask_itself_get_no_integrated_gradient(tiny_lm):
    from mlm_explorer.core.explain.saliency import saliency

    result = saliency(tiny_lm, TEXT)
    ig = result.saliency.integrated_gradients
    for tok in result.tokens:
        if tok.special or tok.typed_mask:
            assert ig[tok.index] == 0.0
    assert any(v != 0.0 for v in ig)


def test_batches_of_path_points_give_the_same_result(tiny_lm, monkeypatch):
    from mlm_explorer.core.explain import saliency as module

    whole = module.saliency(tiny_lm, TEXT, steps=8).saliency
    monkeypatch.setattr(module, "_TOKENS_PER_BATCH", 11 * 2)                   # 11 tokens: 2 path points per forward
    split = module.saliency(tiny_lm, TEXT, steps=8).saliency
    assert split.integrated_gradients == pytest.approx(whole.integrated_gradients, rel=1e-4, abs=1e-7)


# --------------------------------------------------------------------------------------------- grad x input by hand


def test_grad_x_input_equals_autograd_by_hand(tiny_lm):
    import torch

    from mlm_explorer.core.explain.saliency import saliency
    from mlm_explorer.core.mask.text import tokenize

    s = saliency(tiny_lm, TEXT, method="grad-x-input").saliency
    ids = torch.tensor([tokenize(tiny_lm.tokenizer, TEXT).input_ids])               # (1, L)
    embeds = tiny_lm.model.get_input_embeddings()(ids).detach().requires_grad_(True)   # (1, L, E)
    (grad,) = torch.autograd.grad(_full_logprob(tiny_lm.model, embeds, s.position, s.target_id).sum(), embeds)
    expected = (grad * embeds).sum(-1)[0].detach()                                 # (L,)
    scale = float(expected.abs().max())
    assert torch.allclose(torch.tensor(s.grad_x_input), expected.float(), rtol=1e-4, atol=1e-5 * scale)
    assert torch.allclose(torch.tensor(s.gradient_norm), grad[0].norm(dim=-1).float(), rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in tiny_lm.model.parameters())


def test_grad_x_input_equals_finite_differences(tiny_bert_dir, tiny_lm):
    """d f(e with token i scaled by t) / dt at t = 1 is token i's grad x input: central differences in float64."""
    import torch

    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.explain.saliency import saliency
    from mlm_explorer.core.mask.text import tokenize

    s = saliency(tiny_lm, TEXT, method="grad-x-input").saliency
    double = load_mlm(str(tiny_bert_dir), device="cpu").model.double()
    ids = torch.tensor([tokenize(tiny_lm.tokenizer, TEXT).input_ids])
    eps = 1e-5
    with torch.no_grad():
        embeds = double.get_input_embeddings()(ids)                               # (1, L, E) float64
        fd = []
        for i in range(ids.shape[1]):
            scaled = embeds.repeat(2, 1, 1)                                       # (2, L, E): t = 1 + eps, 1 - eps
            scaled[0, i] *= 1 + eps
            scaled[1, i] *= 1 - eps
            up, down = _full_logprob(double, scaled, s.position, s.target_id).tolist()
            fd.append((up - down) / (2 * eps))
    fd = torch.tensor(fd, dtype=torch.float64)
    assert torch.allclose(torch.tensor(s.grad_x_input, dtype=torch.float64), fd, rtol=1e-3, atol=1e-3 * float(fd.abs().max()))


def test_changing_the_target_changes_the_attributions(tiny_lm):
    from mlm_explorer.core.explain.saliency import saliency

    top = saliency(tiny_lm, TEXT).saliency
    other = saliency(tiny_lm, TEXT, target="park").saliency
    assert other.target_id != top.target_id and other.target == "park" and other.target_rank > 1
    assert other.integrated_gradients != pytest.approx(top.integrated_gradients, abs=1e-6)
    assert other.grad_x_input != pytest.approx(top.grad_x_input, abs=1e-6)


# --------------------------------------------------------------------------------------------- model state, targets, errors


def test_parameters_and_mode_are_left_as_they_were(tiny_lm):
    from mlm_explorer.core.explain.saliency import saliency

    model = tiny_lm.model
    frozen = next(model.parameters())
    frozen.requires_grad_(False)                      # one frozen by the caller stays frozen
    try:
        before = [p.requires_grad for p in model.parameters()]
        saliency(tiny_lm, TEXT, steps=4)
        assert [p.requires_grad for p in model.parameters()] == before
        assert all(p.grad is None for p in model.parameters())
        assert model.training is False
    finally:
        frozen.requires_grad_(True)


def test_target_words(bundled_lm, tiny_lm):
    from mlm_explorer.core.explain.saliency import target_id_for

    tok = bundled_lm.tokenizer
    assert target_id_for(tok, "Paris") == tok.convert_tokens_to_ids("paris")
    assert target_id_for(tok, "##ing") == tok.convert_tokens_to_ids("##ing")
    with pytest.raises(InputError, match=r"'unbelievable' is 3 pieces for this tokenizer \(un ##believ ##able\)"):
        target_id_for(tiny_lm.tokenizer, "unbelievable")
    with pytest.raises(InputError, match="empty"):
        target_id_for(tok, "  ")


def test_a_clicked_position_is_masked_and_explained(tiny_lm):
    from mlm_explorer.core.explain.saliency import saliency

    result = saliency(tiny_lm, "The cute dog walks in the green park.", position=4)
    assert result.saliency.position == 4 and result.tokens[4].text == "walks"
    payload = json.loads(json.dumps(result.to_dict()))
    assert len(payload["integrated_gradients"]) == len(payload["tokens"]) == len(payload["grad_x_input"])


@pytest.mark.parametrize("kwargs, needle", [
    ({"text": "The cute dog walks."}, "no mask in the text"),
    ({"steps": 0}, "--steps 0"),
    ({"method": "lime"}, "--method 'lime'"),
    ({"baseline": "noise"}, "--baseline 'noise'"),
    ({"position": 0}, "special token [CLS]"),
    ({"position": 40}, "token 40 is outside the text"),
])
def test_bad_input_is_a_one_line_input_error(tiny_lm, kwargs, needle):
    from mlm_explorer.core.explain.saliency import saliency

    text = kwargs.pop("text", TEXT)
    with pytest.raises(InputError) as info:
        saliency(tiny_lm, text, **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)
