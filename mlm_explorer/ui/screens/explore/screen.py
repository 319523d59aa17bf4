"""Explore: type text, mask tokens, read the model's distribution for each mask.

Flow: text edit -> (debounced) `core.text.tokenize` -> chips; a toggle or random masking
changes `state`; every change asks for a prediction on exactly `state.input_ids(...)`, and an
answer for an older request is dropped.

The screen is composed: it holds its widgets and four helpers, `predictions`
(predictions.py: the requests to the model), `drawing` (draw.py: state -> widgets), `lenses`
(lenses.py: the chip lenses and their work) and `candidates` (candidates.py: the candidate
box and its work). Failed work of any of them comes back through the app's one failure path
as `WorkFailed` (`on_work_failed`).
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
from mlm_explorer.ui import workers
from mlm_explorer.ui.enums import LensKind
from mlm_explorer.ui.messages import (
    CandidateChosen, CandidatesReady, ClearMasksPressed, CursorMoved, KBestReady, LensReady, MaskPicked, PredictionReady,
    PredictionSettingsChanged, RandomMasked, RandomMaskPressed, RowHighlighted, TokenToggled, WordsTyped, WorkFailed,
)
from mlm_explorer.ui.screens.explore import candidates, kbest, lenses
from mlm_explorer.ui.screens.explore.candidates import ExploreCandidates
from mlm_explorer.ui.screens.explore.kbest import ExploreKBest
from mlm_explorer.ui.screens.explore.draw import ExploreDrawing
from mlm_explorer.ui.screens.explore.lenses import LENS_BINDINGS, ExploreLenses
from mlm_explorer.ui.screens.explore.predictions import ExplorePredictions
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


class ExploreScreen(Screen):
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
        Binding("k", "candidates", "Candidates", show=False,
                tooltip="Score your own words at the selected mask; the best fills of 1-3 pieces"),
        Binding("J", "kbest", "K best fills", show=False,
                tooltip="The k best joint fills of all masks by PLL, beside the most-confident-first fill"),
    ] + [Binding(str(i), f"choose({i - 1})", f"choose {i}", show=False) for i in range(1, 10)] + LENS_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.state = ExploreState()
        self.before_after = False
        self._debounce = None
        self._random_pending: int | None = None  # the request of a random masking still being computed
        self.drawing = ExploreDrawing(self)
        self.predictions = ExplorePredictions(self)
        self.lenses = ExploreLenses(self)
        self.candidates = ExploreCandidates(self)
        self.kbest = ExploreKBest(self)  # the k best joint fills (J): kbest.py

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

    @property
    def busy(self) -> bool:
        """A prediction is still awaited, or the chips still wait to be drawn."""
        return self.pending is not None or self.drawing.strip_dirty

    def model_ids(self) -> list[int]:
        """What the model reads now: the token ids with the masks (and random picks) applied."""
        lm = self.app.lm
        if lm is None or self.state.tt is None:
            return []
        return self.state.input_ids(lm.tokenizer.mask_token_id)

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
        self._debounce = self.set_timer(TYPING_DEBOUNCE, self.flush_typing)

    def flush_typing(self) -> None:
        """Tokenize typing that still waits for its debounce: a key pressed right after typing
        (r, c, leaving the text box) acts on the text as typed, not on the one before."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
            self.retokenize(keep_masks=True)

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
            self.predictions.ask()
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
        self.predictions.ask()

    # -- masking ------------------------------------------------------------------------------
    @on(TokenToggled)
    def _toggled(self, event: TokenToggled) -> None:
        self.toggle(event.index, whole_word=event.whole_word)

    def toggle(self, index: int, *, whole_word: bool = False) -> None:
        self.flush_typing()
        if self.state.toggle(index, whole_word=whole_word):
            self.predictions.ask()

    def action_clear(self) -> None:
        self.flush_typing()
        if self.state.tt is None:
            return
        self.state.clear()
        self.predictions.ask()

    def action_random_mask(self) -> None:
        """The masking engine on the current text; pressed again, the next seed. Every press
        counts: one that comes while the previous masking is still being computed (the first per
        model builds the masking vocabulary in a worker) moves to the next seed too."""
        self.flush_typing()
        st, lm = self.state, self.app.lm
        if st.tt is None or lm is None:
            return
        settings = self.app.settings
        self.query_one(Controls).read()
        if st.random is not None or self._random_pending == self.request:
            settings.seed += 1
            self.query_one(Controls).show()
            self.app.save_settings()
        request, seed, rate = self.predictions.next_request(), settings.seed, settings.rate
        whole_word = settings.whole_word
        tt = st.tt
        preview = workers.random_mask_now(lm, tt, rate=rate, seed=seed, whole_word=whole_word)
        if preview is not None:
            self.on_random_masked(RandomMasked(request, preview))
            return
        self._random_pending = request

        def body() -> None:
            preview = workers.random_mask(lm, tt, rate=rate, seed=seed, whole_word=whole_word)
            self.post_message(RandomMasked(request, preview))

        self.app.run_work(self, "random", request, body)

    def on_random_masked(self, message: RandomMasked) -> None:
        if message.request != self.request or self.state.tt is None:
            return
        self._random_pending = None
        self.state.random = message.preview
        picked = self.state.random.picked()
        if not picked:
            self.notify(f"rate {message.preview.rate} picked no token at seed {message.preview.seed}; press r again", timeout=4)
        self.state.selected = picked[0] if picked else None
        self.predictions.ask()

    # -- predictions (the helper keeps the requests) ---------------------------------------------
    @property
    def request(self) -> int:
        return self.predictions.request

    @property
    def pending(self) -> int | None:
        return self.predictions.pending

    def on_prediction_ready(self, message: PredictionReady) -> None:
        self.predictions.ready(message)

    def on_work_failed(self, message: WorkFailed) -> None:
        """The one way failed work comes back (the app has notified the user already)."""
        if message.kind.startswith(lenses.WORK_PREFIX):
            self.lenses.failed(message.kind, message.error)
        elif message.kind == candidates.WORK_KIND:
            self.candidates.failed(message.error)
        elif message.kind == kbest.WORK_KIND:
            self.kbest.failed(message.error)
        else:  # a prediction or a random masking
            self.predictions.failed(message.request, message.error)

    @on(MaskPicked)
    def _row_picked(self, event: MaskPicked) -> None:
        if event.position in self.state.positions():
            self.state.selected = event.position
            self.strip.cursor = event.position
            self.drawing.strip()
            self.drawing.distribution()

    @on(CursorMoved)
    def _cursor_moved(self, event: CursorMoved) -> None:
        self.lenses.cursor_moved()
        if event.index in self.state.positions() and event.index != self.state.selected:
            self.state.selected = event.index
            self.drawing.strip()
            if self.state.result is not None:
                self.drawing.distribution()

    # -- lenses and the candidate box (their helpers do the work) -------------------------------
    def action_lens(self, kind: str) -> None:
        self.lenses.toggle(LensKind(kind))

    def action_attention_step(self, what: str, step: int) -> None:
        self.lenses.step(what, step)

    def action_saliency_method(self) -> None:
        self.lenses.switch_method()

    def action_pll_variant(self) -> None:
        self.lenses.switch_pll()

    def action_kbest(self) -> None:
        self.kbest.toggle()

    def on_kbest_ready(self, message: KBestReady) -> None:
        self.kbest.ready(message)

    def on_lens_ready(self, message: LensReady) -> None:
        self.lenses.ready(message)

    @on(RowHighlighted)
    def _candidate_highlighted(self, event: RowHighlighted) -> None:
        """A candidate highlighted in the (fine-tuned model's) distribution is the saliency lens's target."""
        dist = event.row_list.parent
        if isinstance(dist, Distribution) and dist.id == "dist":
            self.lenses.target_highlighted(dist.prediction, event.index)

    def action_candidates(self) -> None:
        self.candidates.toggle()

    @on(WordsTyped)
    def _words_typed(self, message: WordsTyped) -> None:
        self.candidates.words_typed(message.words)

    def on_candidates_ready(self, message: CandidatesReady) -> None:
        self.candidates.ready(message)

    # -- choosing a candidate -------------------------------------------------------------------
    @on(CandidateChosen)
    def _chosen(self, event: CandidateChosen) -> None:
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
    @on(PredictionSettingsChanged)
    def _controls_changed(self) -> None:
        self.predictions.ask()

    @on(RandomMaskPressed)
    def _random_pressed(self) -> None:
        self.action_random_mask()

    @on(ClearMasksPressed)
    def _clear_pressed(self) -> None:
        self.action_clear()

    def action_toggle_joint(self) -> None:
        self.query_one(Controls).toggle_joint()

    def action_top_k(self, step: int) -> None:
        self.query_one(Controls).step_top_k(step)

    def action_toggle_whole_word(self) -> None:
        whole_word = self.query_one(Controls).toggle_whole_word()
        self.notify(f"random masking picks {'whole words' if whole_word else 'subword tokens'}", timeout=3)

    def action_toggle_base(self) -> None:
        if self.app.base_lm is None:
            self.notify("no base model: load a fine-tuned run (Train screen) to compare before and after")
            return
        self.before_after = not self.before_after
        self.predictions.ask()

    def action_pin_probe(self) -> None:
        """Pin the text with the selected mask as a probe (answer: the token that was there)."""
        try:
            text, answer = self.state.as_probe()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.app.pin_probe(text, answer)

    def action_focus_tokens(self) -> None:
        self.flush_typing()
        self.strip.focus()

    def action_focus_text(self) -> None:
        self.query_one("#text", TextArea).focus()
