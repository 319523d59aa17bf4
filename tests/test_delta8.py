"""core/delta8.py (int8 changes of the bundled model's encoder matrices) and the bundled
loader's use of it, on a tiny BERT: what is shipped comes back within the rounding bound."""

from __future__ import annotations

import pytest
import torch

from mlm_explorer.core.load import delta8


def test_rounding_error_is_at_most_half_a_step_per_row():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(48, 32, generator=g)
    change = torch.randn(48, 32, generator=g) * torch.logspace(-4, -1, 48).unsqueeze(1)  # rows of every size
    change[7] = 0.0  # an untouched row
    q, scale = delta8.encode(base + change, base)
    assert q.dtype == torch.int8 and q.shape == base.shape and scale.shape == (48, 1)
    assert int(q.abs().max()) == 127 and not q[7].any()
    error = (delta8.decode(q, scale) - change).abs()
    assert (error <= scale / 2 + 1e-7).all()
    rel = error.amax(1) / change.abs().amax(1).clamp_min(1e-12)
    assert rel.max() <= 0.005  # each row: within 0.5% of its largest change (0.4% + float32 rounding)


def _tiny_pair(tiny_bert_dir):
    """(base model, 'trained' copy): layer 1's matrices and the head changed."""
    from transformers import BertForMaskedLM

    base = BertForMaskedLM.from_pretrained(str(tiny_bert_dir)).eval()
    trained = BertForMaskedLM.from_pretrained(str(tiny_bert_dir)).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if name.startswith("bert.encoder.layer.1.") or name.startswith("cls.predictions.transform"):
                p.add_(torch.randn(p.shape, generator=g) * 0.01)
    return base, trained


def _shipped(base, trained) -> dict:
    b, t = base.state_dict(), trained.state_dict()
    out = {}
    for name in t:
        if name.startswith("bert.encoder.layer.1.") and t[name].dim() == 2:
            out[name + delta8.Q_SUFFIX], out[name + delta8.SCALE_SUFFIX] = delta8.encode(t[name], b[name])
        elif name.startswith("bert.encoder.layer.1.") or (name.startswith("cls.") and "decoder" not in name):
            out[name] = t[name].to(torch.float16)
    return out


def test_apply_rebuilds_the_trained_model(tiny_bert_dir):
    base, trained = _tiny_pair(tiny_bert_dir)
    shipped = _shipped(base, trained)
    assert delta8.problems(shipped, base.state_dict()) == []
    names = delta8.apply(base.state_dict(), shipped)
    assert "bert.encoder.layer.1.attention.self.query.weight" in names and "cls.predictions.bias" in names
    after, want = base.state_dict(), trained.state_dict()
    for name in names:  # int8 deltas: within 1e-4 here; fp16 values (LayerNorm ~1.0): within 1e-3
        tol = 2e-4 if name + delta8.Q_SUFFIX in shipped else 1e-3
        assert torch.allclose(after[name], want[name], atol=tol), name
    ids = torch.tensor([[2, 10, 11, 4, 12, 3]])
    assert torch.allclose(base(input_ids=ids).logits, trained(input_ids=ids).logits, atol=1e-2)


@pytest.mark.parametrize("damage, needle", [
    (lambda s: s.update({"bert.encoder.layer.9.output.dense.weight": torch.zeros(2)}), "unknown tensor"),
    (lambda s: s.pop("bert.encoder.layer.1.output.dense.weight" + delta8.SCALE_SUFFIX), "bad delta scale"),
    (lambda s: s.pop("bert.encoder.layer.1.output.dense.weight" + delta8.Q_SUFFIX), "scale without delta"),
    (lambda s: s.update({"cls.predictions.bias": torch.zeros(3, dtype=torch.float16)}), "wrong shape"),
])
def test_problems_are_named(tiny_bert_dir, damage, needle):
    base, trained = _tiny_pair(tiny_bert_dir)
    shipped = _shipped(base, trained)
    damage(shipped)
    assert any(needle in p for p in delta8.problems(shipped, base.state_dict()))


def test_the_bundled_loader_applies_deltas_and_refuses_a_bad_file(tiny_bert_dir, tmp_path):
    from safetensors.torch import save_file

    from mlm_explorer.core.load.bundled import _load_head
    from mlm_explorer.errors import ModelError

    base, trained = _tiny_pair(tiny_bert_dir)
    shipped = _shipped(base, trained)
    save_file(shipped, str(tmp_path / "head.safetensors"))
    _load_head(base, tmp_path / "head.safetensors")
    name = "bert.encoder.layer.1.intermediate.dense.weight"
    assert torch.allclose(base.state_dict()[name], trained.state_dict()[name], atol=2e-4)
    # without the head: refused in one line
    save_file({k: v for k, v in shipped.items() if not k.startswith("cls.")}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ModelError, match="head tensors missing") as err:
        _load_head(base, tmp_path / "bad.safetensors")
    assert "\n" not in str(err.value) and "reinstall" in str(err.value)
