"""The job as a real process: the runner, SIGTERM / SIGKILL. (torchrun: tests/test_train_ranks.py.)"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from train_helpers import job_command, of, run_job, small_corpus, subprocess_env

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def _runner(tmp_path, args):
    from mlm_explorer.train.launch import TrainingRunner

    return TrainingRunner([str(a) for a in args], env=subprocess_env(tmp_path))


def test_sigterm_through_runner_saves_and_cancels(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    runner = _runner(tmp_path, [corpus, "--model", tiny_bert_dir, "--max-steps", 100000, "--batch-size", 4,
                                "--save-every", 100000, "--eval-every", 100000, "--log-every", 1, "--threads", 1,
                                "--output", run])
    runner.start()
    events = []
    for event in runner.events():
        events.append(event)
        if event["event"] == "step" and event["step"] == 3:
            runner.cancel()
    assert runner.returncode == 128 + signal.SIGTERM
    cancelled = of(events, "cancelled")[0]
    checkpoint = of(events, "checkpoint")[-1]
    assert cancelled["checkpoint"] == checkpoint["path"] and cancelled["signal"] == "SIGTERM"
    assert checkpoint["step"] == cancelled["step"] >= 3
    assert json.loads((run / "run.json").read_text())["status"] == "cancelled"
    from mlm_explorer.rundir import read_run

    assert read_run(run).status == "cancelled"


def test_sigkill_mid_run_resumes_from_last_checkpoint(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    runner = _runner(tmp_path, [corpus, "--model", tiny_bert_dir, "--max-steps", 100000, "--batch-size", 4,
                                "--save-every", 3, "--keep", 2, "--eval-every", 100000, "--log-every", 1,
                                "--threads", 1, "--output", run])
    runner.start()
    events = []
    for event in runner.events():
        events.append(event)
        if event["event"] == "step" and event["step"] == 8:
            runner.kill()  # no chance to clean up: somewhere between checkpoints, maybe mid-save
    crash = events[-1]
    assert crash["event"] == "error" and "SIGKILL" in crash["message"] and "stderr" in crash
    from mlm_explorer.rundir import latest_checkpoint
    from mlm_explorer.rundir import read_run

    latest = latest_checkpoint(run)
    saved = int(latest.name.split("-")[1])  # the job may have run a few steps past the event we read
    assert saved >= 6 and saved % 3 == 0
    assert read_run(run).status == "interrupted"
    rc, resumed = run_job(["--resume", run, "--max-steps", saved + 3, "--threads", 1, "--log-every", 1])
    assert rc == 0, resumed
    started = of(resumed, "started")[0]
    assert started["resumed_from"] == str(latest) and started["step"] == saved
    assert of(resumed, "step")[0]["step"] == saved + 1 and of(resumed, "finished")[0]["step"] == saved + 3


def test_crash_and_bad_input_reach_the_runner_as_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(job_command(empty, "--output", tmp_path / "run"), env=subprocess_env(tmp_path),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {json.loads(proc.stdout.splitlines()[-1])['message']}"]
    runner = _runner(tmp_path, [empty, "--output", tmp_path / "run"])
    events = list(runner.events())
    assert [e["event"] for e in events] == ["error"] and "no files to train on" in events[0]["message"]
    assert events[0]["stderr"][-1].startswith("error: no files to train on")
