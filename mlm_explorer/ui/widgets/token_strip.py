"""The token chips: one chip per subword, the subwords of one word joined with `·`.

The strip only draws and reports clicks; which positions are masked, and what the masking
engine decided for each one, come from the screen (`show(...)`). Special tokens are dimmed
and carry no click target, so they can never be masked.

Keys (when the strip has focus): ←/→ move, space masks/unmasks the token under the cursor,
`w` the whole word. Mouse: click a chip to mask/unmask it, shift+click (or ctrl+click) for
the whole word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from mlm_explorer.ui.messages import CursorMoved, TokenToggled
from mlm_explorer.ui.widgets.heat import heat_style

from mlm_explorer.core.mask.decision import KEEP, MASK, NONE, RANDOM  # torch-free
from mlm_explorer.core.mask.preview import quoted  # torch-free


@dataclass(frozen=True)
class Palette:
    word: str
    word_alt: str
    text: str
    special: str
    mask: str
    mask_selected: str
    random: str
    keep: str
    on_label: str


DARK = Palette("#2b3340", "#3a4456", "#e6e6e6", "#6b7280", "#b3261e", "#ff5449", "#b8860b", "#2e7d32", "#ffffff")
LIGHT = Palette("#dde3ec", "#c7d0de", "#1a1a1a", "#9aa0a6", "#d93025", "#ff6f61", "#f2b705", "#43a047", "#ffffff")


@dataclass
class StripView:
    """Everything the strip draws; built by the Explore screen from core objects."""

    tokens: Sequence[Any] = ()  # core.text.Token
    masked: frozenset[int] = frozenset()  # positions that are [MASK] in the model input
    decisions: dict[int, int] = field(default_factory=dict)  # random masking: position -> Decision
    replaced: dict[int, str] = field(default_factory=dict)  # RANDOM positions -> the drawn token
    selected: int | None = None  # the mask whose distribution is shown
    note: str = ""  # shown instead of chips (no model yet, empty text, ...)
    heat: dict[int, float] = field(default_factory=dict)  # lens overlay: position -> intensity -1..1
    heat_colors: tuple[str, str] = ("#ff8c1a", "#ff8c1a")  # (hot, cold) colours of the overlay (widgets.heat)


class TokenStrip(Widget, can_focus=True):
    """Clickable token chips."""

    BINDINGS = [
        Binding("left", "move(-1)", "Prev", show=False),
        Binding("right", "move(1)", "Next", show=False),
        Binding("home", "move_to(0)", "First", show=False),
        Binding("end", "move_to(-1)", "Last", show=False),
        Binding("space", "toggle", "Mask", tooltip="Mask or unmask the token under the cursor"),
        Binding("w", "toggle_word", "Mask word", tooltip="Mask or unmask every subword of this word"),
    ]

    DEFAULT_CSS = """
    TokenStrip { height: auto; min-height: 1; padding: 0 1; }
    """

    cursor: reactive[int] = reactive(0)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.view = StripView(note="loading the model…")
        self._lines = -1
        self._rendered: tuple | None = None  # (view, cursor, palette, Text): a new view is a new object

    # -- data -----------------------------------------------------------------------------
    def show(self, view: StripView) -> None:
        self.view = view
        clickable = self._clickable()
        if clickable and self.cursor not in clickable:
            self.cursor = min(clickable, key=lambda i: abs(i - self.cursor))
        # a new layout only when the chips need another number of lines (a toggle usually does not)
        lines = self._line_count()
        self.refresh(layout=lines != self._lines)
        self._lines = lines

    def _line_count(self) -> int:
        width = self.content_region.width
        if width <= 0:
            return -1
        return len(self.render().wrap(self.app.console, width))

    def _clickable(self) -> list[int]:
        return [t.index for t in self.view.tokens if getattr(t, "maskable", not t.special)]

    # -- keys -----------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        clickable = self._clickable()
        if not clickable:
            return
        if self.cursor not in clickable:
            self.cursor = clickable[0]
        else:
            i = clickable.index(self.cursor)
            self.cursor = clickable[max(0, min(len(clickable) - 1, i + step))]

    def action_move_to(self, where: int) -> None:
        clickable = self._clickable()
        if clickable:
            self.cursor = clickable[where]

    def action_toggle(self) -> None:
        if self.cursor in self._clickable():
            self.post_message(TokenToggled(self.cursor, whole_word=False))

    def action_toggle_word(self) -> None:
        if self.cursor in self._clickable():
            self.post_message(TokenToggled(self.cursor, whole_word=True))

    def watch_cursor(self, cursor: int) -> None:
        self.post_message(CursorMoved(cursor))
        self.refresh()

    # -- mouse ----------------------------------------------------------------------------
    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("token") if event.style else None
        if index is None:
            return
        event.stop()
        self.focus()
        self.cursor = index
        self.post_message(TokenToggled(index, whole_word=event.shift or event.ctrl))

    # -- drawing --------------------------------------------------------------------------
    def palette(self) -> Palette:
        try:
            return DARK if self.app.current_theme.dark else LIGHT
        except Exception:  # no app yet (unit use)
            return DARK

    def render(self) -> Text:
        # asked twice per change (the line count in `show`, then the frame): built once
        view, cursor, pal = self.view, self.cursor, self.palette()
        cached = self._rendered
        if cached is None or cached[0] is not view or cached[1] != cursor or cached[2] is not pal:
            cached = self._rendered = (view, cursor, pal, self._render_text())
        return cached[3]

    def _render_text(self) -> Text:
        view, pal = self.view, self.palette()
        if not view.tokens:
            return Text(view.note or "type some text above", style="italic dim")
        out = Text(no_wrap=False, overflow="fold")
        word_shade = 0
        previous_word: int | None = None
        for token in view.tokens:
            continues = bool(getattr(token, "continues_word", False)) and previous_word is not None
            if token.special:
                if out:
                    out.append(" ")
                style = Style(color=pal.special, italic=True)
                if token.index in view.heat:  # e.g. attention to [CLS] / [SEP]
                    style += heat_style(view.heat[token.index], view.heat_colors, pal.word)
                out.append(token.text, style=style)
                previous_word = None
                continue
            if not continues:
                if out:
                    out.append(" ")
                word_shade ^= 1
            chip_text, style = self._chip(token, pal, word_shade)
            if continues:
                out.append("·", style=style + Style(dim=True))
            out.append(chip_text, style=style + Style(meta={"token": token.index}))
            previous_word = token.word
        return out

    def _chip(self, token: Any, pal: Palette, shade: int) -> tuple[str, Style]:
        view = self.view
        index = token.index
        decision = view.decisions.get(index, NONE)
        text = token.text
        focused_cursor = index == self.cursor
        if decision == RANDOM:
            label = f"{text}→{quoted(view.replaced.get(index, '?'))}"
            style = Style(bgcolor=pal.random, color="#000000", bold=True)
        elif decision == KEEP:
            label = f"{text}✓"
            style = Style(bgcolor=pal.keep, color=pal.on_label, bold=True)
        elif decision == MASK:
            label = f"{text}→[MASK]"
            bg = pal.mask_selected if index == view.selected else pal.mask
            style = Style(bgcolor=bg, color=pal.on_label, bold=True)
        elif index in view.masked or getattr(token, "typed_mask", False):
            label = "[MASK]" if getattr(token, "typed_mask", False) else f"[{text}]"
            bg = pal.mask_selected if index == view.selected else pal.mask
            style = Style(bgcolor=bg, color=pal.on_label, bold=True)
        else:
            label = text
            style = Style(bgcolor=pal.word if shade else pal.word_alt, color=pal.text)
        if index in view.heat:  # the lens's intensity replaces the chip's background
            style += heat_style(view.heat[index], view.heat_colors, pal.word)
        if focused_cursor:
            style += Style(underline=True, bold=True)
        return label, style
