"""Probes and before/after in the app: pin from Explore, watch them in a run from the Train screen,
the Δ panel against core.diff, and the export of both."""

from __future__ import annotations

import json

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(240)

PROBE = {"text": "The cute dog walks in the green [MASK].", "answer": "park"}


def _index(app, word: str) -> int:
    return next(t.index for t in app.explore.state.tt.tokens if t.text == word)


def _export(app, pilot, out):
    files = sorted(out.iterdir())
    data = json.loads(next(f for f in files if f.suffix == ".json").read_text())
    return data, next(f for f in files if f.suffix == ".md").read_text()


@sync
async def test_pin_from_explore_shows_on_train_and_unpins(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.")
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("p")  # nothing masked: a hint, no probe
        await pilot.pause(0.1)
        assert app.settings.probes == [] and any("mask a token first" in n.message for n in app._notifications)
        screen.toggle(_index(app, "park"))
        await settle(pilot)
        await pilot.press("p")
        await pilot.pause(0.1)
        assert app.settings.probes == [PROBE]
        await pilot.press("p")  # the same again: not pinned twice
        await pilot.pause(0.1)
        assert app.settings.probes == [PROBE]
        await pilot.press("f4")
        await pilot.pause(0.3)
        train = app.screen
        train.query_one("#train-form").scroll_end(animate=False)  # the probes part of the form
        await pilot.pause(0.1)
        assert "park: The cute dog walks in the green" in screen_text(app)  # (wrapped beside the scrollbar)
        train.query_one("#train-path").value = str(tiny_bert_dir)
        args = train.build_args()
        assert args[args.index("--probe") + 1] == "The cute dog walks in the green [MASK]. | park"
        train.query_one("#train-pinned").focus()
        train.query_one("#train-pinned").highlighted = 0
        await pilot.press("delete")
        await pilot.pause(0.1)
        assert app.settings.probes == [] and "none pinned" in screen_text(app)


@sync
async def test_typed_mask_has_no_answer(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        app.explore.strip.focus()
        await pilot.press("p")
        await pilot.pause(0.1)
        assert app.settings.probes == []
        assert any("click a token to mask it" in n.message for n in app._notifications)


@sync
async def test_train_run_shows_probe_table_and_exports_it(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    corpus = tmp_path / "notes"
    corpus.mkdir()
    from tiny import CORPUS

    for i in range(4):
        (corpus / f"doc{i}.txt").write_text("\n".join(CORPUS[i * 3 : i * 3 + 12]) * 3, encoding="utf-8")
    probes_file = tmp_path / "probes.txt"
    probes_file.write_text("Paris is the [MASK] of France.\tcapital\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.", export_dir=str(tmp_path / "out"))
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        app.explore.toggle(_index(app, "park"))
        await settle(pilot)
        app.explore.strip.focus()
        await pilot.press("p")
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        for wid, value in (("train-path", corpus), ("train-model", tiny_bert_dir), ("train-steps", "6"),
                           ("train-batch", "4"), ("train-lr", "1e-3"), ("train-probes-file", probes_file)):
            screen.query_one(f"#{wid}").value = str(value)
        await pilot.click("#train-start")
        await wait_for(pilot, lambda: screen.job_state in ("finished", "error", "cancelled"), timeout=200, what="the job")
        assert screen.job_state == "finished", screen.query_one("#train-log").lines
        await pilot.pause(0.2)
        steps = [h["step"] for h in screen.probe_history]
        assert steps[0] == 0 and steps[-1] == 6 and len(steps) >= 2
        last = screen.probe_history[-1]["results"]
        assert [(r["text"], r["answer"]) for r in last] == [
            ("Paris is the [MASK] of France.", "capital"), (PROBE["text"], PROBE["answer"])]
        table = screen.query_one("#probe-table")
        assert not table.has_class("hidden") and table.row_count == 2
        assert table.border_title == "probes · step 6 (change since step 0)"
        first = {r["answer"]: r for r in screen.probe_history[0]["results"]}
        text = screen_text(app)
        assert f"{first['park']['rank']} → {last[1]['rank']}" in text and "top-3" in text, text
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        data, md = _export(app, pilot, tmp_path / "out")
        assert data["probes"] == [PROBE]
        assert data["probe_history"] == screen.probe_history
        assert "## Pinned probes" in md and "## Probes at step 6 (change since step 0)" in md
        assert f"| {first['park']['rank']} → {last[1]['rank']} |" in md


@sync
async def test_before_after_deltas_are_core_diff(app_env, tiny_bert_dir, tmp_path):
    from tiny import build_tiny_bert

    from mlm_explorer.core.infer.diff import compare_distributions
    from mlm_explorer.ui.widgets.diff_panel import delta_text

    tuned_dir = build_tiny_bert(tmp_path / "tuned", seed=1)  # same vocabulary, other weights
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.", top_k=4,
                   export_dir=str(tmp_path / "out"))
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        base = app.lm
        app.load_finetuned(str(tuned_dir))
        await wait_for(pilot, lambda: app.lm is not base and app.base_lm is base, what="the tuned model")
        await settle(pilot)
        screen = app.explore
        dog, park = _index(app, "dog"), _index(app, "park")
        screen.toggle(park)
        screen.toggle(dog)
        screen.strip.focus()
        await pilot.press("b")
        await settle(pilot)
        st = screen.state
        assert st.base_result is not None and st.diff is not None and st.diff_error is None
        input_ids = st.input_ids(app.lm.tokenizer.mask_token_id)
        expected = compare_distributions(app.base_lm, app.lm, input_ids, [dog, park], top_k=4)
        assert [d.position for d in st.diff] == [dog, park]
        for got, want in zip(st.diff, expected):
            assert [c.token_id for c in got.candidates] == [c.token_id for c in want.candidates]
            assert [c.delta for c in got.candidates] == pytest.approx([c.delta for c in want.candidates], abs=1e-6)
            assert got.kl == pytest.approx(want.kl, abs=1e-6)
        assert any(abs(c.delta) > 1e-3 for c in st.diff[0].candidates)
        panel = screen.query_one("#diff-panel")
        assert not panel.has_class("hidden") and panel.mask_diff.position == st.selected == dog
        text = screen_text(app)
        top = st.diff[0].candidates[0]
        assert "Δ tuned − base" in text and "base" in text
        assert f"{top.p_base:7.1%} → {top.p_tuned:6.1%}  {delta_text(top.delta).plain}" in text
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        data, md = _export(app, pilot, tmp_path / "out")
        assert [d["position"] for d in data["diff"]] == [dog, park]
        assert data["diff"][0]["candidates"][0]["delta"] == pytest.approx(top.delta)
        assert data["base_model"] == app.base_lm.name
        assert "## Before / after" in md and f"{top.delta:+.4f}" in md
        # b again: the Δ panel goes away with the base distribution
        await pilot.press("b")
        await settle(pilot)
        assert screen.state.diff is None and panel.has_class("hidden")
