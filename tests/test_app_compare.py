"""Compare: the same blanks filled by the tiny BERT and the tiny T5, side by side."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@sync
async def test_compare_shows_both_fills(app_env, tiny_bert_dir, tiny_t5_dir):
    app = make_app(tiny_bert_dir, t5=tiny_t5_dir, text="The cute [MASK] walks in the [MASK] park.")
    async with app.run_test(size=(130, 36)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.t5_lm is not None, what="the T5 model")
        await settle(pilot)
        screen = app.screen
        await wait_for(pilot, lambda: screen.last is not None and screen.last.t5 is not None, what="the fills")
        await settle(pilot)
        last = screen.last
        assert last.bert is not None and len(last.bert.predictions) == 2
        assert last.t5 is not None and last.t5.n_blanks == 2
        assert len(last.t5.candidates[0].fills) == 2
        text = screen_text(app)
        assert "Encoder: " in text and "T5: " in text
        assert text.count("filled sentence") == 2
        assert "The cute [MASK] walks in the [MASK] park." in text  # the blanks line


@sync
async def test_compare_without_t5_says_how_to_get_one(app_env, tiny_bert_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))  # an empty cache: nothing to find
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf" / "hub"))
    import mlm_explorer.ui.workers as jobs

    monkeypatch.setattr(jobs, "find_cached_t5", lambda: None)
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks.")
    async with app.run_test(size=(130, 36)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.t5_missing, what="the T5 lookup")
        await settle(pilot)
        text = screen_text(app)
        assert "hf download google-t5/t5-small" in " ".join(text.split())
        assert app.screen.last is not None and app.screen.last.bert is not None  # the encoder pane still works
