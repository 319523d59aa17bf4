"""The fine-tune loop from the Train screen (issue 19, items 6-10 and 13): resume, a run's base
model, the masking fields, cancel from a field, a new run's clean panel, the start values.

The job's process is stood in for (its events posted to the screen, or `start_training`
recorded): tests/test_app_train.py and tests/test_app_tmux.py run real jobs.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from app_support import (FakeJobRunner, app_env, fixed_bert_dir, make_app, screen_text, settle, sync,  # noqa: F401
                         wait_for, wait_ready)

from mlm_explorer.ui.enums import JobState
from mlm_explorer.ui.messages import TrainEvent

pytestmark = pytest.mark.timeout(120)


def _record_jobs(app, monkeypatch) -> list[list[str]]:
    """start_training records the job's command line instead of starting a process."""
    started: list[list[str]] = []
    monkeypatch.setattr(app, "start_training", lambda target, args: started.append(list(args)))
    return started


def _make_run(name: str, *, model: str, status: str, step: int, max_steps: int | None = 8,
              weights=None, where: str = "checkpoint") -> str:
    """A run directory as the job (from the CLI or the app) leaves it: run.json, and a model."""
    from mlm_explorer.paths import runs_dir

    run = runs_dir() / name
    run.mkdir(parents=True)
    record = {"name": name, "status": status, "model": model, "objective": "mlm", "step": step,
              "updated": time.time(), "config": {"max_steps": max_steps, "model": model}}
    (run / "run.json").write_text(json.dumps(record))
    if weights is not None:
        target = run / (f"checkpoint-{step}" if where == "checkpoint" else "best")
        shutil.copytree(weights, target)
        (target / "trainer_state.pt").write_bytes(b"")
        (run / "latest").write_text(target.name + "\n")
    return str(run)


async def _open_train(pilot):
    await wait_ready(pilot)
    await pilot.press("f4")
    await pilot.pause(0.2)
    return pilot.app.screen


@sync
async def test_resume_continues_an_unfinished_run_and_says_from_which_step(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stopped = _make_run("20261203-100000-tiny", model=str(tiny_bert_dir), status="cancelled", step=4, max_steps=8)
    _make_run("20261203-090000-tiny", model=str(tiny_bert_dir), status="finished", step=8)
    app = make_app(tiny_bert_dir)
    started = _record_jobs(app, monkeypatch)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        select = screen.query_one("#train-resume-run")
        assert [value for _label, value in select._options if isinstance(value, str)] == [stopped]  # not the finished one
        await pilot.pause(0.1)
        assert select.value == stopped and screen.query_one("#train-resume-steps").placeholder.startswith("8")
        assert screen.query_one("#train-steps").value == "20"  # a new run's length is not the resumed one's
        await pilot.press("ctrl+o")
        await pilot.pause(0.1)
        screen.query_one("#train-resume-steps").value = "12"  # train longer
        await pilot.press("ctrl+o")
        await pilot.pause(0.1)
        assert started == [["--resume", stopped, "--device", "cpu"],
                           ["--resume", stopped, "--device", "cpu", "--max-steps", "12"]]
        screen.post_message(TrainEvent({"event": "started", "run_dir": stopped, "resumed": True,
                                        "resumed_from": f"{stopped}/checkpoint-4", "step": 4, "max_steps": 8}))
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "resumed from step 4" in text
        assert any("resumed from step 4" in n.message for n in app._notifications)


@sync
async def test_a_run_from_the_palette_loads_with_its_base_model(app_env, tiny_bert_dir, fixed_bert_dir, tmp_path,
                                                                 monkeypatch):
    """A run made elsewhere (its run.json names a base other than Explore's model): `b` works."""
    monkeypatch.chdir(tmp_path)
    run = _make_run("20261203-110000-fixed", model=str(fixed_bert_dir), status="finished", step=6,
                    weights=tiny_bert_dir, where="best")
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        first = app.lm
        app.use_model("run:20261203-110000-fixed")  # what the palette's "Use model: run:NAME" calls
        await wait_for(pilot, lambda: app.lm is not first and app.lm.source == "run", what="the run")
        await settle(pilot)
        assert app.base_lm is not None and app.base_lm.name == str(fixed_bert_dir)
        assert "base: " in app.model_status
        app.explore.strip.focus()
        await pilot.press("b")
        await settle(pilot)
        assert app.explore.state.base_result is not None
        assert not any("no base model" in n.message for n in app._notifications)
    assert run


@sync
async def test_load_into_explore_any_unfinished_run_reuses_the_loaded_base(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _make_run("20261203-120000-tiny", model=str(tiny_bert_dir), status="interrupted", step=3, weights=tiny_bert_dir)
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        first = app.lm
        await pilot.pause(0.1)
        assert not screen.query_one("#train-load").disabled  # no job this session, a run chosen
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: app.lm is not first, what="the run")
        await settle(pilot)
        assert app.base_lm is first  # the run's base is Explore's model: not loaded twice
        assert app.lm.source == "run"


@sync
async def test_form_takes_explores_masking_and_sends_the_masking_fields(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    from mlm_explorer.train.config import parse_args

    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("Some text to train on.\n")
    app = make_app(tiny_bert_dir, rate=0.3, whole_word=True)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        assert screen.query_one("#train-rate").value == "0.3" and screen.query_one("#train-whole-word").value
        screen.query_one("#train-path").value = str(tmp_path / "notes.txt")
        screen.query_one("#train-block").value = "32"
        sent, _ = parse_args(screen.build_args())
        assert sent.mask_rate == 0.3 and sent.whole_word and sent.block_size == 32
        # Explore's settings change: an untouched field follows, a typed one stays
        screen.query_one("#train-lr").value = "1e-4"
        app.settings.rate, app.settings.whole_word = 0.2, False
        await pilot.press("f2")
        await pilot.press("f4")
        await pilot.pause(0.1)
        assert screen.query_one("#train-rate").value == "0.2" and not screen.query_one("#train-whole-word").value
        screen.query_one("#train-rate").value = "0.25"
        app.settings.rate = 0.4
        await pilot.press("f2")
        await pilot.press("f4")
        await pilot.pause(0.1)
        assert screen.query_one("#train-rate").value == "0.25"
        screen.query_one("#train-rate").value = "1.5"
        with pytest.raises(ValueError, match="Mask rate 1.5"):
            screen.build_args()


@sync
async def test_ctrl_x_cancels_while_a_form_field_has_focus(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)

    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        steps = screen.query_one("#train-steps")
        steps.focus()
        await pilot.press("ctrl+x")  # no job: the field's own ctrl+x (cut) still works, nothing asks
        await pilot.pause(0.1)
        assert app.screen is screen
        runner = FakeJobRunner()
        app.train_runner = runner
        screen._set_state(JobState.RUNNING)
        steps.focus()
        await pilot.press("ctrl+x")
        await pilot.pause(0.2)
        assert "Cancel the training job?" in screen_text(app)
        await pilot.click("#yes")
        await pilot.pause(0.1)
        assert runner.cancelled


STEP = {"event": "step", "loss": 3.0, "max_steps": 20, "eta_s": 75.0, "tokens_per_s": 200.0, "lr": 5e-5}


@sync
async def test_start_clears_the_last_run_and_every_eta_is_the_jobs(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("Some text to train on.\n")
    app = make_app(tiny_bert_dir)
    started = _record_jobs(app, monkeypatch)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        screen.post_message(TrainEvent({"event": "started", "run_dir": "R", "step": 0, "max_steps": 20}))
        for step in (1, 2, 3):
            screen.post_message(TrainEvent({**STEP, "step": step, "loss": 4.0 - step * 0.5}))
        await pilot.pause(0.2)
        eta = str(screen.query_one("#train-eta").render())
        stats = str(screen.query_one("#train-stats").render())
        assert eta == "ETA 1m 15s" and "ETA 1m 15s" in stats  # one number, one way of writing it
        assert not screen.query_one("#train-progress").show_eta  # the bar's own guess is off
        panel = [line.rsplit("││", 1)[-1].strip(" │") for line in screen_text(app).splitlines()]
        x_labels = panel[panel.index("step") - 1]  # the line above the axis title
        assert x_labels.split() == ["1", "2", "3"], x_labels  # whole steps, no 1.5
        screen.query_one("#train-path").value = str(tmp_path / "notes.txt")
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert started and not screen.losses
        assert str(screen.query_one("#train-stats").render()) == "" and str(screen.query_one("#train-eta").render()) == ""
        assert screen.query_one("#train-progress").progress == 0 and "step 3/20" not in screen_text(app)


@sync
async def test_cpu_start_values_make_a_short_run_with_its_estimate_shown(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    from mlm_explorer.train.config import estimate_s, start_values

    cpu, gpu = start_values("cpu"), start_values("cuda:0")
    seconds = estimate_s(cpu, max_steps=cpu.max_steps, batch_size=cpu.batch_size, block_size=cpu.block_size)
    assert 30 <= seconds <= 90  # about a minute on the bundled model
    assert gpu.max_steps is None and gpu.batch_size > cpu.batch_size  # a GPU keeps the job's larger defaults
    assert start_values("auto") == gpu
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        estimate = str(screen.query_one("#train-estimate").render())
        assert estimate.startswith("≈ 51s") and "Preview" in estimate, estimate
        screen.query_one("#train-steps").value = "40"
        await pilot.pause(0.1)
        assert str(screen.query_one("#train-estimate").render()).startswith("≈ 1m 42s")


def test_help_covers_the_train_screens_keys():
    from mlm_explorer.ui.screens.help import HELP

    rows = {line.split("|")[1].strip(): line for line in HELP.splitlines() if line.startswith("| ctrl+")}
    assert "Train" in rows["ctrl+x"] and "cancel" in rows["ctrl+x"]
    assert "Train" in rows["ctrl+o"] and "resume" in rows["ctrl+o"]
    assert "resumed from step N" in HELP


@sync
async def test_quit_does_not_ask_once_the_job_said_it_finished(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    """After `finished` the job's process only exits (that can take seconds): quitting then does not
    ask to cancel a job that is over."""
    import os
    import subprocess as real_subprocess
    import types

    from mlm_explorer.train import launch

    class ExitingJob:  # has said `finished`; its process has not ended yet
        def __init__(self, command, *, env, **_kw):
            self.pid = 4243
            self.stdout = iter(['{"event": "finished", "step": 3, "run_dir": "R"}\n'])
            self.stderr = iter([])

        def poll(self):
            return None

        def wait(self, timeout=None):
            return 0

    fake = types.SimpleNamespace(Popen=ExitingJob, PIPE=real_subprocess.PIPE, DEVNULL=real_subprocess.DEVNULL)
    monkeypatch.setattr(launch, "subprocess", fake)
    monkeypatch.setattr(os, "setpriority", lambda *a: None)
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        screen = await _open_train(pilot)
        app.start_training(screen, [str(tmp_path), "--max-steps", "3", "--device", "cpu"])
        await wait_for(pilot, lambda: screen.job_state == "finished", what="the job's finished event")
        assert app.train_runner.returncode is None  # still exiting
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert "A training job is running" not in screen_text(app)
    assert not app.is_running


@sync
async def test_b_while_a_run_and_its_base_load_says_so(app_env, tiny_bert_dir, monkeypatch):
    """`b` while Explore's model is loading (a real load worker, held until released): "still
    loading", not the advice to load a fine-tuned run; once it is in, with no base, that advice."""
    import asyncio
    import threading

    from mlm_explorer.ui import workers

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        release, real = threading.Event(), workers.load_model
        monkeypatch.setattr(workers, "load_model", lambda *a, **k: (release.wait(30), real(*a, **k))[1])
        first = app.lm
        app.use_model(str(tiny_bert_dir))
        app.explore.strip.focus()
        await pilot.press("b")
        for _ in range(5):
            await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert messages[-1].startswith("still loading") and app.explore.before_after is False, messages
        release.set()
        await wait_for(pilot, lambda: app.lm is not first, what="the model")
        while any(not w.is_finished for w in app.workers):
            await asyncio.sleep(0.05)
        await pilot.press("b")
        await settle(pilot)
        assert list(app._notifications)[-1].message.startswith("no base model")
