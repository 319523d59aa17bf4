"""The app's Explore and Compare screens on other families: RoBERTa, DeBERTa-v2 and ModernBERT in
Explore (and beside a seq2seq model in Compare), T5 and BART in Compare (tests/families.py)."""

from __future__ import annotations

import re

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

from families import BLANK_TEXT, TWO_BLANKS

pytestmark = pytest.mark.timeout(180)
# a piece's word mark on screen: "Ġthe", "▁the" (a run of "▁" alone is a Textual border: U+2581 is both)
MARKED = re.compile(r"[Ġ▁]\w")
WORDS = "Unbelievable tokenizers split words into pieces."


@pytest.mark.parametrize("name", ["RoBERTa", "DeBERTa-v2", "ModernBERT"])
@sync
async def test_explore_predicts_and_masks_whole_words(app_env, family_dir, family_lm, name):
    from mlm_explorer.core.infer.fill import predict

    app = make_app(family_dir(name), text=BLANK_TEXT)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        result = screen.state.result
        top_k = len(result.predictions[0].candidates)
        expected = predict(family_lm(name), BLANK_TEXT, top_k=top_k)   # the typed ___ is the family's own mask token
        assert [c.token_id for c in result.predictions[0].candidates] == \
            [c.token_id for c in expected.predictions[0].candidates]
        assert not MARKED.search(screen_text(app)), MARKED.search(screen_text(app))
        # a word of several pieces: a whole-word click masks every piece, and each gets a prediction
        screen.query_one("#text").load_text(WORDS)
        await wait_for(pilot, lambda: screen.state.tt is not None and screen.state.tt.text == WORDS, what="the new text")
        await settle(pilot)
        tt = screen.state.tt
        word = next(w for w in {t.word for t in tt.tokens if t.word is not None}
                    if sum(t.word == w for t in tt.tokens) > 1)
        pieces = [t.index for t in tt.tokens if t.word == word]
        screen.toggle(pieces[-1], whole_word=True)
        await settle(pilot)
        assert [p.position for p in screen.state.result.predictions] == pieces
        assert not MARKED.search(screen_text(app)) and "##" not in screen_text(app)


@pytest.mark.parametrize("encoder, seq2seq", [("RoBERTa", "T5"), ("DeBERTa-v2", "BART"), ("ModernBERT", "T5")])
@sync
async def test_compare_fills_beside_t5_and_bart(app_env, family_dir, encoder, seq2seq):
    app = make_app(family_dir(encoder), t5=family_dir(seq2seq), text=TWO_BLANKS)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.t5_lm is not None, what="the seq2seq model")
        screen = app.screen
        await wait_for(pilot, lambda: screen.result is not None and screen.result.done
                       and len(screen.result.columns) == 2, what="the fills")
        await settle(pilot)
        encoder_column, seq2seq_column = screen.result.columns
        assert len(encoder_column.result["predictions"]) == 2 and seq2seq_column.result["n_blanks"] == 2
        assert seq2seq_column.result["style"] == ("mask" if seq2seq == "BART" else "sentinels")
        assert seq2seq_column.family == ("bart" if seq2seq == "BART" else "t5")
        text = " ".join(screen_text(app).split())
        assert ("BART (rewrites the text):" if seq2seq == "BART" else "T5:") in text
        assert text.count("filled sentence") == 2 and not MARKED.search(text)
