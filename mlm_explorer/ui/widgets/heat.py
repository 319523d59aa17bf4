"""Heat colours of the lens overlay: a per-token intensity -> the background of its chip.

An intensity is a number in -1..1 (surprisal and attention use 0..1; saliency is signed).
0 is the plain chip colour, 1 the lens's `hot` colour, -1 its `cold` colour, with a linear
blend in between; the label is black or white, whichever reads better on that background.
No widget here: the token strip and the lens bar (its colour scale) both draw with these.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from mlm_explorer.report.colors import COLORS, blend, label_color  # noqa: F401  (one owner: report/colors.py)

SWATCHES = 8  # cells of the colour scale in the lens bar


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
