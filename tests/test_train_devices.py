"""The device-dependent decisions of the training job, checked on the CPU with the GPU side
stood in: resuming across device types and world sizes (train/rng.py), which device a
generator may mask on, the DDP / compile wrapping, the shared clock, and the span loss."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from mlm_explorer.train import rng
from train_helpers import FAST, of, run_job, small_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


class CudaGenerator:
    """What the loop sees of a torch.Generator on a GPU: its device, and a 16-byte Philox state
    that refuses a CPU generator's 5,056 bytes (as torch does)."""

    device = torch.device("cuda", 0)

    def __init__(self) -> None:
        self.state, self.seeded = torch.zeros(16, dtype=torch.uint8), None

    def get_state(self):
        return self.state

    def set_state(self, state):
        if state.numel() != 16:
            raise RuntimeError("RNG state is wrong size")
        self.state = state

    def manual_seed(self, seed):
        self.seeded = seed
        return self


def _cpu_state(world: int = 1) -> dict:
    entries = []
    for r in range(world):
        gen = torch.Generator().manual_seed(100 + r)
        entries.append(rng.capture(gen, torch.device("cpu")))
    return rng.checkpoint_fields(entries, torch.device("cpu"))


def test_a_cpu_checkpoint_resumes_on_a_gpu_with_fresh_masks():
    gen = CudaGenerator()
    why = rng.restore(_cpu_state(), gen, device=torch.device("cpu"), rank=0, world_size=1, seed=7, step=40)
    assert "ran on cpu and this run is on cuda" in why and gen.seeded is not None
    assert gen.state.numel() == 16  # set_state was never handed the CPU state


def test_a_gpu_checkpoint_resumes_on_the_cpu_with_fresh_masks():
    state = rng.checkpoint_fields([{"mask_generator": torch.zeros(16, dtype=torch.uint8),
                                    "torch_rng": torch.get_rng_state(),
                                    "cuda_rng": torch.zeros(16, dtype=torch.uint8)}], torch.device("cuda", 0))
    gen = torch.Generator()
    why = rng.restore(state, gen, device=torch.device("cpu"), rank=0, world_size=1, seed=7, step=40)
    assert "ran on cuda and this run is on cpu" in why
    again = torch.Generator()
    rng.restore(state, again, device=torch.device("cpu"), rank=0, world_size=1, seed=7, step=40)
    assert torch.equal(gen.get_state(), again.get_state())  # reproducible reseed
    other = torch.Generator()
    rng.restore(state, other, device=torch.device("cpu"), rank=1, world_size=1, seed=7, step=40)
    assert not torch.equal(gen.get_state(), other.get_state())  # distinct per rank


def test_each_rank_restores_its_own_state():
    state = _cpu_state(world=2)
    gen = torch.Generator()
    assert rng.restore(state, gen, device=torch.device("cpu"), rank=1, world_size=2, seed=0, step=5) is None
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(101).get_state())


def test_a_changed_world_size_reseeds_every_rank():
    state = _cpu_state(world=1)
    gens = [torch.Generator(), torch.Generator()]
    lines = [rng.restore(state, g, device=torch.device("cpu"), rank=r, world_size=2, seed=0, step=5)
             for r, g in enumerate(gens)]
    assert all("written by 1 process(es) and this run has 2" in line for line in lines)
    assert not torch.equal(gens[0].get_state(), gens[1].get_state())


def test_an_earlier_checkpoint_format_still_restores():
    gen = torch.Generator().manual_seed(3)
    legacy = {"mask_generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "world_size": 1}
    fresh = torch.Generator()
    assert rng.restore(legacy, fresh, device=torch.device("cpu"), rank=0, world_size=1, seed=0, step=1) is None
    assert torch.equal(fresh.get_state(), gen.get_state())
    legacy_gpu = {"mask_generator": torch.zeros(16, dtype=torch.uint8), "torch_rng": torch.get_rng_state()}
    assert "ran on cuda" in rng.restore(legacy_gpu, fresh, device=torch.device("cpu"), rank=0, world_size=1,
                                        seed=0, step=1)


def test_the_job_resumes_a_gpu_checkpoint_on_the_cpu(tmp_path, tiny_bert_dir):
    """A checkpoint as a GPU run writes it (16-byte CUDA generator states), resumed here: one
    line says the masks are drawn afresh, and training goes on."""
    from mlm_explorer.rundir import TRAINER_STATE

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 2, "--batch-size", 4, "--output", run, *FAST])
    assert rc == 0, events
    path = run / "checkpoint-2" / TRAINER_STATE
    state = torch.load(path, weights_only=True)
    cuda_entry = {"mask_generator": torch.zeros(16, dtype=torch.uint8), "torch_rng": state["rng"][0]["torch_rng"],
                  "cuda_rng": torch.zeros(16, dtype=torch.uint8)}
    state.update(rng.checkpoint_fields([cuda_entry], torch.device("cuda", 0)))
    torch.save(state, path)
    rc, resumed = run_job(["--resume", run, "--max-steps", 4, *FAST])
    assert rc == 0, resumed
    lines = [e["message"] for e in of(resumed, "log") if e["message"].startswith("resumed at step 2")]
    assert len(lines) == 1 and "ran on cuda and this run is on cpu" in lines[0]
    assert [e["step"] for e in of(resumed, "step")] == [3, 4]


def test_a_generator_masks_only_on_its_own_device(monkeypatch):
    from mlm_explorer.core.mask.masking import MaskingVocab, mask_tokens, same_device

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    cuda = lambda i=None: torch.device("cuda", i) if i is not None else torch.device("cuda")  # noqa: E731
    assert same_device(cuda(0), cuda(0)) and not same_device(cuda(0), cuda(1))
    assert same_device(cuda(), cuda(1)) and not same_device(cuda(), cuda(0))  # "cuda": the current GPU
    assert same_device(torch.device("cpu"), torch.device("cpu")) and not same_device(torch.device("cpu"), cuda(0))

    class OnGpu1:
        device = cuda(1)

    vocab = MaskingVocab(mask_id=4, pad_id=0, special=torch.zeros(10, dtype=torch.bool),
                         replaceable=torch.arange(5, 10), continuation=torch.zeros(10, dtype=torch.bool))
    with pytest.raises(ValueError, match="generator is on cuda:1"):
        mask_tokens(torch.ones(1, 4, dtype=torch.long), vocab=vocab, generator=OnGpu1())


@pytest.fixture
def one_process_group():
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_ddp_is_wrapped_first_then_compiled(one_process_group, monkeypatch):
    """torch.compile gets the DDP module (so compiled DDP can overlap the all-reduce with the
    backward pass), and DDP neither broadcasts buffers every forward nor keeps a second copy of
    the gradients. (torch.compile is lazy: nothing is compiled here.)"""
    from mlm_explorer.train.runtime import Runtime, wrap_module

    monkeypatch.setattr(Runtime, "distributed", property(lambda self: True))
    module = torch.nn.Linear(4, 2)
    called, ddp = wrap_module(module, Runtime(torch.device("cpu")), compile=True)
    assert isinstance(ddp, torch.nn.parallel.DistributedDataParallel) and ddp.module is module
    assert called is not ddp and called._orig_mod is ddp
    assert ddp.gradient_as_bucket_view and not getattr(ddp, "forward_sync_buffers", ddp.broadcast_buffers)
    plain, same = wrap_module(torch.nn.Linear(4, 2), Runtime(torch.device("cpu")), compile=False)
    assert isinstance(plain, torch.nn.parallel.DistributedDataParallel) and plain is same


def test_compile_on_the_cpu_is_one_line(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--compile", "--output", tmp_path / "run", *FAST])
    assert rc == 2 and not of(events, "started")
    assert of(events, "error")[0]["message"].startswith("--compile needs a CUDA GPU")


def test_the_shared_clock():
    """Every rank computes the same times from the agreed marks: the time-budget learning rate
    and the cadence of the stop checks (about every 2 s) agree without more communication."""
    from mlm_explorer.train.schedule import SharedClock

    clock = SharedClock(every_step=False)
    clock.mark(0, 1.5)  # rank 0's clock started after its step-0 probes
    assert clock.at(0) == 1.5 and clock.steps_to_next_check() == 1
    clock.mark(1, 1.75)
    assert clock.at(3) == pytest.approx(2.25) and clock.steps_to_next_check() == 8  # 0.25 s a step
    clock.mark(9, 3.75)
    assert clock.steps_to_next_check() == 8
    slow = SharedClock(every_step=False)
    slow.mark(0, 0.0)
    slow.mark(1, 10.0)
    assert slow.steps_to_next_check() == 1
    fast = SharedClock(every_step=False)
    fast.mark(0, 0.0)
    fast.mark(1, 0.001)
    assert fast.steps_to_next_check() == SharedClock.MAX_STEPS_BETWEEN
    alone = SharedClock(every_step=True)
    alone.mark(0, 0.0)
    alone.mark(1, 0.001)
    assert alone.steps_to_next_check() == 1


def test_span_loss_is_t5s_loss_without_t5_computing_it(tiny_t5_dir, monkeypatch):
    """The decoder gets the shifted targets; the model is never handed `labels=` (which makes
    transformers compute a full-vocabulary loss of its own); the sum is T5's mean loss x count."""
    from transformers import T5ForConditionalGeneration

    from mlm_explorer.train.objectives import SpanLoss

    model = T5ForConditionalGeneration.from_pretrained(str(tiny_t5_dir)).eval()
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(3, 100, (3, 12), generator=gen)
    labels = torch.randint(3, 100, (3, 5), generator=gen)
    labels[2, 3:] = -100  # target padding
    with torch.no_grad():
        expected = model(input_ids=inputs, labels=labels).loss * (labels != -100).sum()
        forward = model.forward

        def no_labels(*a, **k):
            assert k.get("labels") is None
            return forward(*a, **k)

        monkeypatch.setattr(model, "forward", no_labels)
        sums = SpanLoss(model)(input_ids=inputs, labels=labels)
    assert sums["mlm_sum"] == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.timeout(300)
def test_the_sparse_head_compiles_to_one_graph_for_every_shape(tiny_bert_dir):
    """torch.compile of the MLM loss module (here with a backend that only counts graphs: the
    CPU needs no compiler for that): one graph - the masked positions are found outside it, so
    no data-dependent break - and no recompile when the batch or the masked count changes."""
    from transformers import AutoTokenizer, BertForMaskedLM

    from mlm_explorer.train.objectives import MLMObjective
    from mlm_explorer.train.runtime import mark_dynamic

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    obj = MLMObjective(BertForMaskedLM.from_pretrained(str(tiny_bert_dir)), tokenizer, device=torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    graphs = []

    def counting(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(obj.module, backend=counting)
    masked = set()
    for rows in (4, 4, 3, 6):
        ids = torch.randint(5, len(tokenizer), (rows, 16), generator=gen)
        batch = obj.corrupt({"input_ids": ids, "lengths": torch.full((rows,), 16), "partial": []}, gen)
        inputs = mark_dynamic(obj.module_inputs(batch))
        masked.add(len(inputs["masked_index"]))
        eager = obj.module(**inputs)
        assert compiled(**inputs)["mlm_sum"].item() == pytest.approx(eager["mlm_sum"].item(), rel=1e-5)
    torch._dynamo.reset()
    assert len(masked) > 2 and len(graphs) == 1
