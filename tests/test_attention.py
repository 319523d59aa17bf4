"""core/attention.py: rows are distributions, means are means, eager only during the call, indices checked."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from mlm_explorer.errors import InputError, ModelError

TEXT = "The cute dog [MASK] in the green park."


def _maps(lm, text=TEXT):
    from mlm_explorer.core.explain.attention import attention_maps
    from mlm_explorer.core.mask.text import tokenize

    tt = tokenize(lm.tokenizer, text)
    return tt, attention_maps(lm, tt.input_ids)


# --------------------------------------------------------------------------------------------- rows are distributions


@pytest.mark.parametrize("which", ["tiny_lm", "bundled_lm"])
def test_every_row_of_every_layer_and_head_sums_to_one(request, which):
    import torch

    lm = request.getfixturevalue(which)
    tt, maps = _maps(lm)
    config = lm.model.config
    length = len(tt.tokens)
    assert maps.weights.shape == (config.num_hidden_layers, config.num_attention_heads, length, length)
    assert (maps.num_layers, maps.num_heads) == (config.num_hidden_layers, config.num_attention_heads)
    assert bool((maps.weights >= 0).all())
    torch.testing.assert_close(maps.weights.sum(-1), torch.ones(maps.weights.shape[:-1]), atol=1e-5, rtol=0)
    for token in range(length):
        for layer in [*range(maps.num_layers), None]:
            for head in [*range(maps.num_heads), None]:
                row = maps.row(token, layer=layer, head=head)
                assert len(row.weights) == length
                assert abs(sum(row.weights) - 1.0) < 1e-5, (token, layer, head)


def test_averaged_rows_are_means_of_the_per_head_rows(tiny_lm):
    import torch

    _, maps = _maps(tiny_lm)
    token = 3
    per = torch.tensor([[maps.row(token, layer=l, head=h).weights for h in range(maps.num_heads)]
                        for l in range(maps.num_layers)])                       # (layers, heads, L)
    for layer in range(maps.num_layers):
        got = torch.tensor(maps.row(token, layer=layer).weights)
        torch.testing.assert_close(got, per[layer].mean(0))                     # mean over heads
    for head in range(maps.num_heads):
        torch.testing.assert_close(torch.tensor(maps.row(token, head=head).weights), per[:, head].mean(0))
    torch.testing.assert_close(torch.tensor(maps.row(token).weights), per.mean((0, 1)))
    assert maps.row(token).label == "mean over layers · mean over heads"
    assert maps.row(token, layer=1, head=0).label == "layer 2/2 · head 1/2"


def test_weights_equal_a_model_loaded_with_eager_attention(tiny_bert_dir, tiny_lm):
    import torch
    from transformers import AutoModelForMaskedLM

    tt, maps = _maps(tiny_lm)
    eager = AutoModelForMaskedLM.from_pretrained(str(tiny_bert_dir), attn_implementation="eager").eval()
    with torch.inference_mode():
        out = eager(input_ids=torch.tensor([tt.input_ids]), output_attentions=True)
    expected = torch.stack([a[0] for a in out.attentions])                     # (layers, heads, L, L)
    torch.testing.assert_close(maps.weights, expected, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------------------------- eager only when asked


@pytest.mark.parametrize("which", ["tiny_lm", "bundled_lm"])
def test_eager_only_during_the_attention_call(request, which):
    from mlm_explorer.core.explain.attention import attention
    from mlm_explorer.core.infer.fill import predict

    lm = request.getfixturevalue(which)
    model = lm.model
    before = model.config._attn_implementation
    assert before == "sdpa"                              # the default load is untouched
    self_attention = model.base_model.encoder.layer[0].attention.self
    seen = []
    handle = self_attention.register_forward_hook(lambda m, a, o: seen.append(m.config._attn_implementation))
    try:
        attention(lm, TEXT, 4)
        assert seen == ["eager"]
        assert model.config._attn_implementation == before
        seen.clear()
        predict(lm, TEXT)                                # an ordinary call afterwards: back on sdpa
        assert seen == [before]
    finally:
        handle.remove()


def test_implementation_restored_when_the_forward_fails(tiny_lm):
    from mlm_explorer.core.explain.attention import attention

    def boom(*_):
        raise RuntimeError("boom")

    handle = tiny_lm.model.base_model.encoder.layer[1].register_forward_hook(boom)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            attention(tiny_lm, TEXT, 1)
    finally:
        handle.remove()
    assert tiny_lm.model.config._attn_implementation == "sdpa"


# --------------------------------------------------------------------------------------------- indices


def test_negative_indices_count_from_the_end(tiny_lm):
    from mlm_explorer.core.explain.attention import attention

    result = attention(tiny_lm, TEXT, 2, layer=-1, head=-2)
    assert (result.row.layer, result.row.head) == (1, 0)
    assert result.row.weights == attention(tiny_lm, TEXT, 2, layer=1, head=0).row.weights
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["token_index"] == 2 and len(payload["weights"]) == len(payload["tokens"])
    assert payload["tokens"][4]["typed_mask"] is True


@pytest.mark.parametrize("kwargs, needle", [
    ({"layer": 2}, "layer 2 does not exist: the model has 2 layers (0-1"),
    ({"layer": -3}, "layer -3 does not exist"),
    ({"head": 5}, "head 5 does not exist: the model has 2 heads (0-1"),
])
def test_bad_layer_or_head_is_a_one_line_input_error(tiny_lm, kwargs, needle):
    from mlm_explorer.core.explain.attention import attention

    with pytest.raises(InputError) as info:
        attention(tiny_lm, TEXT, 1, **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("token", [-1, 11, 99])
def test_token_outside_the_text(tiny_lm, token):
    from mlm_explorer.core.explain.attention import attention

    with pytest.raises(InputError, match=r"outside the text: it has 11 tokens \(0-10\)"):
        attention(tiny_lm, TEXT, token)


def test_a_model_that_returns_no_attentions_is_a_model_error():
    import torch

    from mlm_explorer.core.explain.attention import attention_maps

    class NoAttentions(torch.nn.Module):
        config = SimpleNamespace(_attn_implementation="sdpa")

        def forward(self, input_ids, attention_mask=None, output_attentions=False):
            return SimpleNamespace(last_hidden_state=torch.zeros(1, input_ids.shape[1], 4), attentions=())

    lm = SimpleNamespace(kind="mlm", name="plain", model=NoAttentions(), device=torch.device("cpu"), max_length=16)
    with pytest.raises(ModelError, match="'plain' \\(NoAttentions\\) does not return attention weights"):
        attention_maps(lm, [1, 2, 3])
