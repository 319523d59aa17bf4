"""The forgetting meter on the Train screen: does the fine-tune still know everyday English?

The job scores a shipped set of general-knowledge cloze probes (core/explain/forgetting.py)
before training and at every evaluation and sends a `forgetting` event each time. This table
shows the first reading (the model before training), the latest, and the change, beside the
held-out loss at the same steps: top-5 falling while the loss on your text improves is the
sign of forgetting.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _num(value, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


class ForgettingMeter(Static):
    DEFAULT_CSS = """
    ForgettingMeter { height: auto; border: round $panel; border-title-color: $text-muted; padding: 0 1;
                      margin-bottom: 1; }
    """

    def on_mount(self) -> None:
        self.border_title = "Forgetting meter: general-knowledge probes"

    def show(self, history: list[dict], evals: list[dict]) -> None:
        if not history:
            self.update(Text("the job's forgetting meter reads at step 0 and every evaluation", style="dim"))
            return
        loss_at = {e.get("step"): e.get("loss") for e in evals}
        table = Table(box=None, expand=True, show_edge=False, pad_edge=False)
        for col in ("step", "top-1", "top-5", "mean rank", "held-out loss"):
            table.add_column(col, justify="right" if col != "step" else "left")
        first, last = history[0], history[-1]
        rows = [first] if first is last else [first, last]
        for h in rows:
            table.add_row(f"{h['step']}", _pct(h.get("top1")), _pct(h.get("top5")), _num(h.get("mean_rank")),
                          _num(loss_at.get(h["step"]), ".3f"))
        if first is not last:
            d5 = (last.get("top5") or 0) - (first.get("top5") or 0)
            dr = (last.get("mean_rank") or 0) - (first.get("mean_rank") or 0)
            worse = d5 < 0 or dr > 0
            style = "yellow" if worse else "green"
            table.add_row(Text("change", style="bold"), Text(f"{(last.get('top1') or 0) - (first.get('top1') or 0):+.0%}",
                                                             style=style),
                          Text(f"{d5:+.0%}", style=style), Text(f"{dr:+.1f}", style=style), "")
        table.caption = f"{last.get('n', '?')} probes · {len(history)} readings"
        self.update(table)
