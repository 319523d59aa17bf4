"""Compare: the blanks of the Explore text filled by two to four models, one column each.

The blanks are Explore's masks (clicked, typed, or picked by random masking): each masked
token becomes `[MASK]` in the text every model reads, so a run of adjacent masks is one span
for T5 and BART and as many pieces for an encoder (core/infer/compare.py). The columns:
Explore's model, the T5 (the configured one or the first cached; its column says how to get
one when there is none), and up to two more that the user adds by name (a hub name, a
directory, a run, `bundled`: encoders, T5-family or BART), kept in the settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from mlm_explorer.core.infer.infill import DIFFERENCE
from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import ColumnFilled, WorkFailed
from mlm_explorer.ui.names import short_name
from mlm_explorer.ui.screens.footer import footer_first

MAX_COLUMNS = 4
EXTRA_COLUMNS = MAX_COLUMNS - 2   # beside Explore's model and the T5


def masked_text(tt: Any, positions: list[int]) -> str:
    """The text with each masked token's characters replaced by `[MASK]` (what every model reads)."""
    out, cursor = [], 0
    for p in sorted(positions):
        token = tt.tokens[p]
        out.append(tt.text[cursor:token.start])
        out.append("[MASK]")
        cursor = token.end
    out.append(tt.text[cursor:])
    return "".join(out)


@dataclass
class CompareView:
    """One request's columns as they come in (each column is its own work on the model thread)."""

    request: int
    text: str                                   # what every model read: one [MASK] per masked token
    asked: list[int] = field(default_factory=list)   # the columns that had a model to ask
    filled: dict[int, Any] = field(default_factory=dict)   # column -> core.infer.compare.ModelColumn
    errors: dict[int, str] = field(default_factory=dict)   # column -> why its work raised

    @property
    def done(self) -> bool:
        return all(i in self.filled or i in self.errors for i in self.asked)

    @property
    def columns(self) -> list:
        return [self.filled[i] for i in sorted(self.filled)]

    def to_dict(self) -> dict:
        """The export's `compare`: the text and the filled columns (core ModelColumn dicts)."""
        return {"text": self.text, "columns": [asdict(c) for c in self.columns]}


class CompareScreen(Screen):
    BINDINGS = [
        Binding("r", "refresh", "Refresh", tooltip="Fill the blanks again (e.g. after switching models)"),
        Binding("a", "add", "Add model", tooltip="Add a column: an encoder, a T5 or a BART model (2-4 columns)"),
        Binding("d", "drop", "Drop column", tooltip="Remove the last added column"),
    ]

    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # app.tcss: the caption gives up rows at 24

    def __init__(self) -> None:
        super().__init__()
        self.request = 0
        self.result: CompareView | None = None   # the latest request's columns (the export reads it)
        self.slots: list[tuple[str, Any, str]] = []   # (title, lm or None, status) per column, left to right

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-bar"):
            yield Label("", id="compare-status")
            yield Label("", id="busy")
        yield Static("", id="compare-input")
        with Horizontal(id="compare-add-row"):
            yield Label("add a model")
            yield Input(placeholder="hub name, directory, run or bundled; enter (a), d drops the last",
                        id="compare-add")
        yield Static(Text(DIFFERENCE, style="dim"), id="compare-caption")
        with Horizontal(id="compare-panes"):
            for i in range(MAX_COLUMNS):
                with VerticalScroll(id=f"col-{i}", classes="compare-col hidden"):
                    yield Static("", id=f"col-body-{i}")
        yield Footer(compact=True)

    @property
    def active_bindings(self) -> dict:
        return footer_first(super().active_bindings)  # F1-F4 first: they fit 80 columns

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """r / a / d type letters in the "add a model" box: not in the footer there."""
        return not (action in ("refresh", "add", "drop") and isinstance(self.focused, Input))

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()

    def on_mount(self) -> None:
        self.app.compare_screen = self   # the export reads the columns from here
        self.watch(self.app, "t5_version", lambda _: self.action_refresh(), init=False)
        self.watch(self.app, "compare_version", lambda _: self.action_refresh(), init=False)

    def on_screen_resume(self) -> None:
        self.query_one("#col-0").focus()   # the columns, not the "add a model" box (a gets there)
        self.app.load_t5()
        for name in self.app.settings.compare_models:
            self.app.load_compare_model(name)
        self.action_refresh()

    # -- columns --------------------------------------------------------------------------------
    def columns(self) -> list[tuple[str, Any, str]]:
        """(title, model or None, status) of each column: Explore's, the T5, the added ones."""
        app = self.app
        out = [(_title(app.lm, "Encoder"), app.lm, app.model_status)]
        out.append((_title(app.t5_lm, "T5"), app.t5_lm, app.t5_status or "loading the T5 model…"))
        for name in app.settings.compare_models[:EXTRA_COLUMNS]:
            lm = app.compare_lms.get(name)
            out.append((_title(lm, short_name(name)), lm, app.compare_status.get(name, f"loading {name}…")))
        return out

    @on(Input.Submitted, "#compare-add")
    def _added(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        event.input.value = ""
        if not name:
            return
        models = self.app.settings.compare_models
        if name in models:
            self.notify(f"{name} is a column already", timeout=3)
            return
        if len(models) >= EXTRA_COLUMNS:
            self.notify(f"at most {MAX_COLUMNS} columns: drop one first (d)", severity="warning")
            return
        models.append(name)
        self.app.save_settings()
        self.app.load_compare_model(name)
        self.action_refresh()

    def action_add(self) -> None:
        self.query_one("#compare-add", Input).focus()

    def action_drop(self) -> None:
        models = self.app.settings.compare_models
        if not models:
            self.notify("no added column to drop", timeout=3)
            return
        models.pop()
        self.app.save_settings()
        self.action_refresh()

    # -- filling --------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        explore = getattr(self.app, "explore", None)
        st = explore.state if explore is not None else None
        self.slots = self.columns()
        self.query_one("#compare-status", Label).update(
            f"{len(self.slots)} columns · {self.app.model_status}   ·   T5: {self.app.t5_status or 'not loaded'}")
        for i in range(MAX_COLUMNS):
            self.query_one(f"#col-{i}").set_class(i >= len(self.slots), "hidden")
        if st is None or st.tt is None or self.app.lm is None:
            self._message("the model is still loading" if self.app.lm is None else "type a text in Explore (F2) first")
            return
        positions = st.positions()
        if not positions:
            self._message("no blanks yet: mask some tokens in Explore (F2), then come back")
            return
        text = masked_text(st.tt, positions)
        self.query_one("#compare-input", Static).update(Text.assemble(("blanks  ", "dim"), text))
        ready = [(i, lm) for i, (_, lm, _) in enumerate(self.slots) if lm is not None]
        self.request += 1
        request, settings = self.request, self.app.settings
        self.query_one("#busy", Label).update("filling…")
        self.result = CompareView(request, text, asked=[i for i, _ in ready])
        self._draw(self.result)
        for i, lm in ready:   # one work per column: a slow or failing model does not hold the others

            def fill(i=i, lm=lm) -> None:
                column = workers.compare_column(lm, text, top_k=settings.top_k, joint=settings.joint)
                self.post_message(ColumnFilled(request, i, column))

            self.app.run_work(self, f"compare-{i}", request, fill)

    def _message(self, text: str) -> None:
        self.query_one("#compare-input", Static).update(Text(text, style="italic dim"))
        for i in range(MAX_COLUMNS):
            self.query_one(f"#col-body-{i}", Static).update("")

    def on_work_failed(self, message: WorkFailed) -> None:
        """A column's work raised (the app has notified): its error in that column."""
        view = self.result
        if view is None or message.request != view.request or not message.kind.startswith("compare-"):
            return
        view.errors[int(message.kind.removeprefix("compare-"))] = message.error
        self._draw(view)

    def on_column_filled(self, message: ColumnFilled) -> None:
        view = self.result
        if view is None or message.request != view.request:
            return
        view.filled[message.index] = message.column
        self._draw(view)

    def _draw(self, view: CompareView) -> None:
        if view.done:
            self.query_one("#busy", Label).update("")
        filled = view.filled
        # what a self-describing model is (the bundled span infiller: no T5), under the one-line difference
        about = [f"{short_name(lm.name)}: {lm.info['description']}" for _, lm, _ in self.slots
                 if lm is not None and (getattr(lm, "info", None) or {}).get("description")]
        self.query_one("#compare-caption", Static).update(Text("\n".join([DIFFERENCE, *about]), style="dim"))
        for i, (title, lm, status) in enumerate(self.slots):
            pane = self.query_one(f"#col-{i}")
            pane.border_title = title
            body = self.query_one(f"#col-body-{i}", Static)
            if lm is None:
                missing = i == 1 and self.app.t5_missing
                body.update(Text(status, style="yellow" if missing or "not" in status else "italic dim"))
            elif i in view.errors:
                body.update(Text(view.errors[i], style="red"))
            elif i in filled:
                body.update(_column_view(filled[i]))
            else:
                body.update(Text("filling…", style="italic dim"))


FAMILY_TITLES = {"encoder": "Encoder", "t5": "T5", "bart": "BART (rewrites the text)"}


def _title(lm: Any, missing: str) -> str:
    """A column's title: the model's family and name ("BART (rewrites the text): bart-base"), or `missing`."""
    if lm is None:
        return missing
    from mlm_explorer.core.infer.compare import family_of

    if (getattr(lm, "info", None) or {}).get("description"):   # the bundled span infiller: BERT2BERT, no T5
        return f"Span infiller: {short_name(lm.name)}"
    return f"{FAMILY_TITLES[family_of(lm)]}: {short_name(lm.name)}"


def _column_view(column: Any) -> Any:
    if column.error:
        return Text(column.error, style="red")
    table = Table(box=None, expand=True, show_edge=False)
    table.add_column("blank", style="dim", width=6, no_wrap=True)
    table.add_column("fill", style="bold", ratio=1)
    table.add_column("p", justify="right")
    for b in column.blanks:
        table.add_row(str(b.index), Text(b.text), "–" if b.probability is None else f"{b.probability:.1%}")
    return Group(table, Text(""), Text("filled sentence", style="dim"), Text(column.text),
                 Text(column.note, style="dim"))
