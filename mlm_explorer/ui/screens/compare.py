"""Compare: the blanks of the Explore text filled by the encoder (BERT family) and by a seq2seq
model: T5 (sentinel spans) or BART (it rewrites the text; core/infer/regenerate.py aligns it).

The blanks are Explore's masks (clicked, typed, or picked by random masking). The encoder
fills them with `core.fill.fill_masks` on exactly Explore's input; T5 gets the same text
with each run of adjacent masks as one `[MASK]` span, which `core.infill.infill` turns into
sentinels. The seq2seq model is the one named with --t5 (or chosen in the palette), else the
bundled span infiller (core/load/bundled_infiller.py: BERT2BERT, trained with T5's objective),
so both panes work offline; without either, its pane says how to get one.

Each pane is its own work ("compare-bert", "compare-t5"), so one failing (through the app's
one failure path, `WorkFailed`) leaves the other pane working.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from mlm_explorer.core.infer.infill import DIFFERENCE
from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import CompareFilled, WorkFailed
from mlm_explorer.ui.names import short_name
from mlm_explorer.ui.widgets.decode_line import decode_text


def blank_groups(tt: Any, positions: list[int]) -> list[list[int]]:
    """Masked positions grouped into blanks: adjacent tokens with only spaces between are one span."""
    groups: list[list[int]] = []
    for p in sorted(positions):
        if groups and p == groups[-1][-1] + 1:
            prev = tt.tokens[groups[-1][-1]]
            if not tt.text[prev.end : tt.tokens[p].start].strip():
                groups[-1].append(p)
                continue
        groups.append([p])
    return groups


def blanked_text(tt: Any, groups: list[list[int]]) -> str:
    """The text with one `[MASK]` per blank (what T5 is asked to fill)."""
    out, cursor = [], 0
    for group in groups:
        first, last = tt.tokens[group[0]], tt.tokens[group[-1]]
        out.append(tt.text[cursor : first.start])
        out.append("[MASK]")
        cursor = last.end
    out.append(tt.text[cursor:])
    return "".join(out)


@dataclass
class CompareView:
    """What the two panes show for one request (each side fills in as its answer comes)."""

    request: int
    t5_text: str  # the T5 input with one [MASK] per blank, for display
    bert: Any = None  # core.infer.fill.FillResult
    t5: Any = None  # core.infer.infill.InfillResult
    bert_error: str | None = None
    t5_error: str | None = None
    t5_asked: bool = False  # a T5 model was there to ask

    @property
    def done(self) -> bool:
        bert = self.bert is not None or self.bert_error is not None
        return bert and (not self.t5_asked or self.t5 is not None or self.t5_error is not None)


class CompareScreen(Screen):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Fill the blanks again (e.g. after switching models)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.request = 0
        self.last: CompareView | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-bar"):
            yield Label("", id="compare-status")
            yield Label("", id="busy")
        yield Static("", id="compare-input")
        yield Static(Text(DIFFERENCE, style="dim"), id="compare-caption")
        with Horizontal(id="compare-panes"):
            with VerticalScroll(id="bert-pane") as bert:
                bert.border_title = "Encoder (BERT family)"
                yield Static("", id="bert-fill")
            with VerticalScroll(id="t5-pane") as t5:
                t5.border_title = "seq2seq (T5 family)"
                yield Static("", id="t5-fill")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "t5_version", lambda _: self.action_refresh(), init=False)

    def on_screen_resume(self) -> None:
        self.app.load_t5()
        self.action_refresh()

    def action_refresh(self) -> None:
        explore = getattr(self.app, "explore", None)
        st = explore.state if explore is not None else None
        lm, t5 = self.app.lm, self.app.t5_lm
        self.query_one("#compare-status", Label).update(
            f"{self.app.model_status}   ·   seq2seq: {self.app.t5_status or 'not loaded'}")
        if st is None or st.tt is None or lm is None:
            self._message("the model is still loading" if lm is None else "type a text in Explore (F2) first")
            return
        positions = st.positions()
        if not positions:
            self._message("no blanks yet: mask some tokens in Explore (F2), then come back")
            return
        groups = blank_groups(st.tt, positions)
        t5_input = blanked_text(st.tt, groups)
        self.query_one("#compare-input", Static).update(Text.assemble(("blanks  ", "dim"), t5_input))
        req = st.predict_request(lm.tokenizer.mask_token_id, self.app.settings)
        self.request += 1
        request = self.request
        self.query_one("#busy", Label).update("filling…")
        self._tt, self._groups = st.tt, groups
        self.last = CompareView(request, t5_input, t5_asked=t5 is not None)

        def fill_bert() -> None:
            self.post_message(CompareFilled(request, "bert", workers.predict(lm, req)[0]))

        def fill_t5() -> None:
            self.post_message(CompareFilled(request, "t5", workers.infill(t5, t5_input)))

        self.app.run_work(self, "compare-bert", request, fill_bert)
        if t5 is not None:
            self.app.run_work(self, "compare-t5", request, fill_t5)

    def _message(self, text: str) -> None:
        self.query_one("#compare-input", Static).update(Text(text, style="italic dim"))
        self.query_one("#bert-fill", Static).update("")
        self.query_one("#t5-fill", Static).update("")

    def on_work_failed(self, message: WorkFailed) -> None:
        """One pane's work raised (the app has notified): its error in that pane."""
        last = self.last
        if last is None or message.request != last.request:
            return
        if message.kind == "compare-t5":
            last.t5_error = message.error
        else:
            last.bert_error = message.error
        self._draw(last)

    def on_compare_filled(self, message: CompareFilled) -> None:
        last = self.last
        if last is None or message.request != last.request:
            return
        setattr(last, message.side, message.result)
        self._draw(last)

    def _draw(self, view: CompareView) -> None:
        if view.done:
            self.query_one("#busy", Label).update("")
        self.query_one("#bert-pane").border_title = f"Encoder: {short_name(self.app.lm.name)}"
        self.query_one("#bert-fill", Static).update(self._bert_view(view))
        self.query_one("#t5-pane").border_title = seq2seq_title(self.app.t5_lm)
        self.query_one("#t5-fill", Static).update(self._t5_view(view))

    def _bert_view(self, m: CompareView) -> Any:
        if m.bert is None:
            return Text(m.bert_error, style="red") if m.bert_error else Text("filling…", style="italic dim")
        steps = {s.position: s for s in m.bert.steps}
        table = Table(box=None, expand=True, show_edge=False)
        table.add_column("blank", style="dim", width=6, no_wrap=True)
        table.add_column("fill", style="bold", ratio=1)
        table.add_column("p", justify="right")
        for i, group in enumerate(self._groups):
            text, prob = "", 1.0
            for p in group:
                step = steps.get(p)
                if step is None:
                    continue
                joiner = "" if self._tt.tokens[p].continues_word or not text else " "
                text += joiner + (step.text or step.token)
                prob *= step.probability
            table.add_row(str(i), Text(text), f"{prob:.1%}")
        return _stack(table, decode_text(self._tt, m.bert), m.bert.mode)

    def _t5_view(self, m: CompareView) -> Any:
        if self.app.t5_lm is None or not m.t5_asked:
            status = self.app.t5_status or "loading the T5 model…"
            return Text(status, style="yellow" if self.app.t5_missing else "italic dim")
        if m.t5 is None:
            return Text(m.t5_error, style="red") if m.t5_error else Text("filling…", style="italic dim")
        if not m.t5.candidates:
            return Text("T5 gave no candidate", style="italic dim")
        best = m.t5.candidates[0]
        table = Table(box=None, expand=True, show_edge=False)
        table.add_column("blank", style="dim", width=6, no_wrap=True)
        table.add_column("span", style="bold", ratio=1)
        table.add_column("log p", justify="right")
        table.add_column("p", justify="right")
        for fill in best.fills:
            table.add_row(str(fill.index), Text(fill.text), f"{fill.logprob:.2f}", f"{math.exp(fill.logprob):.1%}")
        note = f"greedy · score {best.score:.2f}"
        if best.rewritten:   # BART: the text around the blanks came back changed too
            note += " · the model also rewrote the text around the blanks"
        about = (getattr(self.app.t5_lm, "info", None) or {}).get("description")
        return _stack(table, Text(best.text), note + (f"\n{about}" if about else ""))


def seq2seq_title(lm: Any) -> str:
    """The seq2seq pane's title: "T5: NAME" (sentinel spans), "BART: NAME" (it rewrites the text),
    or "Span infiller: NAME" (the bundled one, which describes itself: it is no T5)."""
    if lm is None:
        return "seq2seq (T5 family)"
    spec = getattr(lm, "spec", None)
    if (lm.info or {}).get("description"):
        kind = "Span infiller"
    else:
        kind = "BART (rewrites the text)" if spec is not None and spec.infill == "mask" else "T5"
    return f"{kind}: {short_name(lm.name)}"


def _stack(table: Table, sentence: Text, note: str) -> Any:
    from rich.console import Group

    return Group(table, Text(""), Text("filled sentence", style="dim"), sentence, Text(note, style="dim"))
