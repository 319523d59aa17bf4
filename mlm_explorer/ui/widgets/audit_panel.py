"""The masking audit on the Train screen, before a job starts: what its masking does to these files.

The button runs `python -m mlm_explorer.train.audit` with the form's options (the app's
`start_audit`): the job's own data preparation and masking over the chosen files, beside
`DataCollatorForLanguageModeling` or the T5 recipe (train/audit.py). The panel shows the
report of its `audit` event: rates overall and per token class, special and padding tokens
touched (must be 0), whole-word numbers or, for span corruption, density, span length,
sentinels per row and truncation; then where the reference differs and why.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Static

from mlm_explorer.ui.messages import AuditAsked, AuditEvent

SHORT = {"DataCollatorForLanguageModeling": "HF collator"}
CLASSES = (("word_start", "word starts"), ("continuation", "continuations"), ("digit", "digits"),
           ("punctuation", "punctuation"))


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


class AuditPanel(Vertical):
    DEFAULT_CSS = """
    AuditPanel { height: auto; }
    AuditPanel Button { margin: 0 0 1 0; }
    AuditPanel #audit-body { height: auto; }
    """

    def on_audit_event(self, message: AuditEvent) -> None:
        """One event of the audit process (the app's start_audit posts them here)."""
        e = message.event
        name = e.get("event")
        if name == "audit":
            self.show(e)
        elif name == "error":
            self.show(note=f"error: {e.get('message', 'the audit failed')}")
        elif name == "log":
            self.show(note=str(e.get("message", "")))
        elif name == "exited":
            self.busy(False)

    def compose(self) -> ComposeResult:
        yield Button("Audit masking", id="audit-start", tooltip="Run the job's masking over these files, "
                     "beside Hugging Face's collator (or the T5 recipe); nothing is trained")
        yield Static("", id="audit-body")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "audit-start":
            event.stop()
            self.post_message(AuditAsked())

    def busy(self, running: bool) -> None:
        self.query_one("#audit-start", Button).disabled = running

    def show(self, audit: dict | None = None, *, note: str = "") -> None:
        body = self.query_one("#audit-body", Static)
        if audit is None:
            body.update(Text(note, style="italic dim" if not note.startswith("error") else "red"))
            return
        ours, ref = audit["ours"], audit["reference"]
        head = Text(f"{audit['objective']} · {audit['blocks']} of {audit['total_blocks']} training blocks",
                    style="bold")
        parts = [head, self._span(ours, ref) if audit["objective"] == "span" else self._mlm(ours, ref)]
        if audit.get("differences"):
            parts.append(Text("where they differ:", style="bold yellow"))
            parts += [Text(f"· {line}", style="yellow") for line in audit["differences"]]
        else:
            parts.append(Text("no difference beyond sampling noise", style="green"))
        body.update(Group(*parts))
        self.call_after_refresh(lambda: self.scroll_visible(animate=False))   # the form scrolls to the report

    @staticmethod
    def _mlm(ours: dict, ref: dict) -> Group:
        policy = ours["policy"]
        table = Table(box=None, show_edge=False, pad_edge=False, expand=True)
        table.add_column("", no_wrap=True)
        table.add_column("engine", justify="right")
        table.add_column(SHORT.get(ref["engine"], ref["engine"]), justify="right")
        o, r = ours["overall"], ref["overall"]
        table.add_row(f"selected (asked {policy['rate']:.0%})", _pct(o["rate"]), _pct(r["rate"]))
        for key, label in (("mask_share", "→ [MASK]"), ("random_share", "→ random"), ("keep_share", "→ kept")):
            table.add_row(label, _pct(o[key]), _pct(r[key]))
        for key, label in CLASSES:
            table.add_row(f"selected: {label}", _pct(ours["classes"][key]["rate"]), _pct(ref["classes"][key]["rate"]))
        for key, label in (("special_touched", "special tokens selected"), ("padding_touched", "padding selected"),
                           ("random_drew_special", "random draws of specials")):
            table.add_row(label, Text(str(ours[key]), style="green" if ours[key] == 0 else "bold red"), str(ref[key]))
        for key, label in (("partly_selected", "words partly selected"), ("mixed_decisions", "words, mixed decisions")):
            table.add_row(label, str(ours["words"][key]), str(ref["words"][key]))
        return Group(table)

    @staticmethod
    def _span(ours: dict, ref: dict) -> Group:
        table = Table(box=None, show_edge=False, pad_edge=False, expand=True)
        table.add_column("", no_wrap=True)
        table.add_column("engine", justify="right")
        table.add_column(ref["engine"], justify="right")
        num = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
        table.add_row(f"noise density (asked {ours['expected_density']})", num(ours["noise_density"], ".4f"),
                      num(ref["noise_density"], ".4f"))
        table.add_row(f"mean span (asked {ours['expected_mean_span']})", num(ours["mean_span_length"], ".2f"),
                      num(ref["mean_span_length"], ".2f"))
        table.add_row("sentinels per row", num(ours["sentinels_per_row"]["mean"], ".2f"),
                      num(ref["sentinels_per_row"]["mean"], ".2f"))
        table.add_row("tokens dropped", str(ours["truncated_tokens"]), str(ref["truncated_tokens"]))
        return Group(table)
