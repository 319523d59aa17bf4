"""The lens bar under the token chips: what the chip colours mean while a lens is on.

Two lines: the caption (which lens, for which token, the sentence numbers), then the colour
scale with the values at its ends and the keys of that lens. Its height is fixed, so a new
caption repaints this widget only (no layout of the screen). Hidden while the lens is off
(the random-masking legend is shown instead, in the same two rows).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mlm_explorer.ui.screens.explore.lens import LensView
from mlm_explorer.ui.widgets.heat import COLORS, scale
from mlm_explorer.ui.widgets.token_strip import DARK, LIGHT

KEYS = {
    "surprisal": "v: the other PLL variant · s off · a attention · g saliency",
    "attention": "←/→ token · [ ] layer · { } head · a off",
    "saliency": "green for, red against · i: {other} · target: highlight a candidate · g off",
}


def _number(value: float) -> str:
    return f"{value:.3g}" if value else "0"


class LensBar(Static):
    DEFAULT_CSS = """
    LensBar { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _shown: tuple = ()
    _last: tuple = (LensView(), "ig")

    def on_mount(self) -> None:
        # the colour scale follows the theme
        self.watch(self.app, "theme", lambda _: self.show(self._last[0], method=self._last[1]), init=False)

    def show(self, view: LensView, *, method: str = "ig") -> None:
        self._last = (view, method)
        shown = (view.kind, view.caption, view.note, view.low, view.high, method, self.app.current_theme.dark)
        if shown == self._shown:
            return  # the chips change as the cursor moves; the bar often does not
        self._shown = shown
        if view.kind == "off":
            self.update("", layout=False)
            return
        pal = DARK if self.app.current_theme.dark else LIGHT
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{view.kind}: ", style="bold")
        if view.note:
            t.append(view.note, style="italic")
        else:
            t.append(view.caption)
        t.append("\n")
        if not view.note:
            colors = COLORS[view.kind]
            t.append(f"{_number(view.low)} " if view.signed else "0 ", style="dim")
            t.append_text(scale(colors, pal.word, signed=view.signed))
            t.append(f" {_number(view.high)} {view.unit}  ", style="dim")
        other = "grad×input" if method == "ig" else "IG"
        t.append(KEYS[view.kind].replace("{other}", other), style="dim")
        self.update(t, layout=False)  # fixed height (CSS): a repaint is enough
