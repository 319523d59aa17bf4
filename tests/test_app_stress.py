"""The app under stress: bursts of `r` presses, toggles and text edits, arriving faster than the
workers answer, while a real training job shares the cores, end in exactly the state the same
inputs reach when each one is given time to finish: every press counts, none is lost.

The inputs go through the Explore screen's own entry points (what its key bindings, the token
strip and the text box call), in a tight loop: Pilot.press would wait for the workers after
each key, which is no burst.
"""

from __future__ import annotations

import random

import pytest
from app_support import app_env, make_app, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(300)

TEXT = "The cute dog walks in the green park."


def _burst(seed: int, n: int) -> list[tuple[str, int]]:
    """(what, a number for it) pairs: r, toggle (token k of the text as it is then), edit, clear."""
    rng = random.Random(seed)
    return [(rng.choices(("r", "toggle", "edit", "clear"), weights=(5, 8, 1, 1))[0], rng.randrange(1000))
            for _ in range(n)]


def _apply(screen, what: str, k: int) -> None:
    from textual.widgets import TextArea

    if what == "r":
        screen.action_random_mask()
    elif what == "toggle":
        tokens = [t.index for t in screen.state.tt.tokens if t.maskable]
        screen.toggle(tokens[k % len(tokens)], whole_word=k % 5 == 0)
    elif what == "edit":  # typing: the text box changes, its debounce starts
        area = screen.query_one("#text", TextArea)
        area.insert(" big", area.document.end)
    else:
        screen.action_clear()


def _snapshot(app) -> dict:
    st = app.explore.state
    result = st.result
    return {
        "text": st.tt.text, "ids": st.tt.input_ids, "masks": sorted(st.masks.positions), "seed": app.settings.seed,
        "random": None if st.random is None else (st.random.seed, st.random.decisions),
        "predicted": None if result is None else [(p.position, p.candidates[0].token_id) for p in result.predictions],
    }


def _block_model_thread(seconds: float) -> None:
    """Keep the model thread busy, so the next random masking waits in its queue."""
    import time

    from mlm_explorer.ui import workers

    workers.submit(lambda: time.sleep(seconds), done=lambda _: None, failed=lambda _: None)


async def _play(pilot, inputs, *, slow: bool) -> None:
    from mlm_explorer.ui.screens.explore.text_edits import TYPING_DEBOUNCE

    screen = pilot.app.explore
    for i, (what, k) in enumerate(inputs):
        _apply(screen, what, k)
        if slow:
            if what == "edit":
                await pilot.pause(TYPING_DEBOUNCE + 0.1)
            await settle(pilot)
        elif i % 4 == 3:
            await pilot.pause(0)  # let some answers arrive in between, as they would


async def _run(tiny_bert_dir, corpus, inputs, *, slow: bool, train: bool) -> dict:
    from mlm_explorer.ui import workers

    workers._VOCABS.clear()  # the first `r` builds the masking vocabulary in a worker: it is pending
    app = make_app(tiny_bert_dir, text=TEXT, seed=3)
    async with app.run_test(size=(130, 44)) as pilot:
        await wait_ready(pilot)
        if train:  # a real job on the same cores, started through the Train screen's own path
            await pilot.press("f4")
            await pilot.pause(0.2)
            app.start_training(app.screen, [str(corpus), "--model", str(tiny_bert_dir), "--max-steps", "100000",
                                            "--batch-size", "4", "--eval-every", "100000", "--save-every", "100000",
                                            "--threads", "1", "--log-every", "1"])
            await wait_for(pilot, lambda: app.train_screen.losses, timeout=120, what="the job's first step")
            await pilot.press("f2")
            await pilot.pause(0.2)
        if not slow:
            _block_model_thread(0.5)
        await _play(pilot, [("r", 0)] * 5, slow=slow)  # all five while the first is still computed
        await _play(pilot, inputs, slow=slow)
        await pilot.pause(0.3)
        await settle(pilot)
        await wait_for(pilot, lambda: app.explore.pending is None, what="the last prediction")
        state = _snapshot(app)
        if train:
            assert app.train_screen.job_state.active  # the job ran all along
            runner = app.train_runner
            runner.cancel()
            await wait_for(pilot, lambda: runner.returncode is not None, timeout=120, what="the job to stop")
    return state


@sync
async def test_bursts_end_where_the_same_inputs_end_one_at_a_time(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    from tiny import CORPUS

    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "notes"
    corpus.mkdir()
    (corpus / "a.txt").write_text("\n".join(CORPUS), encoding="utf-8")
    inputs = _burst(1, 50)
    assert {what for what, _ in inputs} == {"r", "toggle", "edit", "clear"}
    burst = await _run(tiny_bert_dir, corpus, inputs, slow=False, train=True)
    slow = await _run(tiny_bert_dir, corpus, inputs, slow=True, train=False)
    assert burst == slow
    assert burst["text"].endswith(" big")  # the edits reached the model
    assert burst["seed"] >= 3 + 4  # the five first presses moved the seed four times
