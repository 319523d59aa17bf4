"""The job's answers to what goes wrong: a run stopped in its very first save, a loss that
diverges, a corpus too small to mask, a damaged run.json, a resume of what is not a run."""

from __future__ import annotations

import json
import shutil

import pytest

from mlm_explorer import rundir
from train_helpers import FAST, of, run_job, small_corpus, write_corpus

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _losses(events):
    return [e["loss"] for e in of(events, "step")]


def test_a_run_stopped_in_its_first_save_resumes_from_step_0(tmp_path, tiny_bert_dir, capsys):
    """run.json but no checkpoint (killed while writing checkpoint-N the first time): starting it
    again is refused with a pointer to --resume, and --resume really starts it again, with the
    recorded options, giving the same losses as the run would have."""
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    args = [corpus, "--model", tiny_bert_dir, "--max-steps", 4, "--batch-size", 4, "--lr", 3e-3,
            "--eval-every", 100, "--output", run, *FAST]
    rc, full = run_job(args)
    assert rc == 0
    for p in [*rundir.checkpoints(run), run / rundir.BEST, run / rundir.LATEST]:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    (run / ".tmp-checkpoint-4-dead-99999").mkdir()  # the half-written first save
    record = rundir.read_record(run)
    rundir.write_record(run, {**record, "status": "running", "step": 2})
    rc, again = run_job(args)
    assert rc == 2 and f"continue it with --resume {run}" in of(again, "error")[0]["message"]
    rc, resumed = run_job(["--resume", run, *FAST])
    assert rc == 0, of(resumed, "error")
    assert any("no complete checkpoint yet" in e["message"] and "step 0" in e["message"] for e in of(resumed, "log"))
    started = of(resumed, "started")[0]
    assert started["resumed_from"] is None and started["step"] == 0
    assert _losses(resumed) == _losses(full)  # the recorded options, from the start
    info = rundir.read_record(run)
    assert info["status"] == "finished" and [e["step"] for e in info["history"]["step"]] == [1, 2, 3, 4]
    assert not [p for p in run.iterdir() if p.name.startswith(".tmp-")]


def test_a_diverging_loss_stops_the_job_and_keeps_the_last_good_checkpoint(tmp_path, tiny_bert_dir, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 30, "--batch-size", 4, "--lr", 1e4,
                          "--grad-clip", 0, "--warmup-steps", 0, "--save-every", 1, "--eval-every", 100,
                          "--output", run, *FAST])
    assert rc == 2
    [error] = of(events, "error")
    steps = of(events, "step")
    assert error["message"].startswith("the training loss became nan at step ") and "training diverged" in error["message"]
    latest = rundir.latest_checkpoint(run)
    assert f"the last checkpoint ({latest.name}) is intact" in error["message"]
    assert error["message"].endswith(f"--resume {run} --lr 1000")
    assert all(isinstance(e["loss"], float) for e in steps)  # no NaN step event was sent
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {error['message']}"
    from safetensors.torch import load_file

    assert all(t.isfinite().all() for t in load_file(str(latest / "model.safetensors")).values())
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("case", ["five-tokens", "rate-0", "span-six-tokens"])
def test_a_corpus_or_rate_that_masks_nothing_is_refused(case, tmp_path, tiny_bert_dir, tiny_t5_dir, capsys):
    """(A file of fewer than 5 tokens is skipped on its own, as too short: train/data/extract.)"""
    text = {"five-tokens": "the cute dog walks in", "rate-0": "The cute dog walks in the green park.",
            "span-six-tokens": "the dog walks"}[case]
    corpus = write_corpus(tmp_path / "corpus", [text])
    model = tiny_t5_dir if case.startswith("span") else tiny_bert_dir
    extra = ["--mask-rate", 0] if case == "rate-0" else []
    rc, events = run_job([corpus, "--model", model, "--max-steps", 2, "--output", tmp_path / "run", *extra, *FAST])
    assert rc == 2 and not of(events, "started")
    message = of(events, "error")[0]["message"]
    assert message == {
        "five-tokens": "the training text has 5 token(s); --mask-rate 0.15 masks about 0.8 of them, "
                       "so at least 7 tokens are needed; add more text",
        "rate-0": "--mask-rate 0 masks no token, so there is nothing to learn; use a rate above 0, e.g. 0.15",
        "span-six-tokens": "the training text has 6 token(s); --noise-density 0.15 masks about 0.9 of them, "
                           "so at least 7 tokens are needed; add more text",
    }[case]
    assert not (tmp_path / "run" / "best").exists()


@pytest.mark.parametrize("case", ["not-a-run", "damaged", "no-options"])
def test_resume_of_what_cannot_be_resumed_says_why(case, tmp_path, tiny_bert_dir):
    target = tmp_path / "target"
    target.mkdir()
    if case == "damaged":
        (target / "checkpoint-3").mkdir()
        (target / "checkpoint-3" / rundir.TRAINER_STATE).write_bytes(b"x")
        (target / rundir.RUN_JSON).write_text('{"status": "running", "config": {')
    if case == "no-options":
        (target / rundir.RUN_JSON).write_text('{"status": "running"}')
    rc, events = run_job(["--resume", target, *FAST])
    assert rc == 2
    message = of(events, "error")[0]["message"]
    assert message == {
        "not-a-run": f"--resume {target}: {target} is not a training run (it has no run.json)",
        "damaged": f"--resume {target}: {target / 'run.json'} is damaged (Expecting property name enclosed in double "
                   f"quotes: line 1 column 34 (char 33)); put back a good run.json, or start a new run from its intact "
                   f"checkpoint with --model {target / 'checkpoint-3'}",
        "no-options": f"--resume {target}: {target / 'run.json'} does not record the run's options; start a new run",
    }[case]


@pytest.mark.parametrize("case", ["file", "under-a-file"])
def test_an_output_that_cannot_be_a_run_directory_is_refused_before_loading(case, tmp_path, tiny_bert_dir, monkeypatch):
    import mlm_explorer.train.model_setup as model_setup

    monkeypatch.setattr(model_setup, "load_for_training", lambda *a, **k: pytest.fail("the model was loaded"))
    corpus = small_corpus(tmp_path / "corpus")
    (tmp_path / "afile").write_text("not a directory")
    output = tmp_path / "afile" if case == "file" else tmp_path / "afile" / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--output", output, *FAST])
    assert rc == 2
    message = of(events, "error")[0]["message"]
    assert message == {
        "file": f"--output {output} is a file; give a directory (it is created if missing)",
        "under-a-file": f"--output {output}: cannot create the directory (Not a directory); give another place",
    }[case]
