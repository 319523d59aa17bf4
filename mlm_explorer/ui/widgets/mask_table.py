"""One row per predicted position: what was there, what the engine did, the model's first choice.

Selecting a row shows that position's distribution (posts `MaskTable.Picked`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from mlm_explorer.ui.widgets.distribution import shown
from mlm_explorer.ui.widgets.repaint import RowsRepaint

DECISIONS = {1: ("[MASK]", "red"), 2: ("random", "yellow"), 3: ("kept", "green")}


class MaskTable(RowsRepaint, DataTable):
    DEFAULT_CSS = """
    MaskTable { height: 1fr; }
    """

    class Picked(Message):
        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("pos", "original", "input", "top-1", "p", "orig. rank", "orig. p")

    def show(self, state: Any) -> None:
        """Fill from an ExploreState (rows in position order); repaints only the rows' lines."""
        widths = self._widths()
        header = lambda: self.header_height if self.show_header and self._widths() == widths else 0  # noqa: E731
        with self.rows_replaced(lambda: self.virtual_size.height, unchanged_top=header):
            self._fill(state)

    def _widths(self) -> list[int]:
        return [column.get_render_width(self) for column in self.ordered_columns]

    def _fill(self, state: Any) -> None:
        self.clear()
        tt, result = state.tt, state.result
        if tt is None or result is None:
            return
        originals = state.original_ids()
        for pred in result.predictions:
            p = pred.position
            token = tt.tokens[p]
            if state.random is not None and state.random.decisions[p]:
                label, colour = DECISIONS[state.random.decisions[p]]
                if state.random.decisions[p] == 2:
                    label = f"→{state.random.replaced.get(p, '?')}"
                given = Text(label, style=colour)
            else:
                given = Text("[MASK]", style="red")
            original = Text(token.text if p in originals else "?", style="" if p in originals else "dim")
            top = pred.candidates[0] if pred.candidates else None
            self.add_row(
                str(p), original, given, Text(shown(top)) if top else "",
                f"{top.probability:.1%}" if top else "",
                str(pred.original_rank) if pred.original_rank is not None else "–",
                f"{pred.original_probability:.2%}" if pred.original_probability is not None else "–",
                key=str(p),
            )
        self._measure_now()

    def _clear_caches(self) -> None:
        """DataTable.clear() also drops every rendered line of the widget; inside rows_replaced
        the lines below the rows are still valid (blank, same width and background) and the
        rows' own lines are repainted when the block ends, so those stay."""
        if self._deferred is None or not hasattr(self, "_styles_cache"):
            super()._clear_caches()
            return
        from textual._styles_cache import StylesCache

        kept, self._styles_cache = self._styles_cache, StylesCache()
        try:
            super()._clear_caches()
        finally:
            self._styles_cache = kept

    def _measure_now(self) -> None:
        """Size the table now, in the same frame as the rows (what DataTable does on idle).

        Left to DataTable's idle handler, the new virtual size (a layout refresh) arrives
        after the frame showing the prediction and costs a second full layout + frame, which
        lands on the next request's forward. Same computation, only earlier; the idle
        handler then finds nothing left to do.
        """
        if getattr(self, "_require_update_dimensions", False) and hasattr(self, "_update_dimensions"):
            self._require_update_dimensions = False
            new_rows = self._new_rows.copy()
            self._new_rows.clear()
            self._update_dimensions(new_rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Picked(int(event.row_key.value)))
