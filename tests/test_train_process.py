"""The job as a real process: the runner, SIGTERM / SIGKILL. (torchrun: tests/test_train_ranks.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch

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


@pytest.mark.parametrize("how", ["kill -9", "crash"])
def test_the_job_stops_and_saves_when_the_cli_dies(how, tmp_path, tiny_bert_dir):
    """`mlm-explorer train` dies (SIGKILL, or an exception in the CLI itself): its job notices,
    saves a checkpoint and ends `cancelled` with a hint; the run then resumes."""
    import time

    from mlm_explorer.rundir import latest_checkpoint, read_record, read_run

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    env = subprocess_env(tmp_path)
    code = ("import sys, mlm_explorer.cli.train as t\n"
            "real = t._print_json\n"
            "def show(e):\n"
            "    real(e)\n"
            "    if e.get('event') == 'step' and e['step'] >= 2: raise RuntimeError('a bug in the CLI')\n"
            "t._print_json = show\n"
            "from mlm_explorer.cli.main import main\n"
            "sys.exit(main())\n") if how == "crash" else "from mlm_explorer.cli.main import main; raise SystemExit(main())"
    cli = subprocess.Popen(
        [sys.executable, "-c", code, "train", str(corpus), "--model", str(tiny_bert_dir), "--max-steps", "100000",
         "--batch-size", "4", "--save-every", "100000", "--eval-every", "100000", "--log-every", "1", "--threads", "1",
         "--output", str(run), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    for line in cli.stdout:
        if '"event": "step"' in line and json.loads(line)["step"] >= 2:
            break
    pid = read_record(run)["pid"]
    if how == "kill -9":
        cli.kill()
    cli.wait(timeout=60)
    deadline = time.monotonic() + 120
    while read_run(run).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    info = read_run(run)
    assert info.status == "cancelled", info
    assert read_record(run)["pid"] == pid
    # kill -9: the job learns of it from the kernel, after its parent is gone, and says so. A crash:
    # the dying CLI cancels its job first, so whether it is already gone when the job writes its
    # status is a race; when it is, the note says so too.
    if how == "kill -9" or info.note is not None:
        assert info.note.startswith(f"stopped because the process that started it (pid {cli.pid}) ended"), info
        assert info.note.endswith(f"continue with --resume {run}")
    saved = latest_checkpoint(run)
    assert saved is not None and int(saved.name.split("-")[1]) >= 2
    rc, resumed = run_job(["--resume", run, "--max-steps", int(saved.name.split("-")[1]) + 1, "--threads", 1])
    assert rc == 0 and of(resumed, "started")[0]["resumed_from"] == str(saved)


@pytest.mark.parametrize("nohup", [True, False], ids=["under nohup", "plain"])
def test_a_job_started_by_hand_outlives_its_shell_only_under_nohup(nohup, tmp_path, tiny_bert_dir):
    """`nohup python -m mlm_explorer.train ... &` from a shell that then exits: the job trains on to
    the end (the user asked it to outlive the shell). Without nohup, the shell's end stops it as a
    dead launcher does: a checkpoint, `cancelled`, and the note."""
    import shlex
    import time

    from mlm_explorer.rundir import read_run

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    steps = 12 if nohup else 100000
    command = shlex.join(job_command(corpus, "--model", tiny_bert_dir, "--max-steps", steps, "--batch-size", 4,
                                     "--save-every", 100000, "--eval-every", 100000, "--log-every", 1,
                                     "--threads", 1, "--output", run))
    log = tmp_path / "job.log"
    # the shell starts the job in the background, waits for its first step, and exits
    script = (f"{'nohup ' if nohup else ''}{command} > {shlex.quote(str(log))} 2>&1 &\n"
              f"until grep -q '\"event\": \"step\"' {shlex.quote(str(log))} 2>/dev/null; do sleep 0.1; done\n")
    subprocess.run(["bash", "-c", script], env=subprocess_env(tmp_path), timeout=120, check=True)
    deadline = time.monotonic() + 120
    while (not (run / "run.json").exists() or read_run(run).status == "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    info = read_run(run)
    text = log.read_text()
    if nohup:
        assert info.status == "finished" and info.step == steps, info
        assert "SIGHUP is ignored (nohup)" in text
    else:
        assert info.status == "cancelled", info
        assert info.note.startswith("stopped because the process that started it"), info
        assert "SIGHUP is ignored" not in text


def test_the_launchers_jobs_stop_with_it_even_under_nohup(tmp_path, tiny_bert_dir):
    """The CLI run under nohup hands SIGHUP-ignored down to its job; the job is still its own
    (MLM_EXPLORER_LAUNCHED), so the CLI's death stops it."""
    import time

    from mlm_explorer.rundir import read_run

    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlm_explorer", "train", str(corpus), "--model", str(tiny_bert_dir), "--max-steps",
         "100000", "--batch-size", "4", "--save-every", "100000", "--eval-every", "100000", "--log-every", "1",
         "--threads", "1", "--output", str(run), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=subprocess_env(tmp_path), text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    for line in cli.stdout:
        if '"event": "step"' in line:
            break
    cli.kill()
    cli.wait(timeout=60)
    deadline = time.monotonic() + 120
    while read_run(run).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert read_run(run).status == "cancelled"


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_stopped_and_resumed_equals_uninterrupted(stop, tmp_path, tiny_bert_dir):
    """A real process stopped by SIGTERM (it saves) or SIGKILL (it cannot), then --resume: the
    per-step losses, the evaluations and the final weights are bit-identical to a run that was
    never interrupted."""
    from safetensors.torch import load_file

    from mlm_explorer.rundir import latest_checkpoint, read_record

    corpus = small_corpus(tmp_path / "corpus")
    common = [corpus, "--model", tiny_bert_dir, "--max-steps", 8, "--batch-size", 4, "--micro-batch-size", 2,
              "--lr", 3e-3, "--save-every", 3, "--eval-every", 4, "--log-every", 1, "--threads", 1]
    rc, _ = run_job([*common, "--output", tmp_path / "a"])
    assert rc == 0
    run = tmp_path / "b"
    runner = _runner(tmp_path, [*common, "--output", run])
    runner.start()
    for event in runner.events():
        if event["event"] == "step" and event["step"] == 4:
            runner.cancel() if stop == "SIGTERM" else runner.kill()
    assert runner.returncode == (128 + signal.SIGTERM if stop == "SIGTERM" else -signal.SIGKILL)
    stopped_at = int(latest_checkpoint(run).name.split("-")[1])
    assert stopped_at >= 4 if stop == "SIGTERM" else stopped_at in (3, 6)
    rc, resumed = run_job(["--resume", run, "--threads", 1])
    assert rc == 0 and of(resumed, "started")[0]["step"] == stopped_at
    a, b = read_record(tmp_path / "a"), read_record(run)
    assert [e["step"] for e in b["history"]["step"]] == list(range(1, 9))
    assert [e["loss"] for e in b["history"]["step"]] == [e["loss"] for e in a["history"]["step"]]  # exactly
    assert b["history"]["eval"] == a["history"]["eval"]
    wa, wb = (load_file(str(r / "checkpoint-8" / "model.safetensors")) for r in (tmp_path / "a", run))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("outcome", ["finished", "cancelled"])
def test_a_stop_signal_after_the_loop_ends_does_not_kill_the_job_before_its_last_status(outcome, tmp_path,
                                                                                       tiny_bert_dir):
    """The race behind a dying launcher: `train` asks its job to stop (SIGTERM), then dies, and the
    kernel sends a second SIGTERM (PR_SET_PDEATHSIG) just as the loop has ended. Here that second
    signal arrives at a controlled point, as the job writes its final status to run.json."""
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    steps = "3" if outcome == "finished" else "100000"
    code = (
        "import os, signal, sys\n"
        "from mlm_explorer.train.run import runs\n"
        "real = runs.RunRecord.update\n"
        "def update(self, **fields):\n"
        "    if fields.get('status') in ('finished', 'cancelled'):\n"
        "        os.kill(os.getpid(), signal.SIGTERM)  # the late signal, before the status is written\n"
        "    real(self, **fields)\n"
        "runs.RunRecord.update = update\n"
        "from mlm_explorer.train import job\n"
        "if sys.argv[-1] == 'cancel':\n"
        "    import mlm_explorer.train.loop as loop\n"
        "    step = loop.Loop.train_step\n"
        "    def first_then_stop(self, *a, **k):\n"
        "        out = step(self, *a, **k)\n"
        "        os.kill(os.getpid(), signal.SIGTERM)  # the launcher's cancel\n"
        "        return out\n"
        "    loop.Loop.train_step = first_then_stop\n"
        "sys.exit(job.main(sys.argv[1:-1]))\n"
    )
    args = [str(corpus), "--model", str(tiny_bert_dir), "--max-steps", steps, "--batch-size", "4", "--threads", "1",
            "--output", str(run), "--json", "cancel" if outcome == "cancelled" else "run"]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=subprocess_env(tmp_path), timeout=300)
    assert done.returncode == (0 if outcome == "finished" else 128 + signal.SIGTERM), done.stderr[-2000:]
    assert json.loads((run / "run.json").read_text())["status"] == outcome
    assert of([json.loads(line) for line in done.stdout.splitlines()], outcome)
