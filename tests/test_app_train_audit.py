"""Train screen: the masking audit before a job starts, and the forgetting meter of a job."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(240)


@sync
async def test_the_audit_button_runs_the_jobs_masking_over_the_form(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    from train_helpers import small_corpus

    corpus = small_corpus(tmp_path / "notes")
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        screen.query_one("#train-path").value = str(corpus)
        screen.query_one("#train-model").value = str(tiny_bert_dir)
        await settle(pilot)  # the form's Changed events first: a later one clears the audit shown
        panel = screen.query_one("#train-audit")
        shown = []
        real_show = panel.show

        def spy(audit=None, *, note=""):
            shown.append(audit)
            real_show(audit, note=note)

        panel.show = spy
        app.screen.query_one("#audit-start").scroll_visible(animate=False)  # below the form's fields
        await pilot.pause(0.1)
        await pilot.click("#audit-start")
        await wait_for(pilot, lambda: any(a is not None for a in shown), timeout=180, what="the audit report")
        await settle(pilot)
        audit = next(a for a in shown if a is not None)
        assert audit["objective"] == "mlm" and audit["ours"]["special_touched"] == 0
        assert audit["ours"]["policy"]["rate"] == 0.15 and audit["blocks"] <= 512
        text = " ".join(screen_text(app).split())
        assert "special tokens selected" in text and "HF collator" in text
        assert f"{audit['ours']['overall']['rate']:.1%}" in text
        assert screen.job_state == "idle"   # an audit is not a job


FORGETTING = [{"event": "forgetting", "step": s, "n": 42, "top1": t1, "top5": t5, "mean_rank": r, "median_rank": 5.0,
               "mean_probability": 0.1, "ranks": []}
              for s, t1, t5, r in ((0, 0.12, 0.48, 75.4), (20, 0.10, 0.40, 96.0))]


@sync
async def test_the_forgetting_meter_shows_first_latest_and_change(app_env, tiny_bert_dir, tmp_path):
    from mlm_explorer.ui.messages import TrainEvent

    app = make_app(tiny_bert_dir, export_dir=str(tmp_path / "out"))
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        screen.post_message(TrainEvent(FORGETTING[0]))
        screen.post_message(TrainEvent({"event": "eval", "step": 20, "loss": 3.25, "perplexity": 25.8,
                                        "accuracy": 0.3}))
        screen.post_message(TrainEvent({"event": "step", "step": 20, "loss": 3.1, "max_steps": 20}))
        screen.post_message(TrainEvent(FORGETTING[1]))
        await settle(pilot)
        meter = screen.query_one("#forgetting-meter")
        assert not meter.has_class("hidden") and [h["step"] for h in screen.forgetting_history] == [0, 20]
        text = " ".join(screen_text(app).split())
        assert "Forgetting meter" in text and "48%" in text and "40%" in text and "-8%" in text and "+20.6" in text
        assert "3.250" in text   # the held-out loss beside it
        from mlm_explorer.ui.export import view_dict

        run = view_dict(app)["run"]
        assert [h["step"] for h in run["forgetting"]] == [0, 20] and run["evals"] == [[20, 3.25]]
