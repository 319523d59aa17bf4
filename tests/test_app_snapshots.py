"""Snapshot tests of the main screens (pytest-textual-snapshot), on the tiny models.

Update after an intended change of the look: `pytest tests/test_app_snapshots.py --snapshot-update`,
then look at snapshot_report.html / the SVGs under tests/__snapshots__.
"""

from __future__ import annotations

import pytest
from app_support import app_env, fixed_bert_dir, fixed_t5_dir, make_app, settle, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(180)

SIZE = (120, 36)


@pytest.fixture
def fixed_cwd(tmp_path, monkeypatch):
    """A working directory with fixed content (the Train screen's file tree shows it)."""
    work = tmp_path / "work"
    (work / "notes").mkdir(parents=True)
    (work / "notes" / "a.txt").write_text("Paris is the capital of France.\n")
    monkeypatch.chdir(work)
    return work


def test_explore_masked(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir, text="The cute dog walks in the green park.", top_k=6)

    async def run_before(pilot):
        await wait_ready(pilot)
        screen = app.explore
        dog = next(t.index for t in screen.state.tt.tokens if t.text == "dog")
        screen.toggle(dog)
        screen.strip.focus()
        screen.strip.cursor = dog
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_explore_random_masking(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir, text="The quick brown fox jumps over the lazy dog in the green park.",
                   rate=0.5, seed=0, top_k=5)  # seed 0: all three outcomes (checked in the test)

    async def run_before(pilot):
        await wait_ready(pilot)
        app.explore.strip.focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: app.explore.state.random is not None, what="random masking")
        await settle(pilot)
        assert app.explore.state.result is not None
        counts = app.explore.state.random.counts()
        assert counts["mask"] and counts["random"] and counts["keep"]

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_compare(app_env, fixed_cwd, fixed_bert_dir, fixed_t5_dir, snap_compare):
    app = make_app(fixed_bert_dir, t5=fixed_t5_dir, text="The cute [MASK] walks in the [MASK] park.")

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.last is not None and app.screen.last.t5 is not None,
                       what="the fills")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_train_form(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.3)
        app.screen.query_one("#train-model").value = "bundled"
        await settle(pilot)
        await pilot.pause(0.3)  # the directory tree loads in its own worker

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_help(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("f1")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_explore_light_theme(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir, text="Paris is the [MASK] of France.", theme="textual-light", top_k=4)

    async def run_before(pilot):
        await wait_ready(pilot)
        app.explore.strip.focus()
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
