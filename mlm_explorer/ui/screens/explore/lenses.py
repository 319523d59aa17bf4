"""Explore's lenses on the screen: which lens is on, its model work, its bar and chip colours.

`ExploreLenses` is held by `ExploreScreen` (as `screen.lenses`), which calls two hooks:
`overlay()` while it draws the chips (the lens asks for what it is missing, draws its bar,
and returns the chips' colours) and `cursor_moved()` when the cursor moves (the attention
lens picks the new token's row from the kept maps: no model call).

Every model call goes through `ui/workers.py` (the one model thread). Work carries the key of
the input it was asked for (the model version, the ids, the mask, the target...); work still
queued when a newer key is asked is skipped, an answer for an older key is dropped, and the
views only ever show a result whose key is the current one (`lens.py`). Work that raises
reaches `failed()` through the app's one failure path (`WorkFailed`).
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from textual.binding import Binding

from mlm_explorer.ui import workers
from mlm_explorer.ui.enums import LensKind
from mlm_explorer.ui.messages import LensReady
from mlm_explorer.ui.screens.explore.lens import Lens, LensView
from mlm_explorer.ui.widgets.heat import COLORS
from mlm_explorer.ui.widgets.lens_bar import LensBar


LENS_DELAY = 0.25  # seconds an input must stay before its surprisal / saliency is computed
WORK_PREFIX = "lens-"  # the worker group of a lens: "lens-surprisal", ...

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
]


class ExploreLenses:
    """The lens behaviour of the Explore screen (reads its `state`, draws through it)."""

    def __init__(self, screen: Screen) -> None:  # the ExploreScreen that holds this (no import: a circle)
        self.screen = screen
        self.lens = Lens()
        self.work_started = 0  # model work asked for so far (the tests count it)
        self._turned_on: Any = None  # the input key when the lens's key was last pressed

    @property
    def app(self) -> Any:
        return self.screen.app

    def _key(self, kind: LensKind) -> Any:
        st = self.screen.state
        return self.lens.key(kind, model=self.app.model_version, tt=st.tt, input_ids=self.screen.model_ids(),
                             selected=st.selected)

    def view(self) -> LensView:
        """The active lens for the current input (a note until its result for this input is in)."""
        st = self.screen.state
        if self.lens.kind == LensKind.OFF or st.tt is None:
            return LensView()
        return self.lens.view(model=self.app.model_version, tt=st.tt, input_ids=self.screen.model_ids(),
                              selected=st.selected, cursor=self.screen.strip.cursor, positions=st.positions())

    # -- keys (the screen's actions) ----------------------------------------------------------
    def toggle(self, kind: LensKind) -> None:
        """The lens's key: on; pressed again, off, unless the input changed since it went on
        (saliency on, then a token masked: `g` explains the new mask, it does not turn the lens off)."""
        key = self._key(kind) if kind != LensKind.OFF else None
        if self.lens.kind == kind and (kind == LensKind.OFF or key == self._turned_on):
            self.lens.kind = LensKind.OFF
        else:
            self.lens.kind = kind
        self._turned_on = key
        self.screen.drawing.strip()

    def step(self, what: str, step: int) -> None:
        if self.lens.kind != LensKind.ATTENTION:
            self.screen.notify("[ ] and { } choose the attention lens's layer and head: press a first", timeout=3,
                               markup=False)
            return
        if self.lens.step(what, step):
            self.screen.drawing.strip()  # a row of the kept maps: no model call

    def switch_method(self) -> None:
        lens = self.lens
        lens.method = lens.method.other
        if lens.kind == LensKind.SALIENCY:
            self.screen.drawing.strip()  # both methods were computed at once
        else:
            self.screen.notify(f"saliency (g) will show {lens.method.label}", timeout=3)

    def switch_pll(self) -> None:
        """The surprisal lens's PLL variant: word-l2r (the default) or the original (`v`)."""
        lens = self.lens
        lens.pll = "original" if lens.pll == "word-l2r" else "word-l2r"
        if lens.kind == LensKind.SURPRISAL:
            self.screen.drawing.strip()  # another key: scored again
        else:
            self.screen.notify(f"the surprisal lens (s) will use the {lens.pll} PLL", timeout=3)

    def target_highlighted(self, prediction: Any, rank: int) -> None:
        """The saliency target: the candidate highlighted in the distribution (rank 0: the top one)."""
        if prediction is None or rank >= len(prediction.candidates):
            return
        target = prediction.candidates[rank].token_id if rank > 0 else None
        self.lens.target = (tuple(self.screen.model_ids()), prediction.position, target)
        if self.lens.kind == LensKind.SALIENCY:
            self.screen.drawing.strip()

    # -- hooks called by the screen -------------------------------------------------------------
    def overlay(self) -> dict:
        """While the chips are drawn: ask for what is missing, draw the lens bar; StripView fields."""
        view = self.view()
        on = view.kind != LensKind.OFF
        screen = self.screen
        screen.query_one("#legend").set_class(on, "hidden")
        bar = screen.query_one(LensBar)
        bar.set_class(not on, "hidden")
        bar.show(view, method=self.lens.method)
        self._sync()
        screen.candidates.sync()
        screen.kbest.sync()
        return {"heat": view.heat, "heat_colors": COLORS.get(view.kind, COLORS[LensKind.SURPRISAL])}

    def cursor_moved(self) -> None:
        """Attention follows the cursor; the surprisal caption gives the token under it its number."""
        if self.lens.kind in (LensKind.ATTENTION, LensKind.SURPRISAL):
            self.screen.drawing.strip()

    # -- model work -----------------------------------------------------------------------------
    def _sync(self) -> None:
        lens, screen, lm = self.lens, self.screen, self.app.lm
        st = screen.state
        kind = lens.kind
        if kind == LensKind.OFF or lm is None or st.tt is None:
            return
        key = self._key(kind)
        if key is None or lens.asked.get(kind) == key:
            return  # nothing to compute, or asked already (answered or on its way)
        lens.asked[kind] = key
        self.work_started += 1

        def stale() -> bool:
            return self.lens.asked.get(kind) != key

        if kind == LensKind.SURPRISAL:
            positions = [t.index for t in st.tt.tokens if t.maskable and not t.typed_mask]
            ids = list(st.tt.input_ids)
            words = [t.word if t.maskable and not t.typed_mask else None for t in st.tt.tokens]
            pll = lens.pll
            if not positions:
                screen.post_message(LensReady(kind, key, error="nothing to score: the text has only blanks"))
                return

            def work() -> Any:
                return workers.sentence_score(lm, ids, positions, pll=pll, word_ids=words, stale=stale)
        elif kind == LensKind.ATTENTION:
            ids = screen.model_ids()

            def work() -> Any:
                return workers.attention_maps(lm, ids, stale=stale)
        else:
            ids, position, target = screen.model_ids(), key[3], key[4]  # ("saliency", model, ids, position, target)

            def work() -> Any:
                return workers.saliency(lm, ids, position, target, stale=stale)

        def body() -> None:
            try:
                result = work()
            except workers.Superseded:
                return
            screen.post_message(LensReady(kind, key, result))  # an error goes the app's one way: failed()

        request = self.work_started

        def start() -> None:
            if not stale():  # still the input on the screen after the quiet time
                self.app.run_work(screen, WORK_PREFIX + kind, request, body)

        if kind == LensKind.ATTENTION:  # one forward: at once
            start()
        else:  # many passes: only once the input stops changing, so typing never queues behind them
            screen.set_timer(LENS_DELAY, start)

    def ready(self, message: LensReady) -> None:
        if self.lens.asked.get(message.kind) != message.key:
            return  # a newer input was asked for since
        self.lens.store(message.kind, message.key, message.result, message.error)
        if message.kind == self.lens.kind:
            self.screen.drawing.strip()

    def failed(self, work_kind: str, error: str) -> None:
        """Lens work raised (the app has notified): shown in the bar, not retried."""
        kind = LensKind(work_kind.removeprefix(WORK_PREFIX))
        key = self.lens.asked.get(kind)
        if key is not None:
            self.lens.store(kind, key, None, error)
            self.screen.drawing.strip()

    def export(self) -> dict | None:
        """The export's `lens` (ui/export.py): per-token values, caption, the core result; None when off."""
        view = self.view()
        tokens = self.screen.state.tt.tokens if self.screen.state.tt is not None else ()
        lens = None if view.kind == LensKind.OFF else view.to_dict(tokens)
        if lens is not None and view.kind == LensKind.SALIENCY:
            lens["method"] = str(self.lens.method)
        return lens
