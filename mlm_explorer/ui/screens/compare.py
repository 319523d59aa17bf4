"""Compare: the blanks of the Explore text filled by the encoder (BERT family) and by T5.

The blanks are Explore's masks (clicked, typed, or picked by random masking). The encoder
fills them with `core.fill.fill_masks` on exactly Explore's input; T5 gets the same text
with each run of adjacent masks as one `[MASK]` span, which `core.infill.infill` turns into
sentinels. The seq2seq model is the one named with --t5 (or chosen in the palette), else the
bundled span infiller (core/load/bundled_infiller.py: BERT2BERT, trained with T5's objective),
so both panes work offline; without either, its pane says how to get one.
"""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from mlm_explorer.core.infer.infill import DIFFERENCE
from mlm_explorer.ui import workers as jobs
from mlm_explorer.ui.names import short_name
from mlm_explorer.ui.messages import CompareReady
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


class CompareScreen(Screen):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Fill the blanks again (e.g. after switching models)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.request = 0
        self.last: CompareReady | None = None

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
        req = jobs.PredictRequest(
            input_ids=st.input_ids(lm.tokenizer.mask_token_id), positions=positions,
            original_ids=st.original_ids(), top_k=self.app.settings.top_k,
            joint=self.app.settings.joint, temperature=self.app.settings.temperature,
        )
        self.request += 1
        request = self.request
        self.query_one("#busy", Label).update("filling…")
        tt = st.tt

        def body() -> None:
            bert = bert_error = t5_result = t5_error = None
            try:
                bert, _, _ = jobs.predict(lm, req)
            except Exception as exc:  # shown in its pane; the other pane still works
                bert_error = str(exc)
            if t5 is not None:
                try:
                    t5_result = jobs.infill(t5, t5_input)
                except Exception as exc:
                    t5_error = str(exc)
            self.post_message(CompareReady(request, bert, t5_result, bert_error, t5_error, t5_input))

        self.app.run_job(self, "compare", request, body)
        self._tt, self._groups = tt, groups

    def _message(self, text: str) -> None:
        self.query_one("#compare-input", Static).update(Text(text, style="italic dim"))
        self.query_one("#bert-fill", Static).update("")
        self.query_one("#t5-fill", Static).update("")

    def job_failed(self, kind: str, request: int, error: str) -> None:
        if request == self.request:
            self.query_one("#busy", Label).update("")
            self.query_one("#bert-fill", Static).update(Text(error, style="red"))

    def on_compare_ready(self, message: CompareReady) -> None:
        if message.request != self.request:
            return
        self.last = message
        self.query_one("#busy", Label).update("")
        self.query_one("#bert-pane").border_title = f"Encoder: {short_name(self.app.lm.name)}"
        self.query_one("#bert-fill", Static).update(self._bert_view(message))
        self.query_one("#t5-pane").border_title = _seq2seq_title(self.app.t5_lm)
        self.query_one("#t5-fill", Static).update(self._t5_view(message))

    def _bert_view(self, m: CompareReady) -> Any:
        if m.bert is None:
            return Text(m.bert_error or "no result", style="red")
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

    def _t5_view(self, m: CompareReady) -> Any:
        if self.app.t5_lm is None:
            status = self.app.t5_status or "loading the T5 model…"
            return Text(status, style="yellow" if self.app.t5_missing else "italic dim")
        if m.t5 is None:
            return Text(m.t5_error or "no result", style="red")
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
        about = (getattr(self.app.t5_lm, "info", None) or {}).get("description")
        return _stack(table, Text(best.text), note + (f"\n{about}" if about else ""))


def _seq2seq_title(lm: Any) -> str:
    """The right pane's title: what kind of seq2seq model fills it (the bundled one is no T5)."""
    if lm is None:
        return "seq2seq (T5 family)"
    kind = "Span infiller" if (lm.info or {}).get("description") else "T5"
    return f"{kind}: {short_name(lm.name)}"


def _stack(table: Table, sentence: Text, note: str) -> Any:
    from rich.console import Group

    return Group(table, Text(""), Text("filled sentence", style="dim"), sentence, Text(note, style="dim"))
