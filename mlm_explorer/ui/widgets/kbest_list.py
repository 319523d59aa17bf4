"""The k best joint fills (`J` on Explore), under the distribution (core/infer/kbest.py).

One row per fill: its rank, the fill of each blank word (masks typed or clicked together are
one word), and its PLL (the sum over masks of log p(token | the other masks filled)); then how
the search ran (exact over each mask's top-N, or beam) and today's most-confident-first joint
fill beside it: its PLL, its rank among the fills searched, and whether the two agree.
The widget only draws; the screen asks the model (ui/screens/explore/kbest.py).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

ROWS = 5   # fills listed (the export has them all)


class KBestList(Static):
    DEFAULT_CSS = """
    KBestList { height: auto; max-height: 11; padding: 0 1; border-top: round $accent 50%;
                border-title-color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.border_title = "k best joint fills (J)"

    def show(self, result: Any = None, *, note: str = "") -> None:
        if result is None:
            self.update(Text(note or "", style="italic dim"))
            return
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        table.add_column("#", style="dim", width=2, justify="right")
        for i in range(len(result.words)):
            table.add_column(f"blank {i + 1}", ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column("PLL", justify="right", width=8)
        for fill in result.fills[:ROWS]:
            mark = "bold" if fill.token_ids == result.greedy.token_ids else ""
            table.add_row(str(fill.rank), *[Text(w, style=mark) for w in fill.words], f"{fill.pll:.2f}")
        greedy = result.greedy
        where = f"rank {greedy.rank}" if greedy.rank is not None else "outside the search"
        verdict = Text("agree" if result.agrees else "disagree", style="green" if result.agrees else "yellow")
        line = Text.assemble(("most confident first: ", "dim"), " · ".join(greedy.words),
                             (f"  PLL {greedy.pll:.2f}, {where} · ", "dim"), verdict)
        how = Text(result.description, style="dim", no_wrap=True, overflow="ellipsis")
        self.update(Group(table, line, how))
