"""The distribution panel: top-k candidates of one mask as horizontal bars.

Shows a `core.fill.MaskPrediction` as it is: probability bars, entropy, the mass outside
the top-k, and the original token's rank and probability when it is known. Choosing a
row (click, enter, or the digit keys on the Explore screen) posts `CandidateChosen`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual import on
from textual.widgets import Static

from mlm_explorer.ui.messages import CandidateChosen, RowSelected
from mlm_explorer.ui.widgets.row_list import RowList

BAR_WIDTH = 24
EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of `fraction` (0..1) of `width` cells, in eighths of a cell."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


def shown(item) -> str:
    """How a Candidate / FillStep reads: its `text`, else the cleaned vocabulary piece."""
    return getattr(item, "text", None) or clean_token(item.token)


def clean_token(token: str) -> str:
    """Display form of a vocabulary entry: no WordPiece `##`, no SentencePiece/BPE space mark."""
    if token.startswith("##") and len(token) > 2:
        return token[2:]
    return token.lstrip("Ġ▁") or token


class Candidates(RowList):
    """The candidate rows (one line each); a new distribution repaints only the lines that changed.

    `RowHighlighted.index` / `RowSelected.index` are the candidate's rank (0-based)."""


class Distribution(Vertical):
    """Top-k bars for the selected mask."""

    DEFAULT_CSS = """
    Distribution { height: 1fr; }
    Distribution > .dist-header { height: 3; padding: 0 1; }
    Distribution > Candidates { height: 1fr; padding: 0 1; }
    """

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.prediction: Any = None
        self.original_text: str | None = None
        self.compact = False  # narrow bars (before/after: two panels side by side)

    def compose(self) -> ComposeResult:
        yield Static(Text("mask a token to see its distribution", style="italic dim"), classes="dist-header")
        yield Candidates(classes="dist-options")

    # -- data -----------------------------------------------------------------------------
    def show(self, prediction: Any, *, label: str = "", original_text: str | None = None) -> None:
        """Draw one core.fill.MaskPrediction; `label` names the position (e.g. `mask 2/3 · "dog"`)."""
        self.prediction = prediction
        self.original_text = original_text
        header = self.query_one(".dist-header", Static)
        options = self.query_one(Candidates)
        if prediction is None:
            header.update(Text(label or "mask a token to see its distribution", style="italic dim"), layout=False)
            options.set_rows([])
            return
        header.update(self._header(prediction, label, original_text), layout=False)  # fixed height (CSS)
        top = prediction.candidates[0].probability if prediction.candidates else 1.0
        rows = []
        width = max([len(shown(c)) for c in prediction.candidates] + [6])
        for i, cand in enumerate(prediction.candidates):
            is_original = prediction.original_id is not None and cand.token_id == prediction.original_id
            row = Text(no_wrap=True, end="")
            row.append(f"{i + 1} " if i < 9 else "  ", style="dim")
            row.append(shown(cand).ljust(width), style="bold" if is_original else "")
            row.append(f" {cand.probability:6.1%} ")
            bar_width = 10 if self.compact else BAR_WIDTH
            row.append(bar(cand.probability / top if top > 0 else 0.0, bar_width).rstrip(),
                       style="green" if is_original else "dodger_blue2")
            if is_original:
                row.append("  ← original", style="green")
            rows.append(row)
        options.set_rows(rows)

    def _header(self, p: Any, label: str, original_text: str | None) -> Text:
        t = Text()
        if self.title:
            t.append(self.title + "  ", style="bold")
        t.append(label or f"position {p.position}", style="bold")
        t.append("\n")
        t.append(f"entropy {p.entropy:.2f} nats · outside top-{len(p.candidates)} {p.mass_outside:.1%}")
        if p.original_id is not None:
            t.append("\noriginal ")
            t.append(repr(original_text) if original_text else f"id {p.original_id}", style="bold")
            if p.original_rank is not None:
                t.append(f": rank {p.original_rank}")
            if p.original_probability is not None:
                t.append(f", p = {p.original_probability:.2%}")
        return t

    def choose(self, rank: int) -> bool:
        """Choose the candidate at `rank` (0-based); False if there is none."""
        if self.prediction is None or not (0 <= rank < len(self.prediction.candidates)):
            return False
        self.post_message(CandidateChosen(self, self.prediction.position, self.prediction.candidates[rank]))
        return True

    @on(RowSelected)
    def _selected(self, event: RowSelected) -> None:
        event.stop()
        self.choose(event.index)
