"""The command palette's model provider and the settings it persists."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@sync
async def test_palette_switches_model_and_remembers_it(app_env, tiny_bert_dir, tmp_path):
    from mlm_explorer.settings import load_settings
    from mlm_explorer.ui.commands import ModelCommands

    other = tmp_path / "other-bert"
    from tiny import build_tiny_bert

    build_tiny_bert(other, seed=1)
    app = make_app(tiny_bert_dir, text="The [MASK] dog walks.")
    app.persist = True
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        provider = ModelCommands(app.screen)
        await provider.startup()
        titles = [hit.text async for hit in provider.discover()]
        assert any(t.startswith("Use model: bundled") for t in titles)
        hits = [hit async for hit in provider.search(str(other))]
        load = next(h for h in hits if h.text == f"Load model: {other}")
        first = app.lm
        load.command()
        await wait_for(pilot, lambda: app.lm is not first, what="the new model")
        await settle(pilot)
        assert app.lm.path and app.lm.path.rstrip("/").endswith("other-bert")
        assert app.explore.state.result is not None  # Explore re-ran on the new model
        assert load_settings().model == str(other)
        # the palette itself opens
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "CommandPalette"
