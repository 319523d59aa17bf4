"""What `mlm-explorer train` prints about the data: the report at `started`, the whole
preview for `--dry-run` (the words come from train/run/report_text.py; here only colour)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from mlm_explorer.cli.render import DECISION_STYLE, console
from mlm_explorer.cli.render_runs import TrainProgress
from mlm_explorer.core.mask.decision import KEEP, MASK, RANDOM
from mlm_explorer.train.run.report_text import (duplicate_lines, estimate_line, headline, holdout_line,
                                                 sample_segments, skipped_lines, used_lines)

FILES_SHOWN = 20  # files listed at `started`; --dry-run lists them all
SEGMENT_STYLE = {"mask": DECISION_STYLE[MASK], "random": DECISION_STYLE[RANDOM], "keep": DECISION_STYLE[KEEP],
                 "none": "", "special": "dim", "target": "bold green"}


def print_data(console: Console, data: dict, *, full: bool = False) -> None:
    """The files used (with tokens), skipped (with reasons) and the duplicates dropped."""
    console.print(Text(headline(data), style="bold"))
    limit = None if full else FILES_SHOWN
    for line in used_lines(data, limit):
        console.print(Text(line), highlight=False)
    skipped = skipped_lines(data, None if full else 10)
    if skipped:
        console.print(Text("skipped:", style="bold yellow"))
        for line in skipped:
            console.print(Text(line, style="yellow" if line.startswith(" ") else "bold yellow"), highlight=False)
    for line in duplicate_lines(data):
        console.print(Text(line, style="dim"), highlight=False)
    if data.get("hidden"):
        console.print(Text(f"{data['hidden']:,} hidden file(s) or folder(s) (.git, .venv, ...) not looked at",
                           style="dim"))


def sample_line(sample: dict) -> Text:
    line = Text()
    for text, kind in sample_segments(sample):
        line.append(text, style=SEGMENT_STYLE.get(kind, ""))
    if "is_next" in sample:
        line.append("   (B follows A)" if sample["is_next"] else "   (B is a random sentence)", style="dim")
    return line


def print_preview(console: Console, event: dict) -> None:
    """`train --dry-run`: files, tokens per file, the hold-out, the estimate, sample blocks."""
    data = event.get("data", {})
    print_data(console, data, full=True)
    console.print(Text(holdout_line(data)))
    console.print(Text(f"{data.get('train_blocks', 0):,} training block(s) of {data.get('block_size', '?')} tokens; "
                       f"{event.get('math', '')}", style="dim"))
    console.print(Text(estimate_line(event.get("estimate", {})), style="bold"))
    samples = event.get("samples", [])
    if samples:
        console.print(Text(f"the first {len(samples)} block(s) of step 1, as the model will see them:", style="bold"))
        for sample in samples:
            console.print(sample_line(sample))
            if sample.get("counts"):
                c = sample["counts"]
                legend = Text("  ")
                legend.append(f"{c['mask']} → [MASK]", style=DECISION_STYLE[MASK])
                legend.append("  ")
                legend.append(f"{c['random']} → random token", style=DECISION_STYLE[RANDOM])
                legend.append("  ")
                legend.append(f"{c['keep']} kept", style=DECISION_STYLE[KEEP])
                console.print(legend)
    console.print(Text("dry run: nothing was trained or written; run the same command without --dry-run to start",
                       style="dim"))


class TrainView(TrainProgress):
    """The progress bar (cli/render.py), with the data report before it and `--dry-run`'s preview."""

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "started":
            print_data(console, event.get("data", {}))
        elif kind == "preview":
            print_preview(console, event)
            return
        elif kind == "log" and event.get("topic") == "data":
            return  # the same facts, in full, come with `started` / `preview`
        super().__call__(event)
