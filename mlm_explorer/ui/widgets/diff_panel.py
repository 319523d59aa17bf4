"""The before/after change at one mask: base and fine-tuned probability per candidate, and Δ.

Draws a `core.diff.MaskDiff` as it is (the numbers `mlm-explorer diff` prints): the union of
both models' top-k, largest change first, each as `p_base → p_tuned` and the change in
percentage points, green when the fine-tune made the candidate more likely, red when less;
plus both top-1s and KL(tuned || base). Shown under the mask table in Explore's before/after
mode (key `b`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from mlm_explorer.ui.widgets.distribution import shown


def delta_text(delta: float) -> Text:
    """A change of probability in percentage points, coloured by its sign ("+14.1", "−3.2")."""
    points = delta * 100
    if abs(points) < 0.05:
        return Text(f"{0.0:+6.1f}", style="dim")
    sign = "+" if points > 0 else "−"
    return Text(f"{sign}{abs(points):.1f}".rjust(6), style="green" if points > 0 else "red")


class DiffPanel(Static):
    """Δ tuned − base at the selected mask (percentage points)."""

    DEFAULT_CSS = """
    DiffPanel { height: 1fr; padding: 0 1; border-top: hkey $accent 40%; overflow-y: auto; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.mask_diff: Any = None

    def show(self, mask_diff: Any, *, label: str = "", note: str = "", error: str | None = None) -> None:
        """Draw one core.diff.MaskDiff (None: a hint, or `error`)."""
        self.mask_diff = mask_diff
        self.update(self.render_diff(mask_diff, label=label, note=note, error=error), layout=False)

    @staticmethod
    def render_diff(d: Any, *, label: str = "", note: str = "", error: str | None = None) -> Text:
        t = Text()
        t.append("Δ tuned − base", style="bold")
        if label:
            t.append(f" · {label}", style="bold")
        if d is None:
            t.append("\n" + (error or "before/after: the change per candidate shows here"),
                     style="yellow" if error else "italic dim")
            return t
        t.append(f" · top-1 {shown(d.base_top1)!r} → {shown(d.tuned_top1)!r} · KL {d.kl:.3f}")
        if note:
            t.append(f" · {note}", style="dim")
        width = max([len(shown(c)) for c in d.candidates] + [9])
        t.append(f"\n{'candidate'.ljust(width)} {'base':>7}   {'tuned':>6}  {'Δ pts':>6}", style="dim")
        for c in d.candidates:
            t.append(f"\n{shown(c).ljust(width)} {c.p_base:7.1%} → {c.p_tuned:6.1%}  ")
            t.append_text(delta_text(c.delta))
        t.append(f"\n{'(rest)'.ljust(width)} {d.mass_outside_base:7.1%} → {d.mass_outside_tuned:6.1%}", style="dim")
        return t
