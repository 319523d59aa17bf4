"""Train: a short job started from the Train screen finishes and its checkpoint loads into Explore."""

from __future__ import annotations

import pytest
from app_support import FakeJobRunner, app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(240)


@sync
async def test_train_run_finishes_and_loads_into_explore(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    corpus = tmp_path / "notes"
    corpus.mkdir()
    from tiny import CORPUS

    for i in range(4):
        (corpus / f"doc{i}.txt").write_text("\n".join(CORPUS[i * 3 : i * 3 + 12]) * 3, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        screen.query_one("#train-path").value = str(corpus)
        screen.query_one("#train-model").value = str(tiny_bert_dir)
        screen.query_one("#train-steps").value = "6"
        screen.query_one("#train-batch").value = "4"
        screen.query_one("#train-lr").value = "1e-3"
        screen.query_one("#train-precision").value = "fp32"
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: screen.job_state in ("running", "finished", "error"), timeout=120, what="start")
        # the job keeps running while the user is on Explore
        await pilot.press("f2")
        await wait_for(pilot, lambda: screen.job_state in ("finished", "error", "cancelled"), timeout=180, what="the job")
        assert screen.job_state == "finished", screen.query_one("#train-log").lines
        log = " ".join(" ".join(line.text for line in screen.query_one("#train-log").lines).split())
        assert "--precision fp32" in log and "(float32)" in log  # the form's choice reached the job
        assert screen.losses, "no step event reached the screen"
        await pilot.press("f4")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "finished" in text and "tokens/s" in text
        base = app.lm
        await pilot.click("#train-load")
        await wait_for(pilot, lambda: app.lm is not base and app.base_lm is base, timeout=60, what="the fine-tuned model")
        await settle(pilot)
        assert app.screen is app.explore
        assert app.lm.source in ("run", "local")
        # before / after on the same masks
        app.explore.strip.focus()
        await pilot.press("b")
        await settle(pilot)
        st = app.explore.state
        assert st.result is not None and st.base_result is not None
        assert [p.position for p in st.result.predictions] == [p.position for p in st.base_result.predictions]
        assert "base" in screen_text(app)


@sync
async def test_cancel_asks_and_quit_asks(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    """Cancel and quit both ask first while a job runs (the job itself is faked)."""
    from mlm_explorer.ui.enums import JobState

    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)

    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        runner = FakeJobRunner()
        app.train_runner = runner
        app.screen._set_state(JobState.RUNNING)
        await pilot.click("#train-cancel")
        await pilot.pause(0.2)
        assert "Cancel the training job?" in screen_text(app)
        await pilot.click("#no")
        await pilot.pause(0.1)
        assert not runner.cancelled
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert "A training job is running" in screen_text(app)
        await pilot.click("#wait")
        await pilot.pause(0.1)
        assert app.is_running and not runner.cancelled
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        await pilot.click("#cancel")
        await pilot.pause(0.2)
        assert runner.cancelled


@sync
async def test_train_form_starts_from_the_job_defaults(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    """The form shows the device's start values (config.start_values: a short run on the CPU) and
    otherwise the job's defaults; every value it sends for a field left empty is the job's default."""
    from mlm_explorer.train.config import defaults, parse_args, start_values

    d, v = defaults(), start_values("cpu")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("Some text to train on.\n")
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        value = lambda wid: screen.query_one(f"#{wid}").value
        assert int(value("train-steps")) == v.max_steps and int(value("train-batch")) == v.batch_size
        assert float(value("train-lr")) == d.lr and float(value("train-rate")) == d.mask_rate
        assert value("train-minutes") == "" and d.time_budget is None
        assert value("train-objective") == d.objective and value("train-precision") == d.precision
        screen.query_one("#train-path").value = str(tmp_path / "notes.txt")
        for wid in ("train-steps", "train-batch", "train-block", "train-lr", "train-rate"):
            screen.query_one(f"#{wid}").value = ""
        sent, _ = parse_args(screen.build_args())
        for name in ("batch_size", "lr", "max_steps", "time_budget", "objective", "precision",
                     "eval_every", "log_every", "mask_rate", "seed", "block_size", "whole_word"):
            assert getattr(sent, name) == getattr(d, name), name


class _FakeJob:
    """Stands in for the job's process: records how it was started, then says `finished`."""

    launched: list = []

    def __init__(self, command, *, env, **_kw):
        self.command, self.env, self.pid = command, env, 4242
        self.stdout = iter(['{"event": "finished", "step": 0, "run_dir": "R"}\n'])
        self.stderr = iter([])
        _FakeJob.launched.append(self)

    def poll(self):
        return 0

    def wait(self, timeout=None):
        return 0


@sync
async def test_cli_and_app_start_the_job_alike(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    """One launcher (train/launch.job_launch): the same command and environment from
    `mlm-explorer train` and from the app; only the app lowers the job's priority."""
    import os
    import subprocess as real_subprocess
    import sys
    import types

    from mlm_explorer.cli.main import main
    from mlm_explorer.train import launch

    niceness = {}
    fake = types.SimpleNamespace(Popen=_FakeJob, PIPE=real_subprocess.PIPE, DEVNULL=real_subprocess.DEVNULL)
    monkeypatch.setattr(launch, "subprocess", fake)
    monkeypatch.setattr(os, "setpriority", lambda which, pid, nice: niceness.__setitem__(pid, nice))
    monkeypatch.setattr(_FakeJob, "launched", [])
    monkeypatch.chdir(tmp_path)
    job_args = [str(tmp_path), "--max-steps", "3", "--json"]
    assert main(["train", *job_args]) == 0
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        app.start_training(app.screen, job_args)
        await wait_for(pilot, lambda: len(_FakeJob.launched) == 2 and app.screen.job_state == "finished", what="the job")
    cli_job, app_job = _FakeJob.launched
    assert cli_job.command == app_job.command == [sys.executable, "-m", "mlm_explorer.train", *job_args]
    assert cli_job.env == app_job.env
    root = str(launch.Path(launch.__file__).resolve().parents[2])
    assert cli_job.env["PYTHONPATH"].split(os.pathsep)[0] == root
    assert cli_job.env["PYTHONUNBUFFERED"] == "1" and cli_job.env["TOKENIZERS_PARALLELISM"]
    assert niceness == {4242: launch.APP_JOB_NICE}  # set once: for the app's job
    # and that environment really imports this tree from anywhere
    env = launch.job_launch([], env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}).env
    out = real_subprocess.run([sys.executable, "-c", "import mlm_explorer; print(mlm_explorer.__file__)"],
                              env=env, cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith(root)


@sync
async def test_gpu_models_make_room_for_a_job(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    """The explorer's model on a GPU (stood in: its device says cuda:0, its .to() records the
    moves): starting a job first asks; "Move to the CPU" moves it before the job starts and back
    when it has ended; "Keep on the GPU" moves nothing; a --device cpu job does not ask."""
    import os
    import subprocess as real_subprocess
    import types

    import torch

    from mlm_explorer.train import launch
    from mlm_explorer.ui.dialogs.confirm import ChoiceDialog

    order = []

    class Job(_FakeJob):
        def __init__(self, command, *, env, **kw):
            order.append("job")
            super().__init__(command, env=env, **kw)

    fake = types.SimpleNamespace(Popen=Job, PIPE=real_subprocess.PIPE, DEVNULL=real_subprocess.DEVNULL)
    monkeypatch.setattr(launch, "subprocess", fake)
    monkeypatch.setattr(os, "setpriority", lambda *a: None)
    monkeypatch.setattr(_FakeJob, "launched", [])
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        lm = app.lm
        lm.device = torch.device("cuda", 0)
        monkeypatch.setattr(lm.model, "to", lambda device: order.append(f"to {torch.device(device)}") or lm.model)
        await pilot.press("f4")
        await pilot.pause(0.2)
        train = app.screen
        app.start_training(train, [str(tmp_path), "--max-steps", "3"])
        asking = lambda: isinstance(app.screen, ChoiceDialog) and bool(app.screen.query("#keep"))  # noqa: E731
        await wait_for(pilot, asking, what="the question")
        assert "1 model(s) on the GPU" in app.screen.question
        await pilot.click("#release")
        await wait_for(pilot, lambda: order[-1:] == ["to cuda:0"], what="the model back on the GPU")
        assert order == ["to cpu", "job", "to cuda:0"] and lm.device == torch.device("cuda", 0)
        await wait_for(pilot, lambda: "(cuda:0)" in app.model_status, what="the status")
        order.clear()
        app.start_training(train, [str(tmp_path), "--max-steps", "3"])
        await wait_for(pilot, asking, what="the question again")
        await pilot.click("#keep")
        await wait_for(pilot, lambda: order == ["job"], what="the job, nothing moved")
        order.clear()
        app.start_training(train, [str(tmp_path), "--device", "cpu"])
        await wait_for(pilot, lambda: order == ["job"], what="a CPU job, without asking")
        assert not isinstance(app.screen, ChoiceDialog)
