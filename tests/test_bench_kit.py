"""benchmarks/benchkit: the FLOPs arithmetic, the clocks (CUDA events included, with a stand-in
for the GPU), the `--device cuda` selection, and a real benchmark writing its results file."""

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchkit import flops, options  # noqa: E402
from benchkit.results import Results  # noqa: E402
from benchkit.timing import Clock, timed_pair  # noqa: E402

BENCHMARKS = ["bench_masking", "bench_train", "bench_precision", "bench_score", "bench_app"]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("head_fraction", [1.0, 0.25])
def test_training_flops_formula_matches_torchs_flop_counter(head_fraction):
    """6 * (encoder + head) multiply-adds per token against torch.utils.flop_counter on a real
    forward + backward of a small BERT (the head at every position, or at a quarter of them)."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=256, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    config._attn_implementation = "eager"  # attention as matmuls: the counter does not see CPU flash attention
    model = BertForMaskedLM(config)
    B, L = 2, 32
    ids = torch.randint(5, 1000, (B, L))
    picked = torch.zeros(B, L, dtype=torch.bool)
    picked.view(-1)[:: round(1 / head_fraction)] = True
    with FlopCounterMode(display=False) as counter:
        hidden = model.bert(input_ids=ids).last_hidden_state
        logits = model.cls(hidden[picked])
        torch.nn.functional.cross_entropy(logits, ids[picked]).backward()
    counted = counter.get_total_flops()
    formula = flops.training_flops_per_token(config, L, head_fraction) * B * L
    assert abs(counted / formula - 1) < 0.03, (counted, formula)


def test_peak_and_mfu():
    assert flops.peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert flops.peak_flops("NVIDIA H100 PCIe") == 756e12 and flops.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert flops.peak_flops("NVIDIA L40S") == 362e12 and flops.peak_flops("Some GPU") is None
    assert flops.peak_flops("Some GPU", override_tflops=100) == 100e12
    assert flops.mfu(1000.0, 1e9, 4e12) == pytest.approx(0.25) and flops.mfu(1000.0, 1e9, None) is None


def test_host_clocks_time_calls():
    # bounds loose enough for a loaded machine: a sleep only ever overshoots
    assert 0.009 < Clock("wall").seconds(lambda: time.sleep(0.01), 3) < 1
    assert Clock("cpu").seconds(lambda: time.sleep(0.01), 3) < 0.005  # sleeping costs no CPU
    ours, anchor, ratios = timed_pair(lambda: time.sleep(0.001), lambda: time.sleep(0.03), Clock("wall"),
                                      warmup=1, repeats=3, min_time=0)
    assert anchor > ours and all(r > 1.5 for r in ratios)


class FakeEvent:
    """A stand-in for torch.cuda.Event: records host time (the GPU's stream would record GPU time)."""

    recorded: list = []

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.at = None

    def record(self):
        self.at = time.perf_counter()
        FakeEvent.recorded.append(self)

    def synchronize(self):
        pass

    def elapsed_time(self, end):  # milliseconds, as CUDA events report them
        return (end.at - self.at) * 1e3


def test_cuda_clock_uses_events_and_synchronises(monkeypatch):
    syncs = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: syncs.append(1))
    FakeEvent.recorded = []
    seconds = Clock("cuda").seconds(lambda: time.sleep(0.01), 2)
    assert len(FakeEvent.recorded) == 2 and syncs  # start and end events, a sync before starting
    assert 0.009 < seconds < 1  # per call, in seconds (milliseconds would read 10 or more)


def args_for(device: str, clock: str = "wall") -> argparse.Namespace:
    return argparse.Namespace(device=device, clock=clock)


def test_device_cuda_selects_events_and_bf16_autocast(monkeypatch):
    monkeypatch.setattr(options, "cuda_available", lambda: True)
    assert options.select_device(args_for("cuda")) == torch.device("cuda")
    assert options.clock_for(args_for("cuda", "cpu")).kind == "cuda"
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else _nothing():
        ctx = options.autocast(torch.device("cuda"))
    assert ctx.device == "cuda" and ctx.fast_dtype == torch.bfloat16
    assert options.clock_for(args_for("cpu", "cpu")).kind == "cpu"
    train = load("bench_train")
    a = argparse.Namespace(device="cuda", batch_size=None, model_size=None)
    train.settle_defaults(a)
    assert (a.batch_size, a.model_size) == (32, "base")  # BERT-base at block 128 on a GPU


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", BENCHMARKS)
def test_device_cuda_without_a_gpu_is_one_line(name, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        load(name).main(["--device", "cuda", "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and "--device cuda" in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_results_file_records_machine_rounds_and_misses(tmp_path):
    results = Results("demo", script="benchmarks/bench_demo.py", command="x", settings={"k": 1})
    results.claim("a", title="a claim", anchor="an anchor", goal={"op": ">=", "value": 2})
    assert results.add("a", "4x4", 1, 2.5) is True and results.add("a", "4x4", 2, 1.5) is False
    results.profile("a", "4x4", [("mask_tokens", 3.0), ("rand", 1.0)], how="measured")
    data = json.loads(results.write(tmp_path).read_text())
    assert data["machine"]["cores"] and data["machine"]["load_average_after"] is not None
    claim = data["claims"][0]
    assert claim["met"] is False and claim["summary"]["4x4"] == {"min": 1.5, "median": 2.0, "max": 2.5, "rounds": 2,
                                                                 "met": False}
    assert [p["share"] for p in claim["profiles"][0]["parts"]] == [75.0, 25.0]


def test_bench_masking_writes_its_results(tmp_path):
    """A real (short) run of one claim: every shape, every round, in the results file."""
    bench = load("bench_masking")
    assert bench.main(["--rounds", "2", "--repeats", "1", "--only", "d", "--results", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "masking.json").read_text())
    (claim,) = data["claims"]
    assert claim["id"] == "d" and len(claim["rows"]) == 2 * len(bench.SHAPES)
    assert {row["round"] for row in claim["rows"]} == {1, 2}
    assert all(row["ours_ms"] > 0 and row["anchor_ms"] > 0 for row in claim["rows"])
    assert claim["met"] is not None and data["settings"]["rounds"] == 2


def test_bench_train_compile_mode(capsys, tmp_path):
    """--compile times our job compiled too (issue 20: compile measured); it needs --device cuda,
    and says so in one line without one."""
    train = load("bench_train")
    args = argparse.Namespace(steps=8, batch_size=32, block_size=128, threads=1, device="cuda")
    argv = train.job_argv(Path("model"), Path("corpus"), args, tmp_path / "out", "bf16", compile=True)
    assert argv[-1] == "--compile" and "--compile" not in train.job_argv(Path("model"), Path("corpus"), args,
                                                                          tmp_path / "out", "bf16")
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--compile", "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err == "error: --compile needs --device cuda (the training job compiles on a GPU only)"
    assert not list(tmp_path.iterdir())


def test_bench_train_mfu_for_bert_base_at_block_128(monkeypatch, tmp_path):
    """The figures --device cuda prints, computed on the CPU: model FLOPs per token of BERT-base
    at block 128 (the head at every position for HF, at 15% for ours), TFLOPs/s and MFU against
    the GPU's bf16 peak; and the FLOPs ratio the sparse head alone can buy."""
    from transformers import BertConfig

    train = load("bench_train")
    BertConfig().save_pretrained(tmp_path)  # BERT-base: 12 layers, hidden 768, 3072, vocabulary 30522
    monkeypatch.setattr(train, "gpu_name", lambda device: "NVIDIA A100-SXM4-80GB")
    args = argparse.Namespace(device="cuda", block_size=128, peak_tflops=None)
    full = train.flops_figures(tmp_path, args, 10_000.0, 1.0)
    per_token = 6 * (12 * (4 * 768**2 + 2 * 768 * 3072 + 2 * 128 * 768) + 768**2 + 768 * 30522)
    assert full["flops_per_token"] == per_token
    assert full["mfu"] == pytest.approx(10_000 * per_token / 312e12)
    assert full["tflops_per_s"] == pytest.approx(10_000 * per_token / 1e12)
    sparse = train.flops_figures(tmp_path, args, 10_000.0, 0.15)
    assert sparse["flops_per_token"] < full["flops_per_token"]
    assert train.flops_ceiling(tmp_path, args) == pytest.approx(full["flops_per_token"] / sparse["flops_per_token"])
    assert train.flops_figures(tmp_path, argparse.Namespace(device="cpu", block_size=128, peak_tflops=None),
                               10_000.0, 1.0)["mfu"] is None  # no peak on a CPU: no MFU printed


def test_bench_train_leaves_emulated_bf16_out_by_default(monkeypatch):
    from mlm_explorer.train import runtime

    train = load("bench_train")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert train.default_precisions(torch.device("cpu")) == "fp32"
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert train.default_precisions(torch.device("cpu")) == "fp32,bf16"
    assert train.default_precisions(torch.device("cuda")) == "fp32,bf16"


def test_profiles_leave_idle_waits_out_and_group_by_module():
    """A UI thread's profile says where its work goes: the event loop's idle wait (epoll) is not
    work, and by module the parts name the library doing it."""
    import cProfile
    import json as json_module
    import select

    from benchkit import profiling

    prof = cProfile.Profile()
    poller = select.epoll()
    prof.enable()
    poller.poll(0.05)  # idle: waiting for an event
    json_module.dumps({"a": list(range(20000))})
    prof.disable()
    poller.close()
    names = [what for what, _ in profiling.profile_parts(prof)]
    assert "epoll.poll" not in names and "encoder.py:iterencode" in names
    modules = dict(profiling.profile_parts(prof, by="module"))
    assert "json/encoder.py" in modules and "epoll.poll" not in modules
