"""The Train screen's data panel: what a run will learn from, before and while it runs.

`show_preview(event)` draws the job's `preview` event (`train --dry-run`, the Preview
button): the files used with their tokens, the files skipped with their reasons, the
duplicates dropped, what is held out for evaluation, the estimated time on this device,
and the first blocks of step 1 with the masking applied (the colours of Explore's chips).
`show_report(data)` draws the same account from a `started` event (no samples, no estimate).
The words come from train/run/report_text.py, as the CLI's do.
"""

from __future__ import annotations

from rich.console import Group
from rich.style import Style
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mlm_explorer.train.run.report_text import (duplicate_lines, estimate_line, headline, holdout_line,
                                                 sample_segments, skipped_lines, used_lines)
from mlm_explorer.ui.widgets.token_strip import DARK, LIGHT

FILES_SHOWN = 12  # per list; the CLI's --dry-run lists them all


class TrainPreview(VerticalScroll):
    """A scrollable account of the data; hidden until there is something to show."""

    DEFAULT_CSS = """
    TrainPreview { height: auto; max-height: 60%; border: round $panel; border-title-color: $text-muted; }
    TrainPreview > Static { width: 100%; }
    """

    plain = ""  # what the panel shows, as plain text (tests, the export)

    def _draw(self, parts: list[Text]) -> None:
        self.plain = "\n".join(p.plain for p in parts)
        self.query_one("#train-preview-body", Static).update(Group(*parts))
        self.remove_class("hidden")

    def compose(self):
        yield Static("", id="train-preview-body")

    def on_mount(self) -> None:
        self.border_title = "Data"

    def _styles(self) -> dict[str, Style]:
        try:
            pal = DARK if self.app.current_theme.dark else LIGHT
        except Exception:  # no app (unit use)
            pal = DARK
        return {"mask": Style(bgcolor=pal.mask, color=pal.on_label, bold=True),
                "random": Style(bgcolor=pal.random, color="#000000", bold=True),
                "keep": Style(bgcolor=pal.keep, color=pal.on_label, bold=True),
                "special": Style(color=pal.special, italic=True), "target": Style(bold=True, underline=True),
                "none": Style()}

    def show_pending(self, what: str) -> None:
        self.border_title = "Data"
        self._draw([Text(what, style="italic dim")])

    def show_report(self, data: dict) -> None:
        self.border_title = "Data"
        self._draw(self._report(data))

    def show_preview(self, event: dict) -> None:
        data = event.get("data", {})
        parts = self._report(data)
        parts.append(Text(holdout_line(data)))
        parts.append(Text(estimate_line(event.get("estimate", {})), style="bold"))
        styles = self._styles()
        samples = event.get("samples", [])
        if samples:
            parts.append(Text(f"step 1's first {len(samples)} block(s), masked as the model will see them:",
                              style="bold"))
        for sample in samples:
            line = Text()
            for text, kind in sample_segments(sample):
                line.append(text, style=styles.get(kind, Style()))
            parts.append(line)
        self.border_title = "Preview (nothing trained yet)"
        self._draw(parts)

    def _report(self, data: dict) -> list[Text]:
        parts = [Text(headline(data), style="bold")]
        parts += [Text(line) for line in used_lines(data, FILES_SHOWN)]
        skipped = skipped_lines(data, FILES_SHOWN)
        if skipped:
            parts.append(Text("skipped:", style="bold yellow"))
            parts += [Text(line, style="yellow" if line.startswith(" ") else "bold yellow") for line in skipped]
        parts += [Text(line, style="dim") for line in duplicate_lines(data)]
        return parts
