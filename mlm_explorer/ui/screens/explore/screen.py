"""Explore: type text, mask tokens, read the model's distribution for each mask.

Flow: text edit -> (debounced) `core.text.tokenize` -> chips; a toggle or random masking
changes `state`; every change asks for a prediction on exactly `state.input_ids(...)`, and an
answer for an older request is dropped.

The screen is composed: it holds its widgets and its helpers, `predictions`
(predictions.py: the requests to the model), `masking` (masking.py: random masking, unmask
all, the jump between masks), `drawing` (draw.py: state -> widgets), `lenses` (lenses.py: the
chip lenses and their work), `candidates` (candidates.py: the candidate box and its work),
`kbest` (kbest.py) and `text_edits` (text_edits.py: the text box -> tokens). Its keys, and
which of them work where the focus is, are keys.py. Failed work of any of them comes back
through the app's one failure path as `WorkFailed` (`on_work_failed`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, TextArea

from mlm_explorer.ui.enums import LensKind, Role
from mlm_explorer.ui.messages import (
    CandidateChosen, CandidatesReady, ClearMasksPressed, ClearTextPressed, CursorMoved, KBestReady, LensReady,
    MaskPicked, PredictionReady, PredictionSettingsChanged, RandomMasked, RandomMaskPressed, RowHighlighted,
    TokenToggled, WordsTyped, WorkFailed,
)
from mlm_explorer.ui.screens.explore import candidates, kbest, lenses
from mlm_explorer.ui.screens.explore.candidates import ExploreCandidates
from mlm_explorer.ui.screens.explore.kbest import ExploreKBest
from mlm_explorer.ui.screens.explore.draw import ExploreDrawing
from mlm_explorer.ui.screens.explore.keys import CHIP_HINT, EXPLORE_BINDINGS, FIELD_HINT, TEXT_HINT, TYPING_KEY_ACTIONS
from mlm_explorer.ui.screens.explore.lenses import ExploreLenses
from mlm_explorer.ui.screens.explore.masking import ExploreMasking
from mlm_explorer.ui.screens.explore.predictions import ExplorePredictions
from mlm_explorer.ui.screens.explore.session import opening_text
from mlm_explorer.ui.screens.explore.text_edits import ExploreTextEdits
from mlm_explorer.ui.screens.footer import footer_first
from mlm_explorer.ui.state import ExploreState
from mlm_explorer.ui.widgets.candidate_box import CandidateBox
from mlm_explorer.ui.widgets.controls import Controls
from mlm_explorer.ui.widgets.decode_line import DecodeLine, Legend
from mlm_explorer.ui.widgets.diff_panel import DiffPanel
from mlm_explorer.ui.widgets.distribution import Distribution, shown
from mlm_explorer.ui.widgets.kbest_list import KBestList
from mlm_explorer.ui.widgets.lens_bar import LensBar
from mlm_explorer.ui.widgets.mask_table import MaskTable
from mlm_explorer.ui.widgets.text_box import TextBox
from mlm_explorer.ui.widgets.token_strip import StripView, TokenStrip

DEFAULT_TEXT = "The cute dog walks in the green park."


class ExploreScreen(Screen):
    BINDINGS = EXPLORE_BINDINGS  # keys.py: the keys, and which work where the focus is
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (150, "-wide")]  # app.tcss reflows the controls and the panes
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self) -> None:
        super().__init__()
        self.state = ExploreState()
        self.before_after = False
        self.text_edits = ExploreTextEdits(self)  # the text box -> tokens, debounced: text_edits.py
        self.masking = ExploreMasking(self)  # random masking, unmask all, the jump between masks: masking.py
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
        initial = opening_text(self.app, DEFAULT_TEXT)
        # the chips have the focus first, so r / W / n act at once (the text box when there is no text)
        self.AUTO_FOCUS = "#strip" if initial.strip() else "#text"
        text = TextBox(initial, id="text", soft_wrap=True, tab_behavior="focus")
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
        yield Footer(compact=True)

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
        self.drawing.model_changed(self.app.lm)  # the decode's word boundaries, the legend's example
        self.retokenize(keep_masks=True, force=True)

    # -- text (text_edits.py tokenizes it) ------------------------------------------------------
    @on(TextArea.Changed, "#text")
    def _text_changed(self) -> None:
        self.text_edits.changed()

    def flush_typing(self) -> None:
        self.text_edits.flush()

    def retokenize(self, *, keep_masks: bool, force: bool = False) -> None:
        self.text_edits.retokenize(keep_masks=keep_masks, force=force)

    # -- masking ------------------------------------------------------------------------------
    @on(TokenToggled)
    def _toggled(self, event: TokenToggled) -> None:
        self.toggle(event.index, whole_word=event.whole_word)

    def toggle(self, index: int, *, whole_word: bool = False) -> None:
        self.flush_typing()
        if self.state.toggle(index, whole_word=whole_word):
            self.predictions.ask()

    def action_clear(self) -> None:
        self.masking.clear()

    def action_random_mask(self) -> None:
        self.masking.random()

    def on_random_masked(self, message: RandomMasked) -> None:
        self.masking.ready(message)

    def action_jump_mask(self, step: int) -> None:
        self.masking.jump(step)

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
        else:  # a plain token: the panel's title says which mask it still shows
            self.drawing.distribution_title()

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
    def _random_pressed(self, message: RandomMaskPressed) -> None:
        self.masking.random(next_seed=message.next_seed)

    @on(ClearMasksPressed)
    def _clear_pressed(self) -> None:
        self.action_clear()

    @on(ClearTextPressed)
    def _clear_text_pressed(self) -> None:
        self.query_one("#text", TextBox).action_clear_text()

    def action_toggle_joint(self) -> None:
        self.query_one(Controls).toggle_joint()

    def action_top_k(self, step: int) -> None:
        self.query_one(Controls).step_top_k(step)

    def action_toggle_whole_word(self) -> None:
        whole_word = self.query_one(Controls).toggle_whole_word()
        self.notify(f"random masking picks {'whole words' if whole_word else 'subword tokens'}", timeout=3)

    def action_toggle_base(self) -> None:
        if self.app.base_lm is None:
            # a load of Explore's model (a run and its base) still under way: the base may be on its way in
            if any(w.group == Role.MLM.worker_group and not w.is_finished for w in self.app.workers):
                self.notify("still loading: press b again when the model and its base are in", timeout=3)
            else:
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

    def action_focus_rate(self) -> None:
        self.query_one("#rate").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A letter key types itself in the text box and the number fields: hidden there."""
        if action in TYPING_KEY_ACTIONS and isinstance(self.focused, (TextArea, Input)):
            return False
        return True

    @property
    def active_bindings(self) -> dict:
        """The footer's keys: F1-F4 first, so a narrow terminal still shows how to get around."""
        return footer_first(super().active_bindings)

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # the footer follows the focus (check_action)
        box = self.query_one("#tokens-box")
        focused = self.focused
        hint = (CHIP_HINT if focused is self.strip else TEXT_HINT if isinstance(focused, TextArea)
                else FIELD_HINT if isinstance(focused, Input) and focused.id in ("rate", "seed") else "")
        if box.border_subtitle != hint:
            box.border_subtitle = hint

