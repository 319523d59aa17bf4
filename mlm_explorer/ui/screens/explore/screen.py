"""Explore: type text, mask tokens, read the model's distribution for each mask.

Flow: text edit -> (debounced) `core.text.tokenize` -> chips; a toggle or random masking
changes `state`; every change bumps `request` and asks the app for a prediction on exactly
`state.input_ids(...)`; an answer for an older request is dropped. The loading mark shows
only when an answer takes longer than `LOADING_DELAY`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, TextArea

from mlm_explorer.errors import UserError
from mlm_explorer.ui import workers as jobs
from mlm_explorer.ui.screens.explore.draw import ExploreDrawing
from mlm_explorer.ui.screens.explore.kbest import KBestPart
from mlm_explorer.ui.screens.explore.lenses import LENS_BINDINGS, LensScreenMixin
from mlm_explorer.ui.messages import PredictionFailed, PredictionReady, RandomMasked
from mlm_explorer.ui.state import ExploreState, remap_positions
from mlm_explorer.ui.widgets.candidate_box import CandidateBox
from mlm_explorer.ui.widgets.controls import Controls
from mlm_explorer.ui.widgets.decode_line import DecodeLine, Legend
from mlm_explorer.ui.widgets.diff_panel import DiffPanel
from mlm_explorer.ui.widgets.distribution import Distribution, shown
from mlm_explorer.ui.widgets.kbest_list import KBestList
from mlm_explorer.ui.widgets.lens_bar import LensBar
from mlm_explorer.ui.widgets.mask_table import MaskTable
from mlm_explorer.ui.widgets.token_strip import StripView, TokenStrip

DEFAULT_TEXT = "The cute dog walks in the green park."
TYPING_DEBOUNCE = 0.15  # seconds of quiet typing before the text is tokenized again
LOADING_DELAY = 0.3  # a prediction slower than this shows "predicting…"
STRIP_DELAY = 0.1  # chips wait this long for the prediction, so both land in one frame
# (a frame drawn while the model runs competes with it for the CPU and the GIL; a prediction
#  slower than this gets the chips first, then the distribution)


class ExploreScreen(ExploreDrawing, LensScreenMixin, Screen):  # drawing: ui/screens/explore/draw.py; lenses: ui/screens/explore/lenses.py
    BINDINGS = [
        Binding("r", "random_mask", "Random mask", tooltip="Apply the masking engine (rate, seed); again: next seed"),
        Binding("c", "clear", "Clear", tooltip="Unmask everything"),
        Binding("j", "toggle_joint", "Joint/indep.", tooltip="Fill several masks jointly (most confident first) or independently"),
        Binding("W", "toggle_whole_word", "Whole-word r", show=False,
                tooltip="Random masking picks whole words (on/off)"),
        Binding("b", "toggle_base", "Before/after", tooltip="Show the base model beside the fine-tuned one"),
        Binding("p", "pin_probe", "Pin probe", show=False,
                tooltip="Pin the text with the selected mask as a probe, watched while fine-tuning (Train)"),
        Binding("plus,equals_sign", "top_k(1)", "k+1", show=False),
        Binding("minus", "top_k(-1)", "k-1", show=False),
        Binding("escape", "focus_tokens", "Tokens", show=False),
        Binding("t", "focus_text", "Edit text", tooltip="Back to the text box"),
    ] + [Binding(str(i), f"choose({i - 1})", f"choose {i}", show=False) for i in range(1, 10)] + LENS_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.state = ExploreState()
        self.request = 0  # bumps on every change of the model input
        self.pending: int | None = None  # request still waiting for its prediction
        self.before_after = False
        self._debounce = None
        self._strip_dirty = False
        self._strip_timer = None  # the pending STRIP_DELAY / LOADING_DELAY timers of the latest request
        self._busy_timer = None
        self._busy_text = ""
        self.lens_setup()
        self.kbest = KBestPart(self)  # the k best joint fills (J): ui/screens/explore/kbest.py

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="status-bar"):
            yield Label("", id="model-status")
            yield Label("", id="busy")
        initial = DEFAULT_TEXT if self.app.initial_text is None else self.app.initial_text
        text = TextArea(initial, id="text", soft_wrap=True, tab_behavior="focus")
        text.border_title = "Text (\\[MASK] or ___ are masks too)"
        yield text
        yield Controls(id="controls")
        with Vertical(id="tokens-box") as box:
            box.border_title = "Tokens"
            yield TokenStrip(id="strip")
            yield Legend(id="legend")
            yield LensBar(id="lens-bar", classes="hidden")
        with Horizontal(id="results"):
            with Vertical(id="fill-box") as fill:
                fill.border_title = "Fill"
                yield DecodeLine(id="decode")
                yield MaskTable(id="mask-table")
                yield DiffPanel(id="diff-panel", classes="hidden")
                yield CandidateBox(id="cand-box", classes="hidden")
            with Vertical(id="dist-column"):
                with Horizontal(id="dist-box") as dist:
                    dist.border_title = "Distribution"
                    yield Distribution(id="dist")
                    yield Distribution("base", id="dist-base", classes="hidden")
                yield KBestList(id="kbest", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.app.explore = self  # Compare and export read this screen's state
        self.watch(self.app, "model_status", self._show_model_status)
        self.watch(self.app, "model_version", self._model_changed)

    @property
    def strip(self) -> TokenStrip:
        return self.query_one("#strip", TokenStrip)

    def _show_model_status(self, status: str) -> None:
        self.query_one("#model-status", Label).update(Text(status, style="dim" if "…" in status else ""))

    def _model_changed(self, _version: int) -> None:
        if self.app.lm is None:
            self.strip.show(StripView(note=self.app.model_status))
            return
        self.state.random = None
        if self.app.base_lm is None:
            self.before_after = False
        self.retokenize(keep_masks=True, force=True)

    # -- text ---------------------------------------------------------------------------------
    @on(TextArea.Changed, "#text")
    def _text_changed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(TYPING_DEBOUNCE, lambda: self.retokenize(keep_masks=True))

    def retokenize(self, *, keep_masks: bool, force: bool = False) -> None:
        """core.text.tokenize the text box; carry clicked masks over the edit."""
        lm = self.app.lm
        if lm is None:
            return
        from mlm_explorer.core.mask.text import MaskSet, tokenize

        text = self.query_one("#text", TextArea).text
        old = self.state.tt
        try:
            tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=True)
        except UserError as exc:
            self.state = ExploreState(masks=MaskSet(), error=str(exc))
            self.strip.show(StripView(note=str(exc)))
            self._changed()
            return
        kept: set[int] = set()
        if keep_masks and old is not None and self.state.masks is not None:
            kept = remap_positions(old, tt, self.state.masks.positions)
        unchanged = old is not None and old.text == tt.text and old.input_ids == tt.input_ids
        if unchanged and not force and self.state.masks is not None:
            return  # nothing the model sees changed
        self.state.tt = tt
        self.state.masks = MaskSet(frozenset(kept))
        self.state.random = None
        self.state.error = None
        if tt.truncated:
            self.notify(f"text cut to the model's {lm.max_length} tokens", severity="warning")
        self._changed()

    # -- masking ------------------------------------------------------------------------------
    @on(TokenStrip.Toggled)
    def _toggled(self, event: TokenStrip.Toggled) -> None:
        self.toggle(event.index, whole_word=event.whole_word)

    def toggle(self, index: int, *, whole_word: bool = False) -> None:
        if self.state.toggle(index, whole_word=whole_word):
            self._changed()

    def action_clear(self) -> None:
        if self.state.tt is None:
            return
        self.state.clear()
        self._changed()

    def action_random_mask(self) -> None:
        """The masking engine on the current text; pressed again, the next seed."""
        st, lm = self.state, self.app.lm
        if st.tt is None or lm is None:
            return
        settings = self.app.settings
        self.query_one(Controls).read()
        if st.random is not None:
            settings.seed += 1
            self.query_one(Controls).show()
            self.app.save_settings()
        self.request += 1
        request, seed, rate = self.request, settings.seed, settings.rate
        whole_word = settings.whole_word
        tt = st.tt

        def body() -> None:
            preview = jobs.random_mask(lm, tt, rate=rate, seed=seed, whole_word=whole_word)
            self.post_message(RandomMasked(request, preview))

        self.app.run_job(self, "random", request, body)

    def on_random_masked(self, message: RandomMasked) -> None:
        if message.request != self.request or self.state.tt is None:
            return
        self.state.random = message.preview
        picked = self.state.random.picked()
        if not picked:
            self.notify(f"rate {message.preview.rate} picked no token at seed {message.preview.seed}; press r again", timeout=4)
        self.state.selected = picked[0] if picked else None
        self._changed()

    # -- predictions --------------------------------------------------------------------------
    def _changed(self) -> None:
        """The model input changed: redraw the chips, then ask for a prediction."""
        st = self.state
        positions = st.positions()
        if st.selected not in positions:
            st.selected = positions[0] if positions else None
        self.request += 1
        st.result = st.base_result = st.diff = st.diff_error = None
        # A newer request supersedes the older one's timers: the old STRIP_DELAY timer would
        # otherwise draw the chips early, mid-forward (fighting the model for the CPU and the GIL).
        for timer in (self._strip_timer, self._busy_timer):
            if timer is not None:
                timer.stop()
        self._strip_timer = self._busy_timer = None
        lm = self.app.lm
        if not positions or lm is None:
            self.pending = None
            self._draw_strip()
            self._draw_results()
            return
        self._strip_dirty = True
        self._strip_timer = self.set_timer(STRIP_DELAY, self._flush_strip)
        req = jobs.PredictRequest(
            input_ids=st.input_ids(lm.tokenizer.mask_token_id), positions=positions,
            original_ids=st.original_ids(), top_k=self.app.settings.top_k,
            joint=self.app.settings.joint, temperature=self.app.settings.temperature,
        )
        base = self.app.base_lm if self.before_after else None
        request = self.request
        self.pending = request

        stale = lambda: request != self.request  # noqa: E731 - a newer request supersedes this one

        def body() -> PredictionReady:  # on the model thread, queued straight from here (no worker)
            result, base_result, seconds = jobs.predict(lm, req, base, stale=stale)
            diff, diff_error = None, None
            if base is not None:  # before/after: the change per candidate (core.diff)
                try:
                    diff = jobs.diff(base, lm, req, stale=stale)
                except UserError as exc:
                    diff_error = str(exc)
            return PredictionReady(request, result, base_result, seconds, diff, diff_error)

        jobs.submit(body, done=self.post_message, stale=stale,
                    failed=lambda exc: self.post_message(PredictionFailed(request, exc)))
        self._busy_timer = self.set_timer(LOADING_DELAY, lambda: self._show_busy(request))

    def _flush_strip(self) -> None:
        if self._strip_dirty:
            self._draw_strip()

    def _show_busy(self, request: int) -> None:
        if self.pending == request:
            self._set_busy("predicting…")

    def _set_busy(self, text: str) -> None:
        """The busy mark; untouched when it already reads `text` (its width is auto: every
        update of the label would otherwise cost a layout of the whole screen)."""
        if text != self._busy_text:
            self._busy_text = text
            self.query_one("#busy", Label).update(text)

    def on_prediction_ready(self, message: PredictionReady) -> None:
        if message.request != self.request:
            return  # a newer request superseded this one
        self.pending = None
        self.state.result, self.state.base_result = message.result, message.base_result
        self.state.diff, self.state.diff_error = message.diff, message.diff_error
        with self.app.batch_update():
            self._flush_strip()
            self._draw_results()

    def on_prediction_failed(self, message: PredictionFailed) -> None:
        if message.request != self.request:
            return  # superseded: its failure does not matter any more
        text = self.app.report_error(message.error)
        self.job_failed("predict", message.request, text)

    def job_failed(self, kind: str, request: int, error: str) -> None:
        """Called by the app's worker-error handler."""
        if request == self.request:
            self.pending = None
            self.state.error = error
            self._flush_strip()
            self._draw_results()

    @on(MaskTable.Picked)
    def _row_picked(self, event: MaskTable.Picked) -> None:
        if event.position in self.state.positions():
            self.state.selected = event.position
            self.strip.cursor = event.position
            self._draw_strip()
            self._draw_distribution()

    @on(TokenStrip.CursorMoved)
    def _cursor_moved(self, event: TokenStrip.CursorMoved) -> None:
        self.lens_cursor_moved(event.index)
        if event.index in self.state.positions() and event.index != self.state.selected:
            self.state.selected = event.index
            self._draw_strip()
            if self.state.result is not None:
                self._draw_distribution()

    # -- choosing a candidate -------------------------------------------------------------------
    @on(Distribution.Chosen)
    def _chosen(self, event: Distribution.Chosen) -> None:
        self.fill(event.position, event.candidate)

    def action_choose(self, rank: int) -> None:
        self.query_one("#dist", Distribution).choose(rank)

    def fill(self, position: int, candidate: Any) -> None:
        """Write the candidate into the text in place of the token at `position`."""
        new_text = self.state.fill(position, shown(candidate))
        if new_text is None:
            return
        area = self.query_one("#text", TextArea)
        with area.prevent(TextArea.Changed):
            area.text = new_text
        self.retokenize(keep_masks=True)

    # -- controls -------------------------------------------------------------------------------
    @on(Controls.Changed)
    def _controls_changed(self) -> None:
        self._changed()

    @on(Controls.RandomMask)
    def _random_pressed(self) -> None:
        self.action_random_mask()

    @on(Controls.Clear)
    def _clear_pressed(self) -> None:
        self.action_clear()

    def action_toggle_joint(self) -> None:
        self.app.settings.joint = not self.app.settings.joint
        self.app.save_settings()
        self.query_one(Controls).show()
        self._changed()

    def action_top_k(self, step: int) -> None:
        s = self.app.settings
        s.top_k = max(1, min(50, s.top_k + step))
        self.query_one(Controls).show()
        self.app.save_settings()
        self._changed()

    def action_toggle_whole_word(self) -> None:
        s = self.app.settings
        s.whole_word = not s.whole_word
        self.app.save_settings()
        self.notify(f"random masking picks {'whole words' if s.whole_word else 'subword tokens'}", timeout=3)

    def action_toggle_base(self) -> None:
        if self.app.base_lm is None:
            self.notify("no base model: load a fine-tuned run (Train screen) to compare before and after")
            return
        self.before_after = not self.before_after
        self._changed()

    def action_pin_probe(self) -> None:
        """Pin the text with the selected mask as a probe (answer: the token that was there)."""
        try:
            text, answer = self.state.as_probe()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.app.pin_probe(text, answer)

    def action_focus_tokens(self) -> None:
        self.strip.focus()

    def action_focus_text(self) -> None:
        self.query_one("#text", TextArea).focus()
