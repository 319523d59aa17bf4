"""One row per predicted position: what was there, what the engine did, the model's first choice.

Selecting a row (enter or a click) shows that position's distribution (posts `MaskPicked`).
A light `RowList` of pre-built lines: a new prediction repaints only the lines that changed.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on

from mlm_explorer.core.mask.decision import KEEP, MASK, RANDOM
from mlm_explorer.core.mask.preview import quoted
from mlm_explorer.ui.messages import MaskPicked, RowHighlighted, RowSelected
from mlm_explorer.ui.widgets.distribution import shown
from mlm_explorer.ui.widgets.row_list import RowList

DECISIONS = {MASK: ("[MASK]", "red"), RANDOM: ("random", "yellow"), KEEP: ("kept", "green")}
COLUMNS = ("pos", "original", "input", "top-1", "p", "orig. rank", "orig. p")


class MaskTable(RowList):
    DEFAULT_CSS = """
    MaskTable { height: 1fr; }
    """

    zebra = True
    announce = False  # nothing listens to the first row's highlight
    cursor_over = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.positions: list[int] = []  # the position of each row
        self._shown: list[tuple[int, list[Text]]] = []  # the cells on show (rebuilt on a resize)

    def on_mount(self) -> None:
        self.set_rows([], header=self._row_text([Text(c) for c in COLUMNS], [len(c) for c in COLUMNS]))

    def show(self, state: Any) -> None:
        """Fill from an ExploreState (rows in position order); the cursor goes to the first row."""
        self._show(self._cells(state))

    def _show(self, cells: list[tuple[int, list[Text]]]) -> None:
        self._shown = cells
        widths = [max([len(c)] + [row[i].cell_len for _, row in cells]) for i, c in enumerate(COLUMNS)]
        # one cell of padding each side; one space between columns when that does not fit
        pad = 1 if sum(widths) + 2 * len(widths) <= self.size.width else 0
        self.positions = [p for p, _ in cells]
        self.set_rows([self._row_text(row, widths, pad) for _, row in cells],
                      header=self._row_text([Text(c) for c in COLUMNS], widths, pad))

    def on_resize(self, _event: Any) -> None:  # RowList.on_resize runs too (Textual calls both)
        self._show(self._shown)

    @staticmethod
    def _row_text(cells: list[Text], widths: list[int], pad: int = 1) -> Text:
        line = Text(no_wrap=True, end="")
        for cell, width in zip(cells, widths):
            line.append(" ")
            line.append(cell)
            line.append(" " * (width - cell.cell_len + pad))
        return line

    @staticmethod
    def _cells(state: Any) -> list[tuple[int, list[Text]]]:
        tt, result = state.tt, state.result
        if tt is None or result is None:
            return []
        originals = state.original_ids()
        rows = []
        for pred in result.predictions:
            p = pred.position
            token = tt.tokens[p]
            if state.random is not None and state.random.decisions[p]:
                label, colour = DECISIONS[state.random.decisions[p]]
                if state.random.decisions[p] == RANDOM:
                    label = f"→{quoted(state.random.replaced.get(p, '?'))}"
                given = Text(label, style=colour)
            else:
                given = Text("[MASK]", style="red")
            original = Text(token.text if p in originals else "?", style="" if p in originals else "dim")
            top = pred.candidates[0] if pred.candidates else None
            rows.append((p, [
                Text(str(p)), original, given, Text(shown(top)) if top else Text(),
                Text(f"{top.probability:.1%}" if top else ""),
                Text(str(pred.original_rank) if pred.original_rank is not None else "–"),
                Text(f"{pred.original_probability:.2%}" if pred.original_probability is not None else "–"),
            ]))
        return rows

    @on(RowSelected)
    def _selected(self, event: RowSelected) -> None:
        if event.row_list is not self:
            return
        event.stop()
        if 0 <= event.index < len(self.positions):
            self.post_message(MaskPicked(self.positions[event.index]))

    @on(RowHighlighted)
    def _highlighted(self, event: RowHighlighted) -> None:
        if event.row_list is self:  # nothing listens to this list's highlight
            event.stop()
