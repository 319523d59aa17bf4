"""The lens colours, as data: hot/cold per lens, the blend from the chip colour, readable labels.

One owner for the app (ui/widgets/heat.py draws Rich styles from these) and the exports
(report/html.py, report/svg.py). An intensity is -1..1: 0 the plain chip colour, 1 the lens's
hot colour, -1 its cold colour (saliency against the target), a linear blend in between.
"""

from __future__ import annotations

# (hot, cold) per lens: cold is the colour of negative values (saliency against the target)
COLORS = {
    "surprisal": ("#ff8c1a", "#ff8c1a"),
    "attention": ("#2f81f7", "#2f81f7"),
    "saliency": ("#2ea043", "#c2185b"),
}
CHIP = "#e8e8e8"     # a chip without colour, on the exports' light page
MASKED = "#f5d90a"   # a masked chip's edge


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


def heat(intensity: float | None, kind: str, base: str = CHIP) -> tuple[str, str]:
    """(background, label colour) of a chip of `intensity` under lens `kind`."""
    if intensity is None:
        return base, label_color(base)
    hot, cold = COLORS.get(kind, COLORS["surprisal"])
    bg = blend(base, hot if intensity >= 0 else cold, abs(intensity))
    return bg, label_color(bg)


def intensities(values: dict[int, float], *, skip: int | None = None) -> tuple[dict[int, float], float]:
    """Intensities value / max |value| (the `skip` position left out) and that max: the lens scale."""
    top = max((abs(v) for i, v in values.items() if i != skip), default=0.0)
    if top <= 0:
        return {i: 0.0 for i in values if i != skip}, 0.0
    return {i: v / top for i, v in values.items() if i != skip}, top
