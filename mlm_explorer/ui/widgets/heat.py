"""Heat colours of the lens overlay: a per-token intensity -> the background of its chip.

An intensity is a number in -1..1 (surprisal and attention use 0..1; saliency is signed).
0 is the plain chip colour, 1 the lens's `hot` colour, -1 its `cold` colour, with a linear
blend in between; the label is black or white, whichever reads better on that background.
No widget here: the token strip and the lens bar (its colour scale) both draw with these.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

# (hot, cold) per lens: cold is the colour of negative values (saliency against the target)
COLORS = {
    "surprisal": ("#ff8c1a", "#ff8c1a"),
    "attention": ("#2f81f7", "#2f81f7"),
    "saliency": ("#2ea043", "#c2185b"),
}
SWATCHES = 8  # cells of the colour scale in the lens bar


def _rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def blend(base: str, hot: str, t: float) -> str:
    """The colour `t` (0..1) of the way from `base` to `hot`, as #rrggbb."""
    t = max(0.0, min(1.0, t))
    a, b = _rgb(base), _rgb(hot)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def label_color(background: str) -> str:
    """Black on light backgrounds, white on dark ones (relative luminance)."""
    r, g, b = (c / 255 for c in _rgb(background))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "#ffffff"


def heat_style(intensity: float, colors: tuple[str, str], base: str) -> Style:
    """Background (and a readable label colour) for one chip of intensity -1..1."""
    hot, cold = colors
    bg = blend(base, hot if intensity >= 0 else cold, abs(intensity))
    return Style(bgcolor=bg, color=label_color(bg))


def scale(colors: tuple[str, str], base: str, *, signed: bool = False) -> Text:
    """The colour scale as a row of swatches (cold..0..hot when signed, else 0..hot)."""
    out = Text()
    steps = [i / (SWATCHES - 1) for i in range(SWATCHES)]
    values = [-v for v in reversed(steps[1:])] + steps if signed else steps
    for v in values:
        out.append(" ", style=heat_style(v, colors, base))
    return out
