"""Failed work takes one path: one notification, then the error where the asker shows it.

The model calls of `ui/workers.py` are made to raise; the app must not crash, must notify
once, and the screen that asked must show the error in its own place (the decode line, the
lens bar, the Compare pane) while everything else keeps working.
"""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(180)


def _boom(*_args, **_kwargs):
    raise RuntimeError("boom from the model thread")


def _notes(app, needle: str) -> list:
    return [n for n in app._notifications if needle in n.message]


@sync
async def test_a_failed_prediction_is_notified_once_and_shown(app_env, tiny_bert_dir, monkeypatch):
    from mlm_explorer.ui import workers

    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        monkeypatch.setattr(workers, "predict", _boom)
        dog = next(t.index for t in screen.state.tt.tokens if t.text == "dog")
        screen.toggle(dog)
        await wait_for(pilot, lambda: screen.state.error is not None, what="the error")
        await settle(pilot)
        assert screen.state.error == "RuntimeError: boom from the model thread" and screen.pending is None
        assert len(_notes(app, "boom")) == 1
        assert "boom from the model thread" in screen_text(app)
        monkeypatch.undo()  # the next input predicts again
        screen.toggle(dog)
        screen.toggle(dog)
        await settle(pilot)
        assert screen.state.error is None and screen.state.result is not None


@sync
async def test_failed_lens_work_is_shown_in_the_lens_bar(app_env, tiny_bert_dir, monkeypatch):
    from mlm_explorer.ui import workers

    monkeypatch.setattr(workers, "attention_maps", _boom)
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        app.explore.strip.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: app.explore.lenses.view().note.startswith("RuntimeError"), what="the lens error")
        await settle(pilot)
        assert "attention: RuntimeError: boom" in screen_text(app)
        assert len(_notes(app, "boom")) == 1
        assert app.explore.state.result is not None  # the prediction is unaffected


@sync
async def test_a_failed_compare_pane_leaves_the_other_working(app_env, tiny_bert_dir, tiny_t5_dir, monkeypatch):
    from mlm_explorer.ui import workers

    real = workers.compare_column

    def boom_for_the_encoder(lm, text, **kw):
        if lm.kind == "mlm":
            _boom()
        return real(lm, text, **kw)

    app = make_app(tiny_bert_dir, t5=tiny_t5_dir, text="The cute [MASK] walks in the park.")
    async with app.run_test(size=(130, 36)) as pilot:
        await wait_ready(pilot)
        monkeypatch.setattr(workers, "compare_column", boom_for_the_encoder)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.result is not None and app.screen.result.done
                       and 1 in app.screen.result.filled and 0 in app.screen.result.errors, what="both columns")
        await settle(pilot)
        view = app.screen.result
        assert 0 not in view.filled and "boom" in view.errors[0]
        text = screen_text(app)
        assert "RuntimeError: boom" in text and "filled sentence" in text  # the T5 column still fills
        assert app.screen.query_one("#busy").render().plain == ""