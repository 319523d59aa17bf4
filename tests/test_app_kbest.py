"""Explore's k-best list (J): the core's k best joint fills of the screen's masks, beside the greedy fill."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@sync
async def test_the_list_is_the_cores_search_on_the_screens_masks(app_env, tiny_bert_dir):
    from mlm_explorer.core.infer.kbest import blank_words, kbest_fills, word_shapes

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the [MASK] park.")
    async with app.run_test(size=(130, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("J")
        await wait_for(pilot, lambda: screen.kbest.data is not None and screen.kbest.data[0] == screen.kbest.key(),
                       what="the k best fills")
        await settle(pilot)
        result = screen.kbest.data[1]
        st = screen.state
        words = blank_words(st.tt, st.positions())
        expected = kbest_fills(app.lm, st.tt.input_ids, st.positions(), k=8, words=words,
                               shapes=word_shapes(st.tt, words))
        assert [f.token_ids for f in result.fills] == [f.token_ids for f in expected.fills]
        text = screen_text(app)
        assert "k best joint fills" in text and "most confident first" in text
        assert f"{result.fills[0].pll:.2f}" in text
        assert screen.kbest.export()["fills"][0]["pll"] == pytest.approx(result.fills[0].pll)
        # a click on another token: a new input, searched again
        dog = next(t.index for t in st.tt.tokens if t.text == "walks")
        screen.toggle(dog)
        await wait_for(pilot, lambda: screen.kbest.data[0] == screen.kbest.key(), what="the new search")
        assert len(screen.kbest.data[1].positions) == 3
        await pilot.press("J")
        await settle(pilot)
        assert screen.query_one("#kbest").has_class("hidden") and screen.kbest.export() is None
