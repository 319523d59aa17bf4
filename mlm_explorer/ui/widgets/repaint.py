"""Repaint only the rows of a list widget whose content is replaced at once.

DataTable and OptionList repaint the whole widget when their rows are replaced (clear, then
add): every line of the widget is rendered again for the next frame, the blank ones below
the rows included, and on a prediction that is most of the frame's cost. `RowsRepaint` turns
the full repaints requested inside `rows_replaced()` into one repaint of the lines that can
have changed: the first max(before, after) lines of the view. Anything else (a scroll, a
layout, a repaint outside the block, a list taller than its view) repaints as before.

Such a widget has a fixed outer size (CSS: 1fr), so another number of rows changes only
what scrolls inside it; `Widget.virtual_size` would ask for a layout of the whole screen on
every change, `RowsRepaint.virtual_size` updates the scroll state in place (a layout still
follows when a scrollbar appears or goes: `show_*_scrollbar` are layout reactives).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from textual.geometry import Region, Size
from textual.reactive import Reactive


class RowsRepaint:
    """Mixin for a scrollable list widget (DataTable, OptionList) of fixed outer size."""

    _deferred: bool | None = None  # None: not in rows_replaced(); True: a full repaint was asked

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)
        self.refresh()

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False):
        if self._deferred is not None and repaint and not (regions or layout or recompose):
            self._deferred = True
            return self
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    @contextmanager
    def rows_replaced(self, lines: Callable[[], int], unchanged_top: Callable[[], int] = lambda: 0) -> Iterator[None]:
        """Replace the rows inside this block. `lines()`: how many lines the rows take (a header
        included); `unchanged_top()` (asked after the block): how many of the first lines are
        known to be as they were (e.g. a table header whose columns kept their widths)."""
        if self._deferred is not None:  # nested: the outer block repaints
            yield
            return
        before, scroll = lines(), self.scroll_offset
        self._deferred = False
        try:
            yield
        finally:
            asked, self._deferred = self._deferred, None
            if asked:
                width, height = self.content_size
                rows = max(before, lines())
                top = min(unchanged_top(), rows)
                if scroll or self.scroll_offset or not width or rows >= height:
                    self.refresh()
                elif rows > top:
                    self.refresh(Region(0, top, width, rows - top))
