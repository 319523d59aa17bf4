"""core/infer/forward.py: the body / head split, logits at masked positions only, the input guards."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlm_explorer.errors import InputError, ModelError


def _tiny_config(kind):
    from transformers import AlbertConfig, BertConfig, DistilBertConfig, ElectraConfig, RobertaConfig

    common = dict(vocab_size=97, max_position_embeddings=40, pad_token_id=1)
    if kind == "distilbert":
        return DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64, **common)
    size = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    if kind == "albert":
        return AlbertConfig(embedding_size=16, **size, **common)
    if kind == "electra":
        return ElectraConfig(embedding_size=16, **size, **common)
    return {"bert": BertConfig, "roberta": RobertaConfig}[kind](**size, **common)


@pytest.mark.parametrize("kind", ["bert", "roberta", "distilbert", "albert", "electra", "unknown"])
def test_encoder_head_split_equals_the_full_forward(kind):
    import torch
    from transformers import AutoModelForMaskedLM, BertForMaskedLM

    from mlm_explorer.core.infer import forward

    torch.manual_seed(0)
    if kind == "unknown":   # a class the split does not know (a subclass too): runs whole, then gathers
        model = type("MyOwnMaskedLM", (BertForMaskedLM,), {})(_tiny_config("bert")).eval()
        assert forward.head_split(model) is None
    else:
        model = AutoModelForMaskedLM.from_config(_tiny_config(kind)).eval()
        assert forward.head_split(model) is not None
    lm = SimpleNamespace(model=model, device=torch.device("cpu"))
    ids = [0, 5, 17, 3, 44, 9, 2]
    positions = [1, 4, 5]
    with torch.inference_mode():
        full = model(input_ids=torch.tensor([ids])).logits[0, positions]
    assert torch.allclose(forward.mask_logits(lm, ids, positions), full, atol=1e-5)


def test_masked_logits_takes_a_bool_mask_and_runs_the_head_there_only():
    import torch
    from transformers import AutoModelForMaskedLM

    from mlm_explorer.core.infer.forward import masked_logits

    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(_tiny_config("bert")).eval()
    ids = torch.randint(5, 97, (3, 9))
    attention = torch.ones_like(ids)
    attention[2, 6:] = 0                                       # a padded row
    sel = torch.zeros_like(ids, dtype=torch.bool)
    sel[0, 1] = sel[1, 4] = sel[1, 7] = sel[2, 2] = True
    rows = []
    handle = model.get_output_embeddings().register_forward_hook(lambda m, a, out: rows.append(a[0].shape[0]))
    with torch.no_grad():
        sparse = masked_logits(model, sel, input_ids=ids, attention_mask=attention, token_type_ids=None)
        handle.remove()
        full = model(input_ids=ids, attention_mask=attention).logits[sel]
    assert rows == [4] and sparse.shape == (4, 97)             # 4 positions through the vocabulary projection
    assert torch.allclose(sparse, full, atol=1e-5)


def test_bert_for_pretraining_splits_into_its_mlm_half():
    import torch
    from transformers import BertForPreTraining

    from mlm_explorer.core.infer.forward import masked_logits

    torch.manual_seed(0)
    model = BertForPreTraining(_tiny_config("bert")).eval()
    ids = torch.randint(5, 97, (2, 7))
    where = (torch.tensor([0, 1]), torch.tensor([3, 5]))
    with torch.no_grad():
        full = model(input_ids=ids).prediction_logits[where]
        assert torch.allclose(masked_logits(model, where, input_ids=ids), full, atol=1e-5)


def test_guards_say_one_thing_each(tiny_lm, tiny_t5_dir):
    from mlm_explorer.core.infer import forward
    from mlm_explorer.core.load.models import load_seq2seq
    from mlm_explorer.core.mask.text import tokenize

    with pytest.raises(ModelError, match="is a seq2seq model; saliency needs an encoder masked-LM"):
        forward.require_encoder(load_seq2seq(tiny_t5_dir), "saliency")
    with pytest.raises(InputError, match="text is empty"):
        forward.check_ids(tiny_lm, [])
    with pytest.raises(InputError, match="the model takes at most 64; shorten it or pass --truncate"):
        forward.check_ids(tiny_lm, [5] * 65)
    with pytest.raises(InputError, match=r"no mask in the text: put \[MASK\] or ___ where the answer goes"):
        forward.require_masks([], "the answer goes")
    with pytest.raises(InputError, match=r"token 7 is outside the text: it has 5 tokens \(0-4\)"):
        forward.check_position(7, 5)
    tt = tokenize(tiny_lm.tokenizer, "The [MASK] dog ___ in the park.")
    blanks = forward.typed_masks(tt)
    assert len(blanks) == 2 and forward.pick_blank(tt, 2, "x") == blanks[1]
    with pytest.raises(InputError, match="say which one with --mask N"):
        forward.pick_blank(tt, None, "x")
    with pytest.raises(InputError, match="--mask 3: the text has 2 blank"):
        forward.pick_blank(tt, 3, "x")
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="--temperature"):
            forward.check_temperature(bad)
    with pytest.raises(InputError, match="--top-k"):
        forward.check_top_k(0)
