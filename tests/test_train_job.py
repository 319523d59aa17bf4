"""The training job run in-process with tiny models: it learns, saves, resumes, refuses bad input."""

from __future__ import annotations

import errno
import json
import shutil

import pytest
import torch

from train_helpers import FAST, SENTENCES, of, run_job, small_corpus, write_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def no_dropout(tiny_bert_dir, tiny_t5_dir, tmp_path_factory):
    """The tiny models without dropout: memorising a sentence then takes a few hundred steps."""
    from transformers import AutoTokenizer, BertForMaskedLM, T5ForConditionalGeneration

    out = {}
    for name, src, cls, kw in (
        ("bert", tiny_bert_dir, BertForMaskedLM, {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}),
        ("t5", tiny_t5_dir, T5ForConditionalGeneration, {"dropout_rate": 0.0}),
    ):
        dst = tmp_path_factory.mktemp(f"{name}-no-dropout")
        cls.from_pretrained(str(src), **kw).save_pretrained(dst)
        AutoTokenizer.from_pretrained(str(src)).save_pretrained(dst)
        out[name] = dst
    return out


def _losses(events):
    return [e["loss"] for e in of(events, "step")]


def test_mlm_loss_goes_down_and_run_dir_is_complete(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 40, "--batch-size", 8, "--lr", 5e-3,
                          "--eval-every", 20, "--save-every", 10, "--output", run, *FAST])
    assert rc == 0, events
    losses = _losses(events)
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
    started = of(events, "started")[0]
    assert started["objective"] == "mlm" and started["device"] == "cpu" and started["trainable"] == started["parameters"]
    assert started["data"]["files"] == 3 and started["data"]["eval_blocks"] >= 1
    step = of(events, "step")[-1]
    assert {"step", "loss", "lr", "tokens_per_s", "eta_s", "epoch"} <= set(step)
    evals = of(events, "eval")
    assert [e["step"] for e in evals] == [20, 40] and all(0 <= e["accuracy"] <= 1 for e in evals)
    assert evals[-1]["perplexity"] == pytest.approx(torch.tensor(evals[-1]["loss"]).exp().item(), rel=1e-4)
    assert [e["step"] for e in of(events, "checkpoint")] == [10, 20, 30, 40]
    assert of(events, "finished")[0]["best"] == str(run / "best")
    # the last 2 checkpoints + best, a `latest` pointer, run.json
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["best", "checkpoint-30", "checkpoint-40"]
    assert (run / "latest").read_text().strip() == "checkpoint-40"
    assert (run / "checkpoint-40" / "model.safetensors").exists() and (run / "checkpoint-40" / "tokenizer.json").exists()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["best"]["loss"] == min(e["loss"] for e in evals)
    assert len(info["history"]["step"]) == 40 and info["config"]["max_steps"] == 40
    from mlm_explorer.rundir import list_runs

    assert list_runs() == []  # runs_dir() is empty: this run went to --output
    [listed] = list_runs(tmp_path)
    assert listed.status == "finished" and listed.best_eval_loss == info["best"]["loss"] and listed.step == 40


def test_memorised_sentences_fill_in_pipeline(tmp_path, no_dropout):
    from transformers import pipeline

    corpus = write_corpus(tmp_path / "corpus", ["\n".join(SENTENCES) + "\n"] * 4)
    run = tmp_path / "run"
    # blocks of 32 hold both sentences whole; with 16 they are cut at places that the held-out file
    # (the eval set, which picks best/) does not share, and whether the model then memorises in
    # 200 steps depends on the seed (3 of 6 seeds failed, with either masking stream)
    rc, events = run_job([corpus, "--model", no_dropout["bert"], "--max-steps", 200, "--batch-size", 16, "--lr", 2e-2,
                          "--block-size", 32, "--mask-rate", 0.3, "--eval-fraction", 0.25, "--eval-every", 50,
                          "--save-every", 200, "--output", run, "--threads", "1", "--log-every", "50",
                          "--keep-duplicates"])  # four copies of the same text: memorise it
    assert rc == 0, events
    fill = pipeline("fill-mask", model=str(run / "best"))
    # the memorised text is the file's: both sentences in one block (alone, the first sentence is a
    # context the model never saw, and "walks" and "park" tie there)
    assert fill("the cute dog walks in the green [MASK]. paris is the capital of france.")[0]["token_str"] == "park"
    assert fill("the cute [MASK] walks in the green park. paris is the capital of france.")[0]["token_str"] == "dog"
    assert fill("the cute dog walks in the green park. paris is the capital of [MASK].")[0]["token_str"] == "france"


def test_span_t5_infills_a_memorised_sentence(tmp_path, no_dropout):
    """The classic "The cute dog walks in the green park." through the real job and core/infill.py.

    A T5 trained on memorised rows learns to write back whatever of its training row is missing
    from the input. Rows of packed, repeated text (70 raw tokens: the sentence about three times) taught
    it to write other pieces of the sentence into the blank, so here every training row is one
    sentence and its </s>, as infill's input is: one file per sentence, two sentences of the same
    token length (so the model must tell them apart by context), and a block size whose raw row
    (raw_length) is exactly that length. With 21-token rows, --noise-density 0.25 and
    --mean-span-length 2 give two noise spans per row (T5's recipe ends every row with one, so
    the default 0.15 / 3 would only ever hide the last three tokens). --lr 5e-3: 1e-2 plateaus.
    """
    from transformers import AutoTokenizer

    from mlm_explorer.train.objectives import SpanObjective

    berlin = "Berlin is the capital of Germany."
    tok = AutoTokenizer.from_pretrained(str(no_dropout["t5"]))
    row = SpanObjective.raw_length(19, 0.25, 2.0)
    assert [len(tok(s)["input_ids"]) for s in (SENTENCES[0], berlin)] == [row, row] == [21, 21]  # sentence + </s>
    corpus = write_corpus(tmp_path / "corpus", [SENTENCES[0] + "\n", berlin + "\n"] * 4)
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", no_dropout["t5"], "--max-steps", 600, "--batch-size", 16, "--lr", 5e-3,
                          "--block-size", 19, "--noise-density", 0.25, "--mean-span-length", 2,
                          "--eval-fraction", 0.25, "--eval-every", 600, "--save-every", 600, "--output", run,
                          "--threads", "1", "--log-every", "50", "--keep-duplicates"])  # eight files, two texts
    assert rc == 0, events
    started = of(events, "started")[0]
    assert started["objective"] == "span" and started["data"]["raw_block_size"] == row
    assert started["data"]["train_blocks"] == 6  # six files, six rows: one sentence and its </s> each
    evals = of(events, "eval")
    assert evals[-1]["loss"] < 0.5 and evals[-1]["accuracy"] > 0.9
    from mlm_explorer.core.infer.infill import infill
    from mlm_explorer.core.load.models import load_seq2seq

    lm = load_seq2seq(str(run / "best"), device="cpu")

    def fill(text):
        return [f.text for f in infill(lm, text).candidates[0].fills]

    assert fill("The cute dog walks in the ___ park.") == ["green"]
    assert fill("Berlin is the capital of ___.") == ["Germany"]  # another sentence, another position


def test_resume_with_a_new_learning_rate_uses_it(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    common = ["--model", tiny_bert_dir, "--batch-size", 4, "--schedule", "constant", "--warmup-steps", 0,
              "--eval-every", 100, "--save-every", 3, *FAST]
    rc, first = run_job([corpus, "--max-steps", 3, "--lr", 1e-3, "--output", tmp_path / "run", *common])
    assert rc == 0 and of(first, "step")[-1]["lr"] == pytest.approx(1e-3)
    rc, resumed = run_job(["--resume", tmp_path / "run", "--max-steps", 5, "--lr", 4e-4, *FAST])
    assert rc == 0, resumed
    steps = of(resumed, "step")
    assert [e["step"] for e in steps][0] == 4 and all(e["lr"] == pytest.approx(4e-4) for e in steps)


def test_mlm_nsp_reports_both_losses(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--objective", "mlm+nsp", "--max-steps", 6,
                          "--batch-size", 8, "--lr", 1e-3, "--eval-every", 3, "--output", tmp_path / "run", *FAST])
    assert rc == 0, events
    assert of(events, "started")[0]["objective"] == "mlm+nsp"
    step = of(events, "step")[-1]
    assert step["mlm_loss"] > 0 and 0 < step["nsp_loss"] < 2
    ev = of(events, "eval")[-1]
    assert ev["loss"] == pytest.approx(ev["mlm_loss"] + ev["nsp_loss"]) and 0 <= ev["nsp_accuracy"] <= 1
    config = json.loads((tmp_path / "run" / "best" / "config.json").read_text())
    assert config["architectures"] == ["BertForPreTraining"]


def test_mlm_nsp_setup_keeps_each_ranks_seed(tiny_bert_dir):
    """Turning the MLM into BertForPreTraining must not reseed torch: under torchrun each rank
    seeds with --seed + rank for its own dropout masks. The fresh NSP head is the same every time."""
    from mlm_explorer.train.model_setup import load_for_training

    draws, heads = [], []
    for rank_seed in (0, 1):
        torch.manual_seed(rank_seed)  # what job.py does with --seed + rank
        tm = load_for_training(str(tiny_bert_dir), "mlm+nsp", device="cpu")
        draws.append(torch.nn.functional.dropout(torch.ones(64), 0.5))  # what the first step's dropout sees
        heads.append(tm.model.cls.seq_relationship.weight.detach().clone())
    assert not torch.equal(draws[0], draws[1])
    assert torch.equal(heads[0], heads[1])


def test_resume_continues_with_identical_losses(tmp_path, tiny_bert_dir):
    from mlm_explorer.train.run.report_text import resumed_line

    corpus = small_corpus(tmp_path / "corpus")
    common = ["--model", tiny_bert_dir, "--batch-size", 4, "--micro-batch-size", 2, "--lr", 3e-3,
              "--eval-every", 100, "--save-every", 6, "--schedule", "cosine", *FAST]
    # uninterrupted: 12 steps, checkpoints at 6 and 12
    rc, full = run_job([corpus, "--max-steps", 12, "--output", tmp_path / "a", *common])
    assert rc == 0
    # "interrupted" at step 6: a copy of the run without its later checkpoint, then --resume
    b = tmp_path / "b"
    shutil.copytree(tmp_path / "a", b)
    shutil.rmtree(b / "checkpoint-12")
    (b / "latest").write_text("checkpoint-6\n")
    rc, resumed = run_job(["--resume", b, *FAST])
    assert rc == 0, resumed
    started = of(resumed, "started")[0]
    assert started["resumed_from"] == str(b / "checkpoint-6") and started["resumed"] and started["step"] == 6
    assert resumed_line(started) == f"resumed from step 6 ({b / 'checkpoint-6'})"  # what the app and the CLI say
    assert [e["step"] for e in of(resumed, "step")] == list(range(7, 13))
    assert _losses(resumed) == _losses(full)[6:]  # exactly, not approximately
    info = json.loads((b / "run.json").read_text())
    assert [e["step"] for e in info["history"]["step"]] == list(range(1, 13))


def test_full_disk_keeps_previous_checkpoint(tmp_path, tiny_bert_dir, monkeypatch):
    from transformers import PreTrainedModel

    corpus = small_corpus(tmp_path / "corpus")
    real_save = PreTrainedModel.save_pretrained
    calls = {"n": 0}

    def failing_save(self, path, *a, **k):
        calls["n"] += 1
        if calls["n"] >= 2:  # the second checkpoint hits a full disk halfway
            (path / "model.safetensors").write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, path, *a, **k)

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", failing_save)
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 8, "--batch-size", 4, "--eval-every", 100,
                          "--save-every", 4, "--output", run, *FAST])
    assert rc == 2
    error = of(events, "error")[0]["message"]
    assert "disk full" in error and "checkpoint-4" in error and "--resume" in error
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["checkpoint-4"]  # no half-written dir
    monkeypatch.setattr(PreTrainedModel, "save_pretrained", real_save)
    from transformers import pipeline

    assert pipeline("fill-mask", model=str(run / "checkpoint-4"))("paris is the [MASK] of france.")
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("case", ["empty", "binary", "block", "span-on-bert", "mlm-on-t5", "nsp-on-t5", "option"])
def test_bad_input_is_one_line(case, tmp_path, tiny_bert_dir, tiny_t5_dir, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    if case != "empty":
        (folder / "a.txt").write_text("Some text to train on.\n")
    if case == "binary":
        (folder / "a.txt").write_bytes(b"\x00\x01binary")
    args = {
        "empty": [folder, "--model", tiny_bert_dir],
        "binary": [folder, "--model", tiny_bert_dir],
        "block": [folder, "--model", tiny_bert_dir, "--block-size", 512],
        "span-on-bert": [folder, "--model", tiny_bert_dir, "--objective", "span"],
        "mlm-on-t5": [folder, "--model", tiny_t5_dir, "--objective", "mlm"],
        "nsp-on-t5": [folder, "--model", tiny_t5_dir, "--objective", "mlm+nsp"],
        "option": [folder, "--model", tiny_bert_dir, "--batch-size", 0],
    }[case]
    rc, events = run_job([*args, "--output", tmp_path / "run", "--threads", "1"])
    assert rc == 2
    [error] = of(events, "error")
    expected = {"empty": "no files to train on", "binary": "1 file(s) skipped (1 binary)", "block": "limit of 64",
                "span-on-bert": "--objective span", "mlm-on-t5": "--objective mlm", "nsp-on-t5": "encoder-decoder",
                "option": "--batch-size"}[case]
    assert expected in error["message"]
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {error['message']}" and "Traceback" not in "\n".join(err)
    assert not of(events, "started")


def test_second_run_hits_the_token_cache(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    args = [corpus, "--model", tiny_bert_dir, "--max-steps", 1, "--batch-size", 2, *FAST]
    rc, first = run_job([*args, "--output", tmp_path / "r1"])
    rc2, second = run_job([*args, "--output", tmp_path / "r2"])
    assert rc == rc2 == 0
    assert of(first, "started")[0]["data"]["cache"] == {"hits": 0, "misses": 3, "hit": False, "extracted_hits": 0,
                                                         "dir": str(tmp_path / "cache")}
    assert of(second, "started")[0]["data"]["cache"]["hit"] is True
    assert of(second, "started")[0]["data"]["cache"]["extracted_hits"] == 3
    assert any("cache hit" in e["message"] for e in of(second, "log"))


def test_head_only_training_with_its_own_lr(tmp_path, tiny_bert_dir):
    from safetensors.torch import load_file

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 3, "--batch-size", 4, "--lr", 1e-3,
                          "--train-params", "head", "--head-lr", 1e-2, "--whole-word", "--output", run, *FAST])
    assert rc == 0, events
    started = of(events, "started")[0]
    assert 0 < started["trainable"] < started["parameters"]
    before, after = load_file(str(tiny_bert_dir / "model.safetensors")), load_file(str(run / "checkpoint-3" / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("cls.") for k in changed)
    assert of(events, "step")[0]["head_lr"] == pytest.approx(1e-2)  # 6% of 3 steps: no warm-up


def test_a_run_whose_evaluations_mask_nothing_still_ends_with_a_best_that_loads(tmp_path, tiny_bert_dir):
    from transformers import pipeline

    # a short held-out file at a 1% rate: its evaluation masks no token, so no step can be "best"
    corpus = write_corpus(tmp_path / "corpus", [" ".join(SENTENCES * 12), "Short line."])
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 2, "--batch-size", 2, "--eval-fraction",
                          0.5, "--mask-rate", 0.01, "--output", run, *FAST])
    assert rc == 0, events[-1]
    evals = of(events, "eval")
    assert evals and all(e["masked_tokens"] == 0 for e in evals), evals
    assert any("best/ holds the final weights" in e.get("message", "") for e in of(events, "log"))
    assert of(events, "finished")[0]["best"] == str(run / "best")
    record = json.loads((run / "run.json").read_text())
    assert record["best"]["final_weights"] is True and record["best"]["step"] == 2
    fill = pipeline("fill-mask", model=str(run / "best"), device="cpu")
    assert len(fill(f"the {fill.tokenizer.mask_token} sat", top_k=2)) == 2
