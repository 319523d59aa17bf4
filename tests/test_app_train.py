"""Train: a short job started from the Train screen finishes and its checkpoint loads into Explore."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

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

    class FakeRunner:
        returncode = None
        cancelled = False

        def cancel(self):
            self.cancelled = True

    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        runner = FakeRunner()
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
