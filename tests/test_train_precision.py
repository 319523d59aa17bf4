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


@pytest.fixture
def gpu(monkeypatch):
    """Stand in for GPUs of given compute capabilities (no GPU here; no CUDA call is made).
    Records which device each question was about."""
    asked = []

    def use(capabilities: dict[int, tuple[int, int]]):
        def capability(device=None):
            index = torch.device(device).index if device is not None else 0
            asked.append(index)
            return capabilities[index]

        monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
        monkeypatch.setattr(torch.version, "hip", None)
        # torch's own answer counts emulated bf16 (and asks about the current device): never consulted
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: pytest.fail("is_bf16_supported used"))
        return asked

    return use


@pytest.mark.parametrize("capability, precision, expected", [
    ((8, 0), "auto", torch.bfloat16), ((9, 0), "auto", torch.bfloat16), ((8, 9), "auto", torch.bfloat16),
    ((7, 0), "auto", torch.float16), ((7, 5), "auto", torch.float16), ((6, 0), "auto", torch.float16),
    ((8, 0), "fp16", torch.float16), ((8, 0), "bf16", torch.bfloat16), ((8, 0), "fp32", None), ((7, 5), "fp32", None),
])
def test_gpu_precisions(gpu, capability, precision, expected):
    """A100 / H100 / L4 (>= 8.0) get bf16; V100 (7.0), T4 (7.5), P100 (6.0) get fp16 + GradScaler,
    although torch.cuda.is_bf16_supported() says True for them (emulated bf16)."""
    from mlm_explorer.train.runtime import pick_precision

    gpu({0: capability})
    assert pick_precision(torch.device("cuda", 0), precision) is expected


def test_precision_follows_the_chosen_gpu_not_the_current_one(gpu):
    """A machine with a T4 as cuda:0 (the current device) and an A100 as cuda:1."""
    from mlm_explorer.train.runtime import pick_precision

    asked = gpu({0: (7, 5), 1: (8, 0)})
    assert pick_precision(torch.device("cuda", 1), "auto") is torch.bfloat16
    assert pick_precision(torch.device("cuda", 0), "auto") is torch.float16
    assert asked == [1, 0]


@pytest.mark.parametrize("capability", [(7, 0), (7, 5), (6, 1)])
def test_bf16_on_a_gpu_without_it_is_refused(gpu, capability):
    from mlm_explorer.errors import InputError
    from mlm_explorer.train.runtime import pick_precision

    gpu({0: capability})
    with pytest.raises(InputError, match=rf"compute capability {capability[0]}\.{capability[1]}.*--precision fp16"):
        pick_precision(torch.device("cuda", 0), "bf16")


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
