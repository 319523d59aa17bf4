"""The Explore screen against a tiny in-process BERT: tokens, masks, distribution, fills."""

from __future__ import annotations

import json
import random

import pytest
from app_support import app_env, chip_offset, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

from mlm_explorer.core.mask.decision import RANDOM, SELECTED

pytestmark = pytest.mark.timeout(120)


@sync
async def test_typing_shows_tokens(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="")
    async with app.run_test(size=(120, 40)) as pilot:
        while app.lm is None:
            await pilot.pause(0.05)
        await pilot.click("#text")
        await pilot.press(*"the quick brown fox")
        await settle(pilot)
        await pilot.pause(0.3)  # the typing debounce
        await settle(pilot)
        tt = app.explore.state.tt
        assert tt is not None
        assert [t.text for t in tt.tokens if not t.special] == ["the", "quick", "brown", "fox"]
        text = screen_text(app)
        assert "quick" in text and "[CLS]" in text and "[SEP]" in text
        # specials are drawn but carry no click target
        strip = app.explore.strip
        metas = [s.style.meta.get("token") for s in strip.render().spans if getattr(s.style, "meta", None)]
        assert 0 not in metas and len(tt.tokens) - 1 not in metas


@sync
async def test_click_chip_masks_and_shows_distribution(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, top_k=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        dog = next(t.index for t in screen.state.tt.tokens if t.text == "dog")
        await pilot.click("#strip", offset=chip_offset(screen.strip, dog))
        await settle(pilot)
        assert screen.state.positions() == [dog]
        result = screen.state.result
        assert result is not None and [p.position for p in result.predictions] == [dog]
        prediction = result.predictions[0]
        assert len(prediction.candidates) == 5
        assert prediction.original_id == screen.state.tt.tokens[dog].id  # known for a clicked mask
        text = screen_text(app)
        assert "entropy" in text and "original 'dog'" in text
        assert "[dog]" in text  # the masked chip
        # clicking again unmasks
        await pilot.click("#strip", offset=chip_offset(screen.strip, dog))
        await settle(pilot)
        assert screen.state.positions() == [] and screen.state.result is None


@sync
async def test_whole_word_and_keys(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="Unbelievable things happen.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        tt = screen.state.tt
        first_word = [t.index for t in tt.tokens if t.word == 0]
        assert len(first_word) > 1, "the tiny tokenizer should split 'unbelievable'"
        screen.strip.focus()
        await pilot.press("home", "w")
        await settle(pilot)
        assert screen.state.positions() == first_word
        await pilot.press("w")
        await settle(pilot)
        assert screen.state.positions() == []
        await pilot.press("right", "space")
        await settle(pilot)
        assert screen.state.positions() == [first_word[1]]


@sync
async def test_typed_mask_counts(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute ___ walks in the [MASK] park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        st = app.explore.state
        typed = [t.index for t in st.tt.tokens if t.typed_mask]
        assert len(typed) == 2 and st.positions() == typed
        assert st.result is not None and [p.position for p in st.result.predictions] == typed
        assert all(p.original_id is None for p in st.result.predictions)


def _seed_with_all_outcomes(lm_dir, text, rate):
    from transformers import AutoTokenizer

    from mlm_explorer.core.mask.preview import preview_masking
    from mlm_explorer.core.mask.text import tokenize

    tok = AutoTokenizer.from_pretrained(str(lm_dir))
    tt = tokenize(tok, text)
    for seed in range(200):
        counts = preview_masking(tok, tt, rate=rate, seed=seed).counts()
        if all(counts[d.label] > 0 for d in SELECTED):
            return seed
    raise AssertionError("no seed gives all three outcomes")


@sync
async def test_random_masking_shows_three_outcomes(app_env, tiny_bert_dir):
    text = "The quick brown fox jumps over the lazy dog in the green park."
    rate = 0.6
    seed = _seed_with_all_outcomes(tiny_bert_dir, text, rate)
    app = make_app(tiny_bert_dir, text=text, rate=rate, seed=seed)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("r")
        await settle(pilot)
        rnd = screen.state.random
        assert rnd is not None and rnd.seed == seed
        counts = rnd.counts()
        assert all(counts[d.label] for d in SELECTED)
        # the prediction ran on exactly the engine's corrupted ids, at every picked position
        result = screen.state.result
        assert [p.position for p in result.predictions] == rnd.picked()
        assert all(result.filled_ids[i] == rnd.input_ids[i] for i in range(len(rnd.input_ids)) if not rnd.decisions[i])
        assert result.loss is not None
        text_on_screen = screen_text(app)
        assert "→[MASK]" in text_on_screen and "✓" in text_on_screen
        random_pos = next(i for i, d in enumerate(rnd.decisions) if d == RANDOM)
        assert f'→"{rnd.replaced[random_pos]}"' in text_on_screen  # the drawn token's text, in quotes
        assert "loss on picked positions" in text_on_screen
        assert f"random seed {seed}" in text_on_screen
        # r again re-rolls with the next seed
        await pilot.press("r")
        await settle(pilot)
        assert screen.state.random.seed == seed + 1 and app.settings.seed == seed + 1


@sync
async def test_choosing_a_candidate_fills_the_text(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        dog = next(t.index for t in screen.state.tt.tokens if t.text == "dog")
        park = next(t.index for t in screen.state.tt.tokens if t.text == "park")
        screen.toggle(park)
        screen.toggle(dog)
        await settle(pilot)
        assert screen.state.selected == dog
        second = screen.state.prediction_at(dog).candidates[1]
        screen.strip.focus()
        await pilot.press("2")
        await settle(pilot)
        area = screen.query_one("#text")
        assert area.text == f"The cute {second.text} walks in the green park."
        # the other mask survives the edit; the filled one is gone
        tokens = screen.state.tt.tokens
        assert [tokens[p].text for p in screen.state.positions()] == ["park"]
        # and via the list: enter on the highlighted (top) candidate
        top = screen.state.result.predictions[0].candidates[0]
        screen.query_one("#dist Candidates").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert area.text.endswith(f"the green {top.text}.")
        assert screen.state.positions() == []


@sync
async def test_joint_toggle_and_decode(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The [MASK] dog walks in the [MASK] park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        assert screen.state.result.mode == "independent"
        screen.strip.focus()
        await pilot.press("j")
        await settle(pilot)
        assert app.settings.joint and screen.state.result.mode == "joint"
        assert "joint" in screen_text(app)


@sync
async def test_temperature_box_reshapes_the_distribution(app_env, tiny_bert_dir):
    """Typing a temperature re-runs the prediction: the shown probabilities and entropy are
    core.fill's at that temperature; the loss on the mask stays the model's own."""
    from mlm_explorer.core.infer.fill import fill_masks

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.", top_k=4)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        mask = screen.state.positions()[0]
        ids = screen.state.input_ids(app.lm.tokenizer.mask_token_id)
        cool = screen.state.result.predictions[0]
        await pilot.click("#temperature")
        await pilot.press("end", *["backspace"] * 8, *"3.0", "enter")
        await settle(pilot)
        assert app.settings.temperature == 3.0
        hot = screen.state.result.predictions[0]
        want = fill_masks(app.lm, ids, [mask], top_k=4, temperature=3.0).predictions[0]
        assert [c.token_id for c in hot.candidates] == [c.token_id for c in want.candidates]
        assert [c.probability for c in hot.candidates] == pytest.approx([c.probability for c in want.candidates], abs=1e-6)
        assert hot.entropy == pytest.approx(want.entropy, abs=1e-6) and hot.entropy > cool.entropy
        assert hot.candidates[0].probability < cool.candidates[0].probability  # flatter
        assert f"entropy {hot.entropy:.2f} nats" in screen_text(app)
        # out of range: refused with a message that says what to type, the value in use stays
        await pilot.click("#temperature")
        await pilot.press("end", *["backspace"] * 8, *"-1", "enter")
        await settle(pilot)
        assert app.settings.temperature == 3.0
        assert screen.query_one("#temperature").value == "3.0"  # the box shows the value in use
        assert any("temperature -1 is out of range" in n.message for n in app._notifications)


@sync
async def test_rapid_toggles_end_consistent(app_env, tiny_bert_dir):
    """200 toggles, interleaved with the event loop: the final view matches the final masks."""
    from mlm_explorer.core.mask.text import MaskSet

    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        tt = screen.state.tt
        maskable = [t.index for t in tt.tokens if t.maskable]
        rng = random.Random(0)
        expected = MaskSet()
        for i in range(200):
            index = rng.choice(maskable)
            screen.toggle(index)
            expected = expected.toggle_token(tt, index)
            if i % 7 == 0:
                await pilot.pause(0)
        await settle(pilot)
        st = screen.state
        assert st.masks.positions == expected.positions
        assert screen.pending is None
        if expected.positions:
            assert [p.position for p in st.result.predictions] == sorted(expected.positions)
            assert all(st.result.filled_ids[i] == tt.tokens[i].id for i in range(len(tt.tokens))
                       if i not in expected.positions)
        else:
            assert st.result is None
        assert screen.strip.view.masked == frozenset(expected.positions)


@sync
async def test_stale_prediction_is_dropped(app_env, tiny_bert_dir):
    from mlm_explorer.ui.messages import PredictionReady

    app = make_app(tiny_bert_dir, text="The [MASK] dog walks.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        current = screen.state.result
        screen.post_message(PredictionReady(screen.request - 1, result=object()))
        await pilot.pause(0.1)
        assert screen.state.result is current


@sync
async def test_help_theme_export(app_env, tiny_bert_dir, tmp_path):
    app = make_app(tiny_bert_dir, text="The [MASK] dog walks.", export_dir=str(tmp_path / "out"))
    app.persist = True
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: "80/10/10" in screen_text(app), timeout=20, what="the help text")
        from mlm_explorer.ui.screens.help import HELP, HelpScreen

        assert isinstance(app.screen, HelpScreen) and "T5 sentinels" in HELP and "80/10/10" in HELP
        await pilot.press("escape")
        await pilot.pause(0.1)
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        await pilot.pause(0.1)
        assert app.current_theme.dark != dark
        from mlm_explorer.settings import load_settings

        assert load_settings().theme == app.theme
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        files = sorted((tmp_path / "out").iterdir())
        assert {f.suffix for f in files} == {".json", ".md", ".svg", ".html"} and len(files) == 5
        page = next(f for f in files if f.suffix == ".html").read_text()
        assert "Content-Security-Policy" in page and 'class="chip' in page
        data = json.loads(next(f for f in files if f.suffix == ".json").read_text())
        assert data["masked_positions"] and data["result"]["predictions"]
        assert "## Fill" in next(f for f in files if f.suffix == ".md").read_text()


@sync
async def test_bad_model_is_a_notification_not_a_crash(app_env, tmp_path):
    app = make_app(tmp_path / "no-such-model")
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if "not loaded" in app.model_status:
                break
        assert "not loaded" in app.model_status
        assert any("no such directory" in n.message or "not" in n.message for n in app._notifications)
        assert app.is_running


def test_first_frame_before_torch(app_env, tiny_bert_dir):
    """In a fresh process: the first frame is drawn before torch is imported."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import asyncio, os, sys
        from mlm_explorer.ui.app import MLMExplorerApp
        assert "torch" not in sys.modules, "importing the app imported torch"
        async def main():
            app = MLMExplorerApp(model={str(tiny_bert_dir)!r}, device="cpu", persist=False)
            async with app.run_test() as pilot:
                while app.torch_at_first_frame is None:
                    await pilot.pause(0.01)
                print("torch-at-first-frame", app.torch_at_first_frame, flush=True)
                os._exit(0)  # do not wait for the model load (torch import) to finish
        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "torch-at-first-frame False" in out.stdout, out.stdout + out.stderr
