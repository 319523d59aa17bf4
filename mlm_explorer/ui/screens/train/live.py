"""The Train screen's right-hand panel: the job as it runs.

The status line, the progress bar with the ETA beside it, the stats line, the data account
(widgets/train_preview.py), the probe table, the forgetting meter, the loss plot and the log.
Every ETA on it is the job's own number (`eta_s` of its last `step` event), written by
`report_text.duration`, so the bar and the stats line never disagree; `reset()` clears what a
previous run left before a new one starts.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, RichLog, Static

from mlm_explorer.train.run.report_text import duration
from mlm_explorer.ui.widgets.forgetting_meter import ForgettingMeter
from mlm_explorer.ui.widgets.probe_table import ProbeTable
from mlm_explorer.ui.widgets.train_preview import TrainPreview

X_TICKS = 5  # at most this many labels under the loss plot


def number(value, digits: int = 3, sci: bool = False) -> str:
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}e}" if sci else f"{value:.{digits}f}"


def percent(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "–"


def eta(seconds) -> str:
    """The job's `eta_s` as the panel shows it, wherever it is shown."""
    return duration(seconds) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else "–"


def whole_ticks(lo: int, hi: int, most: int = X_TICKS) -> list[int]:
    """Up to `most` whole numbers from lo to hi (both included), evenly spread: the plot's steps."""
    if hi <= lo:
        return [lo]
    stride = max(1, math.ceil((hi - lo) / (most - 1)))
    ticks = list(range(lo, hi + 1, stride))
    if ticks[-1] != hi:  # the last step always has its label
        if len(ticks) < most:
            ticks.append(hi)
        else:
            ticks[-1] = hi
    return ticks


class JobView(Vertical):
    """What the job is doing; the screen feeds it the job's events."""

    def compose(self) -> ComposeResult:
        yield Label("no job yet: choose files and press Start (ctrl+g)", id="train-status")
        with Horizontal(id="train-progress-row", classes="hidden"):
            yield ProgressBar(id="train-progress", show_eta=False)
            yield Label("", id="train-eta")
        yield Static("", id="train-stats")
        yield TrainPreview(id="train-data", classes="hidden")
        yield ProbeTable(id="probe-table", classes="hidden")
        yield ForgettingMeter(id="forgetting-meter", classes="hidden")
        yield self._plot()
        yield RichLog(id="train-log", wrap=True, markup=False, max_lines=500)

    def _plot(self):
        try:
            from textual_plotext import PlotextPlot

            plot = PlotextPlot(id="loss-plot")
        except ImportError:  # fall back to a sparkline
            from textual.widgets import Sparkline

            plot = Sparkline([], id="loss-plot")
        plot.border_title = "loss"
        return plot

    def reset(self) -> None:
        """Forget the previous run: its step, loss, ETA, plot, probes and log."""
        self.query_one("#train-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#train-eta", Label).update("")
        self.query_one("#train-stats", Static).update("")
        self.query_one("#probe-table").add_class("hidden")
        self.query_one("#forgetting-meter").add_class("hidden")
        self.query_one("#train-log", RichLog).clear()
        self.draw_plot([])

    def show_status(self, text: str, *, bar: bool) -> None:
        self.query_one("#train-progress-row").set_class(not bar, "hidden")
        self.query_one("#train-status", Label).update(Text(text, style="bold"))
        self.border_title = f"Job: {text}"

    def show_step(self, event: dict) -> None:
        """A `step` event: the bar (the run's step of max_steps) and the ETA beside it."""
        total = event.get("max_steps")
        if total:
            self.query_one("#train-progress", ProgressBar).update(total=total, progress=event.get("step", 0))
        self.query_one("#train-eta", Label).update(f"ETA {eta(event.get('eta_s'))}")

    def finish_bar(self) -> None:
        bar = self.query_one("#train-progress", ProgressBar)
        if bar.total:
            bar.update(progress=bar.total)
        self.query_one("#train-eta", Label).update("done")

    def draw_stats(self, step: dict, evals: list[dict]) -> None:
        parts = [f"step {step.get('step', 0)}" + (f"/{step['max_steps']}" if step.get("max_steps") else ""),
                 f"loss {number(step.get('loss'))}", f"{number(step.get('tokens_per_s'), 0)} tokens/s",
                 f"ETA {eta(step.get('eta_s'))}", f"lr {number(step.get('lr'), 2, sci=True)}"]
        if evals:
            last = evals[-1]
            parts.append(f"eval ppl {number(last.get('perplexity'))} acc {percent(last.get('accuracy'))}")
        self.query_one("#train-stats", Static).update(" · ".join(parts))

    def draw_plot(self, losses: list[tuple[int, float]]) -> None:
        """The loss by step; the x axis labels whole steps only."""
        plot = self.query_one("#loss-plot")
        steps = [s for s, _ in losses]
        values = [v for _, v in losses]
        if hasattr(plot, "plt"):
            plt = plot.plt
            plt.clear_data()
            ticks = whole_ticks(min(steps), max(steps)) if steps else []
            if steps:
                plt.plot(steps, values, marker="braille")
            plt.xticks(ticks, [str(t) for t in ticks])
            plt.xlabel("step")
            plot.refresh()
        else:
            plot.data = values

    def log(self, line: str) -> None:
        self.query_one("#train-log", RichLog).write(line)
