"""A light list of pre-built one-line rows (Rich `Text`), with a cursor, for a panel of fixed size.

What the Explore lists need of DataTable / OptionList, without their cost on every prediction:
the rows arrive built (`set_rows`), each is one line, and a new set of rows repaints only the
lines that differ from what is on the screen (no layout: the widget's outer size is fixed by
CSS, `height: 1fr`; rows that do not fit scroll inside it, following the cursor or the wheel).

Keys: up/down/home/end/page up/page down move the cursor (posts `RowHighlighted`), enter posts
`RowSelected`; a click on a row moves the cursor there and selects it.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from mlm_explorer.ui.messages import RowHighlighted, RowSelected


class RowList(Widget, can_focus=True):
    COMPONENT_CLASSES = {"row-list--cursor", "row-list--header", "row-list--even"}

    DEFAULT_CSS = """
    RowList {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus { background-tint: $foreground 5%; }
        & > .row-list--cursor {
            color: $block-cursor-blurred-foreground;
            background: $block-cursor-blurred-background;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .row-list--cursor {
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: $block-cursor-text-style;
        }
        & > .row-list--header { text-style: bold; background: $panel; color: $foreground; }
        & > .row-list--even { background: $surface-lighten-1 50%; }
        &:dark > .row-list--even { background: $surface-darken-1 40%; }
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    zebra = False  # even rows (0, 2, ...) get `row-list--even`
    announce = True  # new rows post `RowHighlighted` for the first row's cursor
    cursor_over = False  # the cursor's colours win over the row's own (DataTable), else under (OptionList)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[Text] = []
        self.header: Text | None = None
        self.cursor = -1  # -1: no rows
        self.top = 0  # first row in view
        self._painted: list = []  # what each content line shows (keys of `_line`)
        self._styles: dict = {}  # component class (None: none) -> rich Style

    # -- data ----------------------------------------------------------------------------------
    def set_rows(self, rows: list[Text], *, header: Text | None = None, cursor: int = 0) -> None:
        """Show `rows` (one line each) under `header`; the cursor goes to row `cursor`."""
        self.rows, self.header = rows, header
        self.cursor = max(0, min(cursor, len(rows) - 1)) if rows else -1
        self.top = 0
        self._follow_cursor()
        self._repaint_changed()
        if rows and self.announce:
            self.post_message(RowHighlighted(self, self.cursor))

    # -- geometry ------------------------------------------------------------------------------
    @property
    def _header_lines(self) -> int:
        return 1 if self.header is not None else 0

    @property
    def _visible(self) -> int:
        return max(1, self.size.height - self._header_lines)

    def _follow_cursor(self) -> None:
        visible = self._visible
        if self.cursor >= 0:
            if self.cursor < self.top:
                self.top = self.cursor
            elif self.cursor >= self.top + visible:
                self.top = self.cursor - visible + 1
        self.top = max(0, min(self.top, len(self.rows) - visible))

    def _line(self, y: int) -> tuple:
        """(text, component class) of content line y; (None, None) for a blank line."""
        if self.header is not None:
            if y == 0:
                return self.header, "row-list--header"
            y -= 1
        index = self.top + y
        if not 0 <= index < len(self.rows):
            return None, None
        if index == self.cursor:
            return self.rows[index], "row-list--cursor"
        return self.rows[index], "row-list--even" if self.zebra and index % 2 == 0 else None

    def _repaint_changed(self) -> None:
        """Refresh only the content lines whose text or style changed since the last paint."""
        height = self.size.height
        lines = [self._line(y) for y in range(height)]
        old = self._painted
        self._painted = lines
        if not self.is_mounted or not height or len(old) != height:
            self.refresh()
            return
        width = self.size.width  # refresh regions are in content coordinates
        start = None
        for y in range(height + 1):
            same = y == height or (old[y][1] == lines[y][1] and old[y][0] == lines[y][0])
            if not same and start is None:
                start = y
            elif same and start is not None:
                self.refresh(Region(0, start, width, y - start))
                start = None

    def on_resize(self, _event: events.Resize) -> None:
        self._follow_cursor()
        self._painted = [self._line(y) for y in range(self.size.height)]
        self.refresh()

    # -- drawing -------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        self._styles = {}
        super().notify_style_update()

    def _style(self, component: str | None):
        """The line's style (the widget's own, plus the component's); computed once per style update."""
        style = self._styles.get(component)
        if style is None:
            style = self.rich_style
            if component is not None:
                style = style + self.get_component_rich_style(component)
            self._styles[component] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        text, component = self._line(y)
        style = self._style(component)
        if text is None:
            return Strip.blank(width, style)
        strip = Strip(text.render(self.app.console)).crop_extend(0, width, None)
        if component == "row-list--cursor" and self.cursor_over:
            return Strip(Segment.apply_style(iter(strip), self._style(None), style), width)
        return strip.apply_style(style)

    # -- keys and mouse ------------------------------------------------------------------------
    def move_cursor(self, index: int) -> None:
        """Put the cursor on row `index` (clamped) and post `RowHighlighted` if it moved."""
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        if index == self.cursor:
            return
        self.cursor = index
        self._follow_cursor()
        self._repaint_changed()
        self.post_message(RowHighlighted(self, index))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_cursor_to(self, index: int) -> None:
        self.move_cursor(index if index >= 0 else len(self.rows) - 1)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor + step * self._visible)

    def action_select(self) -> None:
        if self.cursor >= 0:
            self.post_message(RowSelected(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = self.top + offset.y - self._header_lines
        if offset.y >= self._header_lines and 0 <= index < len(self.rows):
            event.stop()
            self.move_cursor(index)
            self.post_message(RowSelected(self, index))

    def _scroll_by(self, step: int) -> None:
        top = max(0, min(self.top + step, len(self.rows) - self._visible))
        if top != self.top:
            self.top = top
            self._repaint_changed()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_by(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_by(-1)
