"""`--precision`: which autocast dtype each device gets, and a real bf16 run on the CPU."""

from __future__ import annotations

import pytest
import torch

from train_helpers import FAST, of, run_job, small_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("precision, expected", [("auto", None), ("fp32", None), ("bf16", torch.bfloat16)])
def test_cpu_precisions(precision, expected):
    from mlm_explorer.train.runtime import pick_precision

    assert pick_precision(torch.device("cpu"), precision) is expected


def test_fp16_on_the_cpu_is_a_one_line_error():
    from mlm_explorer.errors import InputError
    from mlm_explorer.train.runtime import pick_precision

    with pytest.raises(InputError, match="needs a GPU"):
        pick_precision(torch.device("cpu"), "fp16")


@pytest.mark.parametrize("bf16_gpu, precision, expected", [
    (True, "auto", torch.bfloat16), (False, "auto", torch.float16), (True, "fp16", torch.float16),
    (True, "bf16", torch.bfloat16), (True, "fp32", None), (False, "fp32", None),
])
def test_gpu_precisions(monkeypatch, bf16_gpu, precision, expected):
    """The choice on a GPU, with torch's bf16 answer stood in (no GPU here; no CUDA call is made)."""
    from mlm_explorer.train.runtime import pick_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
    assert pick_precision(torch.device("cuda"), precision) is expected


def test_bf16_on_a_gpu_without_it_is_refused(monkeypatch):
    from mlm_explorer.errors import InputError
    from mlm_explorer.train.runtime import pick_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(InputError, match="--precision fp16"):
        pick_precision(torch.device("cuda"), "bf16")


def test_bf16_run_on_the_cpu_learns_and_saves_float32(tmp_path, tiny_bert_dir):
    """bf16 autocast: the loss goes down like fp32's, parameters and checkpoints stay float32,
    and the result loads in pipeline("fill-mask")."""
    from safetensors.torch import load_file
    from transformers import pipeline

    corpus = small_corpus(tmp_path / "corpus")
    common = [corpus, "--model", tiny_bert_dir, "--max-steps", 30, "--batch-size", 8, "--lr", 5e-3,
              "--eval-every", 30, "--save-every", 30, *FAST]
    rc, bf16 = run_job([*common, "--precision", "bf16", "--output", tmp_path / "bf16"])
    assert rc == 0, bf16
    assert of(bf16, "started")[0]["precision"] == "bf16 autocast"
    rc, fp32 = run_job([*common, "--precision", "fp32", "--output", tmp_path / "fp32"])
    assert rc == 0 and of(fp32, "started")[0]["precision"] == "float32"
    losses = {name: [e["loss"] for e in of(ev, "step")] for name, ev in (("bf16", bf16), ("fp32", fp32))}
    for name, values in losses.items():
        assert sum(values[-5:]) / 5 < sum(values[:5]) / 5 - 0.5, name  # it learns
    # same data, masks and seed: bf16 rounding moves the losses a little, not the course
    assert abs(losses["bf16"][0] - losses["fp32"][0]) < 0.05
    assert abs(of(bf16, "eval")[-1]["loss"] - of(fp32, "eval")[-1]["loss"]) < 0.5
    weights = load_file(str(tmp_path / "bf16" / "checkpoint-30" / "model.safetensors"))
    assert {t.dtype for t in weights.values()} == {torch.float32}
    assert pipeline("fill-mask", model=str(tmp_path / "bf16" / "best"))("paris is the [MASK] of france.")


def test_fp16_on_the_cpu_stops_the_job_before_training(tmp_path, tiny_bert_dir, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--precision", "fp16", "--output", tmp_path / "run", *FAST])
    assert rc == 2 and not of(events, "started")
    [error] = of(events, "error")
    assert "--precision fp16 needs a GPU" in error["message"]
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {error['message']}"
