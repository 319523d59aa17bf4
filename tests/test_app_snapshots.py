"""Snapshot tests of the main screens (pytest-textual-snapshot), on the tiny models.

Update after an intended change of the look: `pytest tests/test_app_snapshots.py --snapshot-update`,
then look at snapshot_report.html / the SVGs under tests/__snapshots__.
"""

from __future__ import annotations

import pytest
from app_support import (app_env, fixed_bert_dir, fixed_t5_dir, make_app, settle, steady_cursors,  # noqa: F401
                         tree_loaded, wait_for, wait_ready)

from mlm_explorer.core.mask.decision import SELECTED

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
        assert all(counts[d.label] for d in SELECTED)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_compare(app_env, fixed_cwd, fixed_bert_dir, fixed_t5_dir, tmp_path, snap_compare):
    """Three columns: Explore's encoder, the T5, and an encoder added by name (the same blanks)."""
    from tiny import build_tiny_bert

    from app_support import fixed_bert_tokenizer

    other = build_tiny_bert(tmp_path / "other-bert", seed=1, with_tokenizer=fixed_bert_tokenizer())
    app = make_app(fixed_bert_dir, t5=fixed_t5_dir, text="The cute [MASK] walks in the [MASK] park.",
                   compare_models=[str(other)])

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.result is not None and len(app.screen.result.columns) == 3,
                       what="the fills")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


# Every screen usable at 80x24 (issue 19, item 11) and at a wide size: Explore and Compare.
SMALL, WIDE = (80, 24), (160, 45)


@pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "160x45"])
def test_explore_sizes(app_env, fixed_cwd, fixed_bert_dir, snap_compare, size):
    app = make_app(fixed_bert_dir, text="The quick brown fox jumps over the lazy dog in the green park.",
                   rate=0.5, seed=0, top_k=5)

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.explore.state.random is not None, what="random masking")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "160x45"])
def test_compare_sizes(app_env, fixed_cwd, fixed_bert_dir, fixed_t5_dir, snap_compare, size):
    app = make_app(fixed_bert_dir, t5=fixed_t5_dir, text="The cute [MASK] walks in the [MASK] park.")

    async def run_before(pilot):
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.result is not None and len(app.screen.result.columns) == 2,
                       what="the fills")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def open_train_screen(pilot, app, post=None) -> None:
    """Explore ready, then F4; the model field set, `post(screen)` (recorded events), the screen settled:
    the file tree listed and the text cursors steady."""
    await wait_ready(pilot)
    await pilot.press("f4")
    await pilot.pause(0.3)
    app.screen.query_one("#train-model").value = "bundled"
    if post is not None:
        post(app.screen)
    await settle(pilot)
    await tree_loaded(pilot)  # the directory tree loads in its own worker
    steady_cursors(app)
    await pilot.pause(0.05)


def test_train_form(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        await open_train_screen(pilot, app)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


# A resumed run's recorded events: the job panel with its bar, ETA, stats and loss plot.
RESUMED_RUN = [{"event": "started", "run_dir": "/runs/20261203-154611-bundled", "resumed": True,
                "resumed_from": "/runs/20261203-154611-bundled/checkpoint-4", "step": 4, "max_steps": 20,
                "objective": "mlm", "device": "cpu", "precision": "fp32"}] + [
    {"event": "step", "step": s, "loss": 4.0 - 0.1 * s, "max_steps": 20, "eta_s": 3.0 * (20 - s),
     "tokens_per_s": 170.0, "lr": 5e-5} for s in range(5, 12)]


@pytest.mark.parametrize("size", [(80, 24), (160, 44)], ids=["80x24", "160x44"])
def test_train_job(app_env, fixed_cwd, fixed_bert_dir, snap_compare, size):
    """Usable at 80x24 (the form and the job stack in one scroll; the buttons stay on top) and wide."""
    from mlm_explorer.ui.messages import TrainEvent

    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        await open_train_screen(pilot, app, lambda screen: [screen.post_message(TrainEvent(e)) for e in RESUMED_RUN])
        app.screen.live.scroll_visible(animate=False)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_train_form_80x24(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        await open_train_screen(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# Recorded `probes` events (the shape the training job writes; core.probes ProbeResult dicts).
PROBE_EVENTS = [
    {"event": "probes", "step": 0, "results": [
        {"text": "Paris is the [MASK] of France.", "answer": "capital", "rank": 12, "probability": 0.0123,
         "top3": [["city", 0.2], ["capital", 0.1], ["the", 0.05]]},
        {"text": "The cute dog walks in the green [MASK].", "answer": "park", "rank": 113, "probability": 0.006,
         "top3": [["dog", 0.01], ["cat", 0.009], ["book", 0.008]]}]},
    {"event": "probes", "step": 30, "results": [
        {"text": "Paris is the [MASK] of France.", "answer": "capital", "rank": 3, "probability": 0.153,
         "top3": [["capital", 0.41], ["city", 0.12], ["paris", 0.05]]},
        {"text": "The cute dog walks in the green [MASK].", "answer": "park", "rank": 140, "probability": 0.002,
         "top3": [["garden", 0.2], ["cat", 0.1], ["window", 0.05]]}]},
]


def test_train_probes(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The pinned probes and the probe table (step 30, change since step 0), from recorded events."""
    from mlm_explorer.ui.messages import TrainEvent

    app = make_app(fixed_bert_dir, probes=[{"text": "The cute dog walks in the green [MASK].", "answer": "park"}])

    async def run_before(pilot):
        await open_train_screen(pilot, app, lambda screen: [screen.post_message(TrainEvent(e)) for e in PROBE_EVENTS])
        app.screen.query_one("#train-form").scroll_end(animate=False)  # the probes part of the form
        await pilot.pause(0.1)
        assert app.screen.query_one("#probe-table").row_count == 2

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


async def _lens_shown(pilot, app, kind):
    screen = app.explore
    await wait_for(pilot, lambda: screen.lenses.view().kind == kind and not screen.lenses.view().note, what=f"the {kind} lens")
    await settle(pilot)


def test_explore_lens_attention(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The attention lens: the [MASK]'s attention (layer 1, head 2) as colours on the chips."""
    app = make_app(fixed_bert_dir, text="The cute [MASK] walks in the green park.", top_k=5)

    async def run_before(pilot):
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        screen.strip.cursor = screen.state.positions()[0]
        await pilot.press("a")
        await _lens_shown(pilot, app, "attention")
        await pilot.press("]", "]", "}", "}")  # the mean over layers, layer 1; head 1, head 2
        await settle(pilot)
        assert "layer 1/2 · head 2/2" in screen.lenses.view().caption

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_explore_surprisal_and_candidates(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The surprisal lens (PLL, pseudo-perplexity) and the candidate box with a 2-piece word."""
    app = make_app(fixed_bert_dir, text="Unbelievable tokenizers split [MASK] into pieces.", top_k=5)

    async def run_before(pilot):
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("s")
        await _lens_shown(pilot, app, "surprisal")
        await pilot.press("k", *"words, tokenizers", "enter")
        await wait_for(pilot, lambda: (screen.candidates.view() or {}).get("scores")
                       and screen.candidates.view().get("fills"), what="the candidate scores")
        await pilot.press("escape")  # back to the chips (no blinking text cursor in the picture)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_explore_saliency(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The saliency lens: integrated gradients of the mask's top prediction as colours on the chips."""
    app = make_app(fixed_bert_dir, text="The cute [MASK] walks in the green park.", top_k=5)

    async def run_before(pilot):
        await wait_ready(pilot)
        app.explore.strip.focus()
        await pilot.press("g")
        await _lens_shown(pilot, app, "saliency")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_explore_before_after(app_env, fixed_cwd, fixed_bert_dir, tmp_path, snap_compare):
    """Base and fine-tuned side by side (b), with the change in probability per candidate."""
    from tiny import build_tiny_bert

    from app_support import fixed_bert_tokenizer

    tuned = build_tiny_bert(tmp_path / "tuned", seed=1, with_tokenizer=fixed_bert_tokenizer())
    app = make_app(fixed_bert_dir, text="The cute [MASK] walks in the green park.", top_k=4)

    async def run_before(pilot):
        await wait_ready(pilot)
        base = app.lm
        app.load_finetuned(str(tuned))
        await wait_for(pilot, lambda: app.lm is not base and app.base_lm is base, what="the tuned model")
        await settle(pilot)
        app.explore.strip.focus()
        await pilot.press("b")
        await wait_for(pilot, lambda: app.explore.state.diff is not None, what="the before/after diff")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(130, 40), run_before=run_before)


def test_explore_kbest(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The k best joint fills (J) under the distribution, beside the most-confident-first fill."""
    app = make_app(fixed_bert_dir, text="The cute [MASK] walks in the [MASK] park.", top_k=4)

    async def run_before(pilot):
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("J")
        await wait_for(pilot, lambda: screen.kbest.data is not None and screen.kbest.data[0] == screen.kbest.key(),
                       what="the k best fills")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def _rates(tokens, rate, mask, random, keep):
    selected = round(tokens * rate)
    return {"tokens": tokens, "selected": selected, "rate": rate, "mask": 0, "random": 0, "keep": 0,
            "mask_share": mask, "random_share": random, "keep_share": keep}


# A recorded `audit` event (the shape train/audit.py sends; numbers from an audit of a README).
AUDIT_EVENT = {"event": "audit", "objective": "mlm", "model": "bundled", "blocks": 43, "total_blocks": 43,
               "data": {"block_size": 128, "files": 1},
               "ours": {"engine": "mlm-explorer", "policy": {"rate": 0.15, "mask": 0.8, "random": 0.1, "keep": 0.1,
                                                             "whole_word": True, "count": None},
                        "overall": _rates(5313, 0.154, 0.820, 0.070, 0.110),
                        "classes": {"word_start": _rates(2559, 0.152, 0.83, 0.06, 0.11),
                                    "continuation": _rates(506, 0.156, 0.76, 0.09, 0.15),
                                    "digit": _rates(327, 0.135, 0.82, 0.07, 0.11),
                                    "punctuation": _rates(1921, 0.159, 0.83, 0.07, 0.10)},
                        "special_touched": 0, "padding_touched": 0, "random_drew_special": 0,
                        "words": {"partly_selected": 0, "mixed_decisions": 0}},
               "reference": {"engine": "DataCollatorForLanguageModeling",
                             "overall": _rates(5313, 0.150, 1.0, 0.0, 0.0),
                             "classes": {"word_start": _rates(2559, 0.138, 1.0, 0.0, 0.0),
                                         "continuation": _rates(506, 0.130, 1.0, 0.0, 0.0),
                                         "digit": _rates(327, 0.141, 1.0, 0.0, 0.0),
                                         "punctuation": _rates(1921, 0.172, 1.0, 0.0, 0.0)},
                             "special_touched": 0, "padding_touched": 0, "random_drew_special": 0,
                             "words": {"partly_selected": 0, "mixed_decisions": 0}},
               "differences": ["mask share of the selected: mlm-explorer 0.820, DataCollatorForLanguageModeling "
                               "1.000 (its whole-word mode puts [MASK] on every selected token)"]}
FORGETTING_EVENTS = [
    {"event": "forgetting", "step": 0, "n": 42, "top1": 0.12, "top5": 0.48, "mean_rank": 75.4},
    {"event": "eval", "step": 30, "loss": 3.25, "perplexity": 25.8, "accuracy": 0.31},
    {"event": "forgetting", "step": 30, "n": 42, "top1": 0.10, "top5": 0.40, "mean_rank": 96.0},
]


def test_train_audit_and_forgetting(app_env, fixed_cwd, fixed_bert_dir, snap_compare):
    """The masking audit's report in the form (a recorded audit event) and the forgetting meter of a job."""
    from mlm_explorer.ui.messages import AuditEvent, TrainEvent
    from mlm_explorer.ui.widgets.audit_panel import AuditPanel

    app = make_app(fixed_bert_dir)

    async def run_before(pilot):
        def post(screen):  # the form scrolls to the audit's report
            screen.query_one(AuditPanel).post_message(AuditEvent(AUDIT_EVENT))
            for event in FORGETTING_EVENTS:
                screen.post_message(TrainEvent(event))

        await open_train_screen(pilot, app, post)
        assert not app.screen.query_one("#forgetting-meter").has_class("hidden")

    assert snap_compare(app, terminal_size=(120, 44), run_before=run_before)
