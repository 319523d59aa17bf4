"""Explore's lenses and candidate box on the screen: keys, model jobs, redraws.

`LensScreenMixin` is mixed into `ExploreScreen`, which calls two hooks: `lens_overlay()`
while it draws the chips (the lens asks for what it is missing, draws its bar, and returns
the chips' colours) and `lens_cursor_moved()` when the cursor moves (the attention lens picks
the new token's row from the kept maps: no model call).

Every model call goes through `ui/workers.py` (the one model thread). A job carries the key of
the input it was asked for (the model version, the ids, the mask, the target...); a job still
queued when a newer key is asked is skipped, an answer for an older key is dropped, and the
views only ever show a result whose key is the current one (`ui/lens.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.binding import Binding
from textual.message import Message

from mlm_explorer.errors import UserError
from mlm_explorer.ui import workers as jobs
from mlm_explorer.ui.screens.explore.kbest import KBestReady
from mlm_explorer.ui.screens.explore.lens import METHOD_NAMES, Lens, LensView
from mlm_explorer.ui.widgets.candidate_box import CandidateBox
from mlm_explorer.ui.widgets.heat import COLORS
from mlm_explorer.ui.widgets.lens_bar import LensBar

LENS_DELAY = 0.25  # seconds an input must stay before its surprisal / saliency is computed

LENS_BINDINGS = [
    Binding("s", "lens('surprisal')", "Surprisal", show=False,
            tooltip="Lens: each token's surprisal -log p (masked in turn), the sentence's PLL and pseudo-perplexity"),
    Binding("a", "lens('attention')", "Attention", show=False,
            tooltip="Lens: the attention of the token under the cursor to every token"),
    Binding("g", "lens('saliency')", "Saliency", show=False,
            tooltip="Lens: which tokens made the selected mask's prediction (integrated gradients)"),
    Binding("0", "lens('off')", "Lens off", show=False),
    Binding("left_square_bracket", "attention_step('layer', -1)", "Layer -", show=False),
    Binding("right_square_bracket", "attention_step('layer', 1)", "Layer +", show=False),
    Binding("left_curly_bracket,less_than_sign", "attention_step('head', -1)", "Head -", show=False),
    Binding("right_curly_bracket,greater_than_sign", "attention_step('head', 1)", "Head +", show=False),
    Binding("i", "saliency_method", "IG / grad×input", show=False),
    Binding("v", "pll_variant", "PLL variant", show=False,
            tooltip="Surprisal lens: PLL-word-l2r (a token and the rest of its word masked) or the original PLL"),
    Binding("k", "candidates", "Candidates", show=False,
            tooltip="Score your own words at the selected mask; the best fills of 1-3 pieces"),
    Binding("J", "kbest", "K best fills", show=False,
            tooltip="The k best joint fills of all masks by PLL, beside the most-confident-first fill"),
]


@dataclass
class LensReady(Message):
    kind: str
    key: Any
    result: Any = None  # SentenceScore / AttentionMaps / Saliency
    error: str | None = None


@dataclass
class CandidatesReady(Message):
    key: Any  # (model version, ids, position, temperature)
    words: tuple = ()
    data: dict = field(default_factory=dict)  # jobs.candidates' answer


class _LensJobs:
    """Where the app's worker-error handler reports a lens job that raised."""

    def __init__(self, screen: "LensScreenMixin") -> None:
        self.screen = screen

    def job_failed(self, kind: str, request: int, error: str) -> None:
        self.screen.lens_job_failed(kind, error)


class LensScreenMixin:
    """Lens and candidate-box behaviour of the Explore screen (needs `state`, `strip`, `_draw_strip`)."""

    def lens_setup(self) -> None:
        self.lens = Lens()
        self._lens_jobs = _LensJobs(self)
        self._lens_request = 0
        self.candidates_open = False
        self.candidate_words: tuple[str, ...] = ()
        self.candidate_data: dict[str, tuple[Any, dict]] = {}  # "fills" / "scores" -> (key, jobs.candidates answer)
        self._candidates_asked: Any = None

    # -- inputs and keys ----------------------------------------------------------------------
    def _model_ids(self) -> list[int]:
        lm = self.app.lm
        if lm is None or self.state.tt is None:
            return []
        return self.state.input_ids(lm.tokenizer.mask_token_id)

    def _lens_key(self, kind: str) -> Any:
        return self.lens.key(kind, model=self.app.model_version, tt=self.state.tt, input_ids=self._model_ids(),
                             selected=self.state.selected)

    def lens_view(self) -> LensView:
        """The active lens for the current input (a note until its result for this input is in)."""
        st = self.state
        if self.lens.kind == "off" or st.tt is None:
            return LensView()
        return self.lens.view(model=self.app.model_version, tt=st.tt, input_ids=self._model_ids(),
                              selected=st.selected, cursor=self.strip.cursor, positions=st.positions())

    # -- actions ------------------------------------------------------------------------------
    def action_lens(self, kind: str) -> None:
        self.lens.kind = "off" if self.lens.kind == kind else kind
        self._draw_strip()

    def action_attention_step(self, what: str, step: int) -> None:
        if self.lens.kind != "attention":
            self.notify("[ ] and { } choose the attention lens's layer and head: press a first", timeout=3,
                        markup=False)
            return
        if self.lens.step(what, step):
            self._draw_strip()  # a row of the kept maps: no model call

    def action_saliency_method(self) -> None:
        lens = self.lens
        lens.method = "grad-x-input" if lens.method == "ig" else "ig"
        if lens.kind == "saliency":
            self._draw_strip()  # both methods were computed at once
        else:
            self.notify(f"saliency (g) will show {METHOD_NAMES[lens.method]}", timeout=3)

    def action_kbest(self) -> None:
        self.kbest.toggle()  # ui/screens/explore/kbest.py

    def on_kbest_ready(self, message: KBestReady) -> None:
        self.kbest.ready(message)

    def action_pll_variant(self) -> None:
        lens = self.lens
        lens.pll = "original" if lens.pll == "word-l2r" else "word-l2r"
        if lens.kind == "surprisal":
            self._draw_strip()  # another key: scored again
        else:
            self.notify(f"the surprisal lens (s) will use the {lens.pll} PLL", timeout=3)

    def action_candidates(self) -> None:
        box = self.query_one(CandidateBox)
        self.candidates_open = not self.candidates_open
        box.set_class(not self.candidates_open, "hidden")
        if self.candidates_open:
            box.query_one("#cand-input").focus()
            self.candidates_sync()
        else:
            self.strip.focus()

    # -- hooks called by the screen -------------------------------------------------------------
    def lens_overlay(self) -> dict:
        """While the chips are drawn: ask for what is missing, draw the lens bar; StripView fields."""
        view = self.lens_view()
        on = view.kind != "off"
        self.query_one("#legend").set_class(on, "hidden")
        bar = self.query_one(LensBar)
        bar.set_class(not on, "hidden")
        bar.show(view, method=self.lens.method)
        self._lens_sync()
        self.candidates_sync()
        self.kbest.sync()
        return {"heat": view.heat, "heat_colors": COLORS.get(view.kind, COLORS["surprisal"])}

    def lens_cursor_moved(self, index: int) -> None:
        if self.lens.kind == "attention":
            self._draw_strip()

    # -- lens jobs ------------------------------------------------------------------------------
    def _lens_sync(self) -> None:
        lens, st, lm = self.lens, self.state, self.app.lm
        kind = lens.kind
        if kind == "off" or lm is None or st.tt is None:
            return
        key = self._lens_key(kind)
        if key is None or lens.asked.get(kind) == key:
            return  # nothing to compute, or asked already (answered or on its way)
        lens.asked[kind] = key
        self._lens_request += 1

        def stale() -> bool:
            return self.lens.asked.get(kind) != key

        if kind == "surprisal":
            positions = [t.index for t in st.tt.tokens if t.maskable and not t.typed_mask]
            ids = list(st.tt.input_ids)
            words = [t.word if t.maskable and not t.typed_mask else None for t in st.tt.tokens]
            pll = lens.pll
            if not positions:
                self.post_message(LensReady(kind, key, error="nothing to score: the text has only blanks"))
                return

            def work() -> Any:
                return jobs.sentence_score(lm, ids, positions, pll=pll, word_ids=words, stale=stale)
        elif kind == "attention":
            ids = self._model_ids()

            def work() -> Any:
                return jobs.attention_maps(lm, ids, stale=stale)
        else:
            ids, position, target = self._model_ids(), key[3], key[4]  # ("saliency", model, ids, position, target)

            def work() -> Any:
                return jobs.saliency(lm, ids, position, target, stale=stale)

        def body() -> None:
            try:
                result = work()
            except jobs.Superseded:
                return
            except UserError as exc:
                self.post_message(LensReady(kind, key, error=str(exc)))
                return
            self.post_message(LensReady(kind, key, result))

        request = self._lens_request

        def start() -> None:
            if not stale():  # still the input on the screen after the quiet time
                self.app.run_job(self._lens_jobs, f"lens-{kind}", request, body)

        if kind == "attention":  # one forward: at once
            start()
        else:  # many passes: only once the input stops changing, so typing never queues behind them
            self.set_timer(LENS_DELAY, start)

    def on_lens_ready(self, message: LensReady) -> None:
        if self.lens.asked.get(message.kind) != message.key:
            return  # a newer input was asked for since
        self.lens.store(message.kind, message.key, message.result, message.error)
        if message.kind == self.lens.kind:
            self._draw_strip()

    def lens_job_failed(self, kind: str, error: str) -> None:
        """An unexpected error in a lens job (the app has notified): shown in the bar, not retried."""
        if kind == "candidates":
            want = self._candidates_asked
            if want is not None:
                errors = {"score_error": error if want[1] else None, "fill_error": error if want[2] else None}
                self.on_candidates_ready(CandidatesReady(want[0], want[1], errors))
            return
        kind = kind.removeprefix("lens-")
        key = self.lens.asked.get(kind)
        if key is not None:
            self.lens.store(kind, key, None, error)
            self._draw_strip()

    # -- the saliency target: the candidate highlighted in the distribution ---------------------
    def on_row_list_highlighted(self, event: Any) -> None:
        dist = event.row_list.parent  # a Candidates list inside a Distribution
        prediction = getattr(dist, "prediction", None)
        if getattr(dist, "id", None) != "dist" or prediction is None:
            return
        rank = event.index
        if rank >= len(prediction.candidates):
            return
        target = prediction.candidates[rank].token_id if rank > 0 else None  # rank 0: the top prediction
        self.lens.target = (tuple(self._model_ids()), prediction.position, target)
        if self.lens.kind == "saliency":
            self._draw_strip()

    # -- candidate box --------------------------------------------------------------------------
    def on_candidate_box_asked(self, message: CandidateBox.Asked) -> None:
        self.candidate_words = tuple(message.words)
        self.candidates_sync()

    def _candidates_key(self) -> Any:
        st, lm = self.state, self.app.lm
        p = st.selected
        if lm is None or st.tt is None or p is None or p not in st.positions():
            return None
        ids = self._model_ids()
        ids[p] = lm.tokenizer.mask_token_id  # a random/kept pick is scored as a blank too
        return (self.app.model_version, tuple(ids), p, self.app.settings.temperature)

    def candidates_sync(self) -> None:
        """The box is open: ask for the scores and fills it lacks, and draw what there is."""
        if not self.candidates_open:
            return
        key = self._candidates_key()
        words = self.candidate_words
        if key is not None:
            need_fills = self.candidate_data.get("fills", (None,))[0] != key
            need_scores = bool(words) and self.candidate_data.get("scores", (None,))[0] != (key, words)
            want = (key, words if need_scores else (), need_fills)
            if (need_fills or need_scores) and self._candidates_asked != want:
                self._ask_candidates(key, want)
        self._draw_candidates(key, words)

    def _ask_candidates(self, key: Any, want: Any) -> None:
        self._candidates_asked = want
        self._lens_request += 1
        lm, (_, ids, position, temperature) = self.app.lm, key
        words, fills = want[1], want[2]

        def body() -> None:
            try:
                data = jobs.candidates(lm, list(ids), position, list(words), fills=fills, temperature=temperature,
                                       stale=lambda: self._candidates_asked != want)
            except jobs.Superseded:
                return
            self.post_message(CandidatesReady(key, words, data))

        self.app.run_job(self._lens_jobs, "candidates", self._lens_request, body)

    def on_candidates_ready(self, message: CandidatesReady) -> None:
        key = self._candidates_key()
        if message.key != key:
            return  # another mask, text, model or temperature since
        data = message.data
        if data.get("fills") is not None or data.get("fill_error"):
            self.candidate_data["fills"] = (key, data)
        if message.words and message.words == self.candidate_words:
            self.candidate_data["scores"] = ((key, message.words), data)
        self._draw_candidates(key, self.candidate_words)

    def _draw_candidates(self, key: Any, words: tuple) -> None:
        box = self.query_one(CandidateBox)
        if key is None:
            box.show(title="", note="mask a token (click it, or space): words are scored at the selected mask")
            return
        positions = self.state.positions()
        p = key[2]
        title = f"mask {positions.index(p) + 1}/{len(positions)} · position {p}"
        fills = self.candidate_data.get("fills")
        fills = fills[1] if fills and fills[0] == key else {}
        scores = self.candidate_data.get("scores")
        scores = scores[1] if scores and scores[0] == (key, words) and words else {}
        box.show(title=title, scores=scores.get("scores"), score_error=scores.get("score_error"),
                 fills=fills.get("fills"), fill_error=fills.get("fill_error"), words=list(words))

    def candidates_view(self) -> dict | None:
        """The candidate box's numbers for the current mask (export); None when it is closed or empty."""
        key = self._candidates_key()
        if not self.candidates_open or key is None:
            return None
        words = self.candidate_words
        fills = self.candidate_data.get("fills")
        scores = self.candidate_data.get("scores")
        fills = fills[1] if fills and fills[0] == key else {}
        scores = scores[1] if scores and scores[0] == (key, words) and words else {}
        return {
            "position": key[2], "temperature": key[3], "words": list(words),
            "scores": [s.to_dict() for s in scores.get("scores") or []], "score_error": scores.get("score_error"),
            "fills": [f.to_dict() for f in fills.get("fills") or []], "fill_error": fills.get("fill_error"),
        }

    def lens_export(self) -> dict:
        """`lens` and `candidates` of the export (ui/export.py)."""
        view = self.lens_view()
        tokens = self.state.tt.tokens if self.state.tt is not None else ()
        lens = None if view.kind == "off" else view.to_dict(tokens)
        if lens is not None and view.kind == "saliency":
            lens["method"] = self.lens.method
        return {"lens": lens, "candidates": self.candidates_view(), "k_best": self.kbest.export()}
