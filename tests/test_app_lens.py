"""Explore's lenses (surprisal, attention, saliency) and candidate box, against the core's numbers.

Each view is driven with the Pilot on the tiny BERT; what the chips show (StripView.heat, the
intensity per chip) and the numbers behind them must be the core's for the same input.
"""

from __future__ import annotations

import json

import pytest
from app_support import app_env, make_app, screen_text, settle, sync, wait_for, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(180)


def _close(a: dict, b: dict, tol: float = 1e-5) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= tol * max(1.0, abs(b[k])) for k in a)


def _normalised(values: dict, skip: int | None = None) -> dict:
    top = max(abs(v) for i, v in values.items() if i != skip)
    return {i: v / top for i, v in values.items() if i != skip}


def _model_ids(screen) -> list[int]:
    return screen.state.input_ids(screen.app.lm.tokenizer.mask_token_id)


async def _lens_ready(pilot, screen, kind: str) -> None:
    await wait_for(pilot, lambda: screen.lenses.view().kind == kind and not screen.lenses.view().note,
                   what=f"the {kind} lens")
    await settle(pilot)


@sync
async def test_surprisal_lens_shows_score_ids(app_env, tiny_bert_dir):
    from mlm_explorer.core.infer.score import score_ids

    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("s")
        await _lens_ready(pilot, screen, "surprisal")
        tt = screen.state.tt
        positions = [t.index for t in tt.tokens if t.maskable and not t.typed_mask]
        expected = score_ids(app.lm, tt.input_ids, positions=positions)
        values = {t.position: t.surprisal for t in expected.tokens}
        view = screen.lenses.view()
        assert _close(view.values, values)
        assert _close(screen.strip.view.heat, _normalised(values))  # what the chips are coloured by
        text = screen_text(app)
        assert f"PLL {expected.pll:.2f} nats" in text and f"pseudo-perplexity {expected.pseudo_perplexity:.2f}" in text
        assert f"{len(positions)} tokens" in text
        # masking a token changes the model input, not the text scored: no new job, same numbers
        asked = screen.lenses.work_started
        dog = next(t.index for t in tt.tokens if t.text == "dog")
        screen.toggle(dog)
        await settle(pilot)
        assert screen.lenses.work_started == asked and _close(screen.lenses.view().values, values)
        # s again: off; the random-masking legend is back
        await pilot.press("s")
        await settle(pilot)
        assert screen.lenses.view().kind == "off" and screen.strip.view.heat == {}
        assert "kept 10%" in screen_text(app)


@sync
async def test_attention_lens_follows_cursor_layer_and_head(app_env, tiny_bert_dir):
    from mlm_explorer.core.explain.attention import attention_maps

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        strip = screen.strip
        strip.focus()
        mask = screen.state.positions()[0]
        strip.cursor = mask
        await pilot.press("a")
        await _lens_ready(pilot, screen, "attention")
        maps = attention_maps(app.lm, _model_ids(screen))
        layers, heads = maps.num_layers, maps.num_heads

        def check(token: int, layer, head) -> None:
            row = dict(enumerate(maps.row(token, layer=layer, head=head).weights))
            assert _close(screen.lenses.view().values, row)
            assert _close(strip.view.heat, _normalised(row))

        check(mask, layers - 1, None)  # default: the last layer, the mean of its heads
        text = screen_text(app)
        assert f"attention from '[MASK]' (token {mask}) · layer {layers}/{layers} · mean of {heads} heads" in text
        asked = screen.lenses.work_started
        await pilot.press("]")  # after the last layer: the mean over layers
        await settle(pilot)
        check(mask, None, None)
        assert f"mean of {layers} layers" in screen_text(app)
        await pilot.press("]", "}")  # layer 1, head 1
        await settle(pilot)
        check(mask, 0, 0)
        assert f"layer 1/{layers} · head 1/{heads}" in screen_text(app)
        await pilot.press("{", "{")  # head: back to the mean, then the last head
        await settle(pilot)
        check(mask, 0, heads - 1)
        await pilot.press("[")  # layer: before the first is the mean
        await settle(pilot)
        check(mask, None, heads - 1)
        await pilot.press("right")  # another token: its row of the same maps
        await settle(pilot)
        check(mask + 1, None, heads - 1)
        assert screen.lenses.work_started == asked, "layer, head and cursor must not run the model again"
        # a new input: new maps (the old ones are never shown for it)
        screen.toggle(mask + 2)
        await _lens_ready(pilot, screen, "attention")
        assert screen.lenses.work_started == asked + 1
        maps = attention_maps(app.lm, _model_ids(screen))
        check(strip.cursor, None, heads - 1)


@sync
async def test_saliency_lens_explains_top_and_chosen_candidate(app_env, tiny_bert_dir):
    from mlm_explorer.core.explain.saliency import explain_position

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.", top_k=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        mask = screen.state.positions()[0]
        await pilot.press("g")
        await _lens_ready(pilot, screen, "saliency")
        ids = _model_ids(screen)
        expected = explain_position(app.lm, ids, mask, method="both")
        ig = dict(enumerate(expected.integrated_gradients))
        assert _close(screen.lenses.view().values, ig, 1e-4)
        assert _close(screen.strip.view.heat, _normalised(ig, skip=mask), 1e-3)
        assert mask not in screen.strip.view.heat  # the explained mask keeps its own colour
        top = screen.state.result.predictions[0].candidates[0]
        text = screen_text(app)
        assert f"saliency: {expected.target_text!r} at mask 1/1" in text and "integrated gradients" in text
        assert expected.target_id == top.token_id
        assert "completeness gap" in text
        await pilot.press("i")  # gradient x input: the same call computed it
        await settle(pilot)
        gxi = dict(enumerate(expected.grad_x_input))
        assert _close(screen.lenses.view().values, gxi, 1e-4)
        assert "gradient × input" in screen_text(app)
        await pilot.press("i")
        # the second candidate, highlighted in the distribution, becomes the target
        second = screen.state.result.predictions[0].candidates[1]
        screen.query_one("#dist Candidates").focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.lenses.view().details and screen.lenses.view().details["target_id"]
                       == second.token_id, what="the saliency of the second candidate")
        await settle(pilot)
        chosen = explain_position(app.lm, ids, mask, target_id=second.token_id, method="both")
        assert _close(screen.lenses.view().values, dict(enumerate(chosen.integrated_gradients)), 1e-4)
        assert f"saliency: {second.text!r}" in screen_text(app)


@sync
async def test_saliency_needs_a_mask(app_env, tiny_bert_dir):
    app = make_app(tiny_bert_dir, text="The cute dog walks.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        app.explore.strip.focus()
        await pilot.press("g")
        await settle(pilot)
        assert "saliency explains the prediction at the selected mask" in screen_text(app)


@sync
async def test_stale_lens_answer_is_dropped(app_env, tiny_bert_dir):
    from mlm_explorer.ui.messages import LensReady

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("a")
        await _lens_ready(pilot, screen, "attention")
        shown = screen.lenses.view().values
        old_key = screen.lenses.lens.asked["attention"]
        screen.post_message(LensReady("attention", ("attention", -1, (1, 2, 3)), result=object()))
        await pilot.pause(0.1)
        assert screen.lenses.lens.asked["attention"] == old_key and screen.lenses.view().values == shown


@sync
async def test_candidate_box_scores_words_and_fills(app_env, tiny_bert_dir):
    from mlm_explorer.core.infer.candidates import score_candidates, variable_length_fill

    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        mask = screen.state.positions()[0]
        await pilot.press("k")
        assert app.focused.id == "cand-input"
        await pilot.press(*"dog, tokenizers", "enter")
        await wait_for(pilot, lambda: (screen.candidates.view() or {}).get("scores")
                       and screen.candidates.view().get("fills"), what="the candidate scores")
        await settle(pilot)
        ids = _model_ids(screen)
        expected = score_candidates(app.lm, ids, mask, ["dog", "tokenizers"])
        got = screen.candidates.view()
        assert [s["word"] for s in got["scores"]] == ["dog", "tokenizers"]
        for s, e in zip(got["scores"], expected):
            assert abs(s["probability"] - e.probability) <= 1e-6 * max(1.0, e.probability) + 1e-9
            assert s["rank"] == e.rank and s["method"] == e.method
        assert expected[0].rank is not None and expected[1].rank is None and len(expected[1].token_ids) == 3
        fills = variable_length_fill(app.lm, ids, mask, max_pieces=3, top=5)
        assert [f["token_ids"] for f in got["fills"]] == [f.token_ids for f in fills]
        assert {f["n_pieces"] for f in got["fills"]} == {1, 2, 3}
        text = screen_text(app)
        assert f"rank {expected[0].rank}" in text and "n/a, 3 pieces" in text
        assert "token·izer·s: 3 pieces, joint, most confident first" in text and "best fills of 1–3 pieces" in text
        # the same prediction's numbers: a single piece's probability is the distribution's
        prediction = screen.state.result.predictions[0]
        dist_p = {c.token_id: c.probability for c in prediction.candidates}
        if expected[0].token_ids[0] in dist_p:
            assert abs(dist_p[expected[0].token_ids[0]] - expected[0].probability) < 1e-6
        # a word the tokenizer cannot spell: said in the box, no crash
        await pilot.press(*", ☃", "enter")
        await wait_for(pilot, lambda: (screen.candidates.view() or {}).get("score_error"), what="the error")
        assert "cannot spell" in screen_text(app) or "candidate" in screen.candidates.view()["score_error"]


@sync
async def test_export_has_lens_and_candidates(app_env, tiny_bert_dir, tmp_path):
    app = make_app(tiny_bert_dir, text="The cute [MASK] walks in the green park.", export_dir=str(tmp_path / "out"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("a")
        await _lens_ready(pilot, screen, "attention")
        await pilot.press("k", *"dog", "enter")
        await wait_for(pilot, lambda: (screen.candidates.view() or {}).get("scores")
                       and screen.candidates.view().get("fills"), what="the candidate scores")
        await settle(pilot)
        view = screen.lenses.view()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: (tmp_path / "out").exists() and len(list((tmp_path / "out").iterdir())) == 5,
                       what="the export")
        files = sorted((tmp_path / "out").iterdir())
        data = json.loads(next(f for f in files if f.suffix == ".json").read_text())
        lens = data["lens"]
        assert lens["kind"] == "attention" and lens["caption"] == view.caption
        assert {t["index"]: t["value"] for t in lens["tokens"]} == view.values
        assert {t["index"]: t["intensity"] for t in lens["tokens"]} == view.heat
        assert lens["details"]["weights"] == [view.values[i] for i in range(len(view.values))]
        cand = data["candidates"]
        assert cand["words"] == ["dog"] and cand["scores"][0]["word"] == "dog" and cand["fills"]
        md = next(f for f in files if f.suffix == ".md").read_text()
        assert "## Lens: attention" in md and view.caption in md
        assert "## Candidates at position" in md and "| dog |" in md and "Best fills of 1-3 pieces" in md


def test_lens_state_cycles_and_keys():
    """ui.lens without an app: layer/head cycles (the mean after the last), keys per input."""
    from types import SimpleNamespace

    from mlm_explorer.ui.screens.explore.lens import Lens, normalise

    lens = Lens()
    assert not lens.step("layer", 1)  # no map yet: nothing to cycle through
    lens.shape = (2, 3)
    seq = []
    for _ in range(4):
        lens.step("layer", 1)
        seq.append(lens.layer)
    assert seq == [None, 0, 1, None]  # from the last layer (the default): mean, 1, 2, mean
    lens.step("head", -1)
    assert lens.head == 2  # from the mean back to the last head
    tt = SimpleNamespace(input_ids=[2, 10, 11, 3])
    masked = [2, 4, 11, 3]
    assert lens.key("surprisal", model=1, tt=tt, input_ids=masked, selected=1) == (
        "surprisal", 1, (2, 10, 11, 3), "word-l2r")
    lens.pll = "original"   # the variant is part of what is computed
    assert lens.key("surprisal", model=1, tt=tt, input_ids=masked, selected=1)[-1] == "original"
    assert lens.key("attention", model=1, tt=tt, input_ids=masked, selected=1) == ("attention", 1, (2, 4, 11, 3))
    assert lens.key("saliency", model=1, tt=tt, input_ids=masked, selected=None) is None
    lens.target = ((2, 4, 11, 3), 1, 42)
    assert lens.key("saliency", model=1, tt=tt, input_ids=masked, selected=1)[-1] == 42
    assert lens.key("saliency", model=2, tt=tt, input_ids=[2, 4, 4, 3], selected=1)[-1] is None  # another input
    heat, top = normalise({0: 0.5, 1: -2.0, 2: 1.0}, skip=2)
    assert top == 2.0 and heat == {0: 0.25, 1: -1.0}


@sync
async def test_surprisal_lens_names_and_switches_the_pll_variant(app_env, tiny_bert_dir):
    from mlm_explorer.core.infer.score import score_text

    text = "Unbelievable tokenizers split words."
    app = make_app(tiny_bert_dir, text=text)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        screen.strip.focus()
        await pilot.press("s")
        await _lens_ready(pilot, screen, "surprisal")
        l2r = score_text(app.lm, text)                        # the default: word-l2r, the tokenizer's words
        assert _close(screen.lenses.view().values, {t.position: t.surprisal for t in l2r.tokens})
        assert "(PLL-word-l2r)" in screen.lenses.view().caption and f"PLL {l2r.pll:.2f}" in screen_text(app)
        await pilot.press("v")
        await _lens_ready(pilot, screen, "surprisal")
        original = score_text(app.lm, text, pll="original")
        assert _close(screen.lenses.view().values, {t.position: t.surprisal for t in original.tokens})
        assert "(original PLL)" in screen.lenses.view().caption
        assert screen.lenses.export()["details"]["pll_variant"] == "original"
