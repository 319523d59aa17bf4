"""`predict --k-best K`: the K best joint fills of every mask, by the masks' PLL (core/infer/kbest.py)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mlm_explorer.cli.render import console


def add_kbest_arguments(p, positive_int) -> None:
    """predict's --k-best, --top-n, --beam (positive_int: the CLI's argument type)."""
    p.add_argument("--k-best", type=positive_int, default=None, metavar="K",
                   help="also the K best joint fills of all masks, scored by the masks' pseudo-log-likelihood")
    p.add_argument("--top-n", type=positive_int, default=None, metavar="N",
                   help="--k-best exact search: candidates per mask (default by the number of masks: 1-3)")
    p.add_argument("--beam", type=positive_int, default=None, metavar="B",
                   help="--k-best beam width above 3 masks (8)")


def kbest_for(lm, args):
    """The KBestResult of `predict --k-best`, or None when not asked."""
    if getattr(args, "k_best", None) is None:
        if getattr(args, "top_n", None) is not None or getattr(args, "beam", None) is not None:
            from mlm_explorer.errors import InputError

            raise InputError("--top-n and --beam shape the search of --k-best: add --k-best K")
        return None
    from mlm_explorer.core.infer.kbest import kbest_text

    return kbest_text(lm, args.text, k=args.k_best, top_n=args.top_n, beam=args.beam,
                      temperature=args.temperature, truncate=args.truncate)


def render_kbest(result) -> None:
    """The k best fills (one column per blank word), the search, and the most-confident-first fill."""
    table = Table(title=f"{len(result.fills)} best joint fills, by the masks' PLL", title_justify="left",
                  show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    for i in range(len(result.words)):
        table.add_column(f"blank {i + 1}")
    table.add_column("PLL", justify="right")
    table.add_column("log p per mask", justify="right", style="dim")

    def row(fill, label: str, style: str = "") -> None:
        table.add_row(label, *[Text(w, style=style) for w in fill.words], f"{fill.pll:.3f}",
                      " ".join(f"{v:.2f}" for v in fill.logprobs))

    for fill in result.fills:
        row(fill, str(fill.rank), "bold" if fill.token_ids == result.greedy.token_ids else "")
    console.print(table)
    console.print(Text(f"search: {result.description}", style="dim"))
    greedy = result.greedy
    where = (f"rank {greedy.rank}" if greedy.rank is not None else "outside the search")
    line = Text("most confident first (--joint): ", style="bold")
    line.append(" · ".join(greedy.words))
    line.append(f"  PLL {greedy.pll:.3f}, {where}", style="dim")
    console.print(line)
    if result.agrees:
        console.print(Text("the two agree: the most-confident-first fill is the best by PLL", style="green"))
    else:
        best = result.fills[0]
        console.print(Text(f"they disagree: the best by PLL is {' · '.join(best.words)} "
                           f"({best.pll - greedy.pll:+.3f} nats)", style="yellow"))
    if result.note:
        console.print(Text(result.note, style="dim"))
