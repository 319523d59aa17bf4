"""Explore in a newcomer's first five minutes (issue 19, items 1-5, 12, 13): the text box keys,
the jump between masks, where the focus starts and what the footer shows, the rate and seed
fields, the decode, the lenses' numbers, and what reopening the app keeps."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)


def _footer_keys(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


@sync
async def test_text_box_selects_all_and_clears_and_the_header_follows(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks.")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        assert "Unmask all (c)" in screen_text(app) and "Clear text" in screen_text(app)
        await pilot.press("t", "ctrl+a")
        area = screen.query_one("#text")
        assert area.selected_text == "The cute dog walks."  # not the line start
        await pilot.press("ctrl+l")
        await pilot.pause(0.3)  # the typing debounce
        await settle(pilot)
        assert area.text == "" and screen.state.tt is None
        assert screen.query_one("#tokens-box").border_title == "Tokens (no text)"  # not the old count
        await pilot.press("ctrl+z")  # an edit: undone
        await pilot.pause(0.3)
        await settle(pilot)
        assert area.text == "The cute dog walks." and screen.state.tt is not None
        screen.strip.focus()
        await pilot.click("#clear-text")
        await pilot.pause(0.3)
        await settle(pilot)
        assert area.text == ""


@sync
async def test_next_and_previous_mask_and_the_panel_says_which_it_shows(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        words = {}
        for t in screen.state.tt.tokens:
            words.setdefault(t.text, t.index)  # the first "the"
        screen.toggle(words["cute"])
        screen.toggle(words["green"])
        await settle(pilot)
        assert app.focused is screen.strip
        screen.strip.cursor = words["the"]
        await pilot.press("n")
        await settle(pilot)
        assert screen.state.selected == words["cute"] == screen.strip.cursor
        await pilot.press("n")
        assert screen.state.selected == words["green"]
        await pilot.press("n")  # round the end
        assert screen.state.selected == words["cute"]
        await pilot.press("N")
        assert screen.state.selected == words["green"]
        title = screen.query_one("#dist-box").border_title
        assert "mask 2/2 'green'" in title and "still" not in title
        await pilot.press("left")  # "the": a plain token
        await pilot.pause(0.05)
        title = screen.query_one("#dist-box").border_title
        assert "still mask 2/2 'green'" in title and "cursor on 'the'" in title


@sync
async def test_focus_starts_on_the_chips_and_the_footer_shows_what_works(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.", rate=0.5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        assert app.focused is screen.strip
        assert {"r", "c", "n", "f1", "f2"} <= _footer_keys(app)
        assert "n/N next/prev mask" in screen.query_one("#tokens-box").border_subtitle  # cut from a narrow footer
        await pilot.press("r")  # masks at random, types no letter
        await settle(pilot)
        assert screen.state.random is not None
        assert screen.query_one("#text").text == "The cute dog walks in the green park."
        await pilot.press("W")
        assert app.settings.whole_word and "whole words: on" in screen_text(app)  # on screen, not only a toast
        await pilot.press("t")
        await pilot.pause(0.05)
        keys = _footer_keys(app)
        assert "r" not in keys and "c" not in keys and "n" not in keys  # they type letters here
        assert {"ctrl+a", "ctrl+l", "escape", "f1"} <= keys
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert app.focused is screen.strip and "r" in _footer_keys(app)


@sync
async def test_no_text_opens_in_the_text_box(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="")
    async with app.run_test(size=(100, 30)) as pilot:
        while app.lm is None:
            await pilot.pause(0.05)
        assert app.focused is app.explore.query_one("#text")


@sync
async def test_rate_and_seed_fields_by_keyboard(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The quick brown fox jumps over the lazy dog in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        await pilot.press("R")
        assert app.focused is screen.query_one("#rate")
        assert "enter in rate / seed" in screen.query_one("#tokens-box").border_subtitle
        await pilot.press(*"0.5", "enter")  # the value is selected on focus; enter applies random masking
        await settle(pilot)
        assert screen.state.random is not None and screen.state.random.rate == 0.5
        await pilot.press("tab")
        assert app.focused is screen.query_one("#seed")
        await pilot.press(*"7", "enter")
        await settle(pilot)
        assert screen.state.random.seed == 7 and app.settings.seed == 7
        # a seed typed while a masking is shown is the one the next r uses, not skipped
        await pilot.press("end", "backspace", "3")
        screen.strip.focus()
        await pilot.press("r")
        await settle(pilot)
        assert screen.state.random.seed == 3
        await pilot.press("r")  # again: the next seed
        await settle(pilot)
        assert screen.state.random.seed == 4
        # out of range: a message, the rate in use stays
        await pilot.press("R", *"1.5", "enter")
        await settle(pilot)
        assert app.settings.rate == 0.5 and screen.query_one("#rate").value == "0.5"
        assert any("rate 1.5 is out of range" in n.message for n in app._notifications)


@sync
async def test_decode_keeps_the_case_and_export_writes_the_same(app_env, tiny_bert_dir, tmp_path):
    from mlm_explorer.ui.export import export_view
    from mlm_explorer.ui.widgets.decode_line import decode_text

    app = make_app(tiny_bert_dir, text="The Cute [MASK] walks in the Green park.", export_dir=str(tmp_path / "out"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        st = screen.state
        decoded = st.result.decoded
        assert decoded.startswith("The Cute ") and decoded.endswith("walks in the Green park.")
        shown = decode_text(st.tt, st.result, piece_style=screen.query_one("#decode").piece_style).plain
        assert shown == decoded  # the app's decode line is the core's decode
        markdown = next(p for p in export_view(app) if p.suffix == ".md").read_text()
        assert f"> {decoded}" in markdown


@sync
async def test_legend_example_is_the_loaded_tokenizers(app_env, tiny_bert_dir):
    from mlm_explorer.core.mask.text import tokenize

    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        pieces = [t.text for t in tokenize(app.lm.tokenizer, "unbelievable").tokens if t.word == 0]
        legend = app.explore.query_one("#legend")
        assert legend.example == tuple(pieces)
        assert "·".join(pieces) in screen_text(app)


@sync
async def test_surprisal_shows_the_cursor_tokens_value_and_g_keeps_saliency_on(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        words = {t.text: t.index for t in screen.state.tt.tokens}
        screen.strip.cursor = words["dog"]
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.lenses.view().caption, what="the surprisal")
        view = screen.lenses.view()
        assert f"'dog' {view.values[words['dog']]:.2f} nats" in view.caption
        await pilot.press("right")
        await pilot.pause(0.05)
        view = screen.lenses.view()
        assert f"'walks' {view.values[words['walks']]:.2f} nats" in view.caption
        assert f"'walks' {view.values[words['walks']]:.2f} nats" in screen_text(app)
        # saliency on with no mask, then a token masked: g explains it, the lens stays on
        await pilot.press("g")
        assert screen.lenses.lens.kind == "saliency"
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("g")
        assert screen.lenses.lens.kind == "saliency"
        await pilot.press("g")  # again with nothing changed: off
        assert screen.lenses.lens.kind == "off"


@sync
async def test_reopening_keeps_the_text_and_the_model(app_env, tiny_bert_dir):
    from mlm_explorer.settings import load_settings
    from mlm_explorer.ui.app import MLMExplorerApp

    app = MLMExplorerApp(model=str(tiny_bert_dir), device="cpu")  # the user's own settings file (app_env)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        area = app.explore.query_one("#text")
        area.load_text("My own sentence stays.")
        await pilot.pause(0.3)
        await settle(pilot)
    assert load_settings().text == "My own sentence stays."
    again = MLMExplorerApp(device="cpu")  # no --model: the last session's (README: what is restored)
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        assert again.explore.query_one("#text").text == "My own sentence stays."
        assert again.settings.model == str(tiny_bert_dir)


@sync
async def test_help_covers_the_text_box_and_mask_keys(app_env, tiny_bert_dir):
    from mlm_explorer.ui.screens.help import HELP

    for key in ("ctrl+a", "ctrl+l", "n / N", "Unmask all", "R, tab"):
        assert key in HELP


@sync
async def test_compare_footer_hides_letter_keys_in_the_add_box(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await pilot.pause(0.2)
        assert {"r", "a", "d", "f1", "f4"} <= _footer_keys(app)
        assert list(app.screen.active_bindings)[:4] == ["f1", "f2", "f3", "f4"]  # they fit 80 columns
        await pilot.press("a")
        await pilot.pause(0.05)
        assert app.focused.id == "compare-add" and not {"r", "a", "d"} & _footer_keys(app)
