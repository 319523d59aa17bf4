"""What the CLI prints about training runs: `runs` (the list) and `train` (the job's progress bar
and lines, fed by its JSON events). Identifiers (run names, models, paths) are never cut."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from mlm_explorer.cli.render import console
from mlm_explorer.train.run.report_text import resumed_line


def runs(entries) -> None:
    """One row a run, or one paragraph a run when the names do not fit the width: identifiers
    (the run's name, its model) are never cut. The folder the runs live in is said once, below
    (each run's path: --json)."""
    longest = max((len(r.name) for r in entries), default=3)
    folders = sorted({str(Path(r.path).parent) for r in entries})
    if _table_width(entries) > console.width:  # too narrow for a table: one run a paragraph
        for r in entries:
            console.print(Text(r.name, style="bold"), soft_wrap=True)
            best = "" if r.best_eval_loss is None else f" · best loss {r.best_eval_loss:.4f}"
            console.print(Text(f"  {r.status} · {r.model or '?'} · {r.objective or '?'} · step {r.step}{best}"),
                          soft_wrap=True)
    else:
        _runs_table(entries, longest)
    if folders:
        console.print(Text("in " + ", ".join(folders) + " (each run's path: --json)", style="dim"), soft_wrap=True)


def _table_width(entries) -> int:
    """The runs table's width with no cell cut: the widest cell (or header) of each column, plus
    3 cells between columns and 1 at each side."""
    cells = [(r.name, r.status, str(r.model or ""), str(r.objective or ""), str(r.step or ""), "0.0000")
             for r in entries]
    widths = [max(len(c) for c in column) for column in zip(RUNS_COLUMNS, *cells)]
    return sum(widths) + 3 * (len(widths) - 1) + 2


RUNS_COLUMNS = ("run", "status", "model", "objective", "step", "best loss")


def _runs_table(entries, longest: int) -> None:
    table = Table(show_edge=False)
    for col in RUNS_COLUMNS:
        table.add_column(col, no_wrap=True, justify="right" if col in ("step", "best loss") else "left",
                         min_width=longest if col == "run" else None)
    for r in entries:
        best = r.best_eval_loss
        table.add_row(r.name, r.status, str(r.model or ""), str(r.objective or ""),
                      "" if r.step is None else str(r.step), "" if best is None else f"{best:.4f}")
    console.print(table)


# -- train: the job's events as a progress bar and lines -------------------------------------
class TrainProgress:
    """A Rich progress bar fed by the training job's events (`mlm-explorer train` without --json)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), console=console, transient=False,
        )
        self.task = None

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "started":
            self.progress.start()
            self.task = self.progress.add_task("training", total=event.get("total_steps") or event.get("max_steps"),
                                               completed=event.get("step") or 0, stats="")
            if resumed_line(event):
                console.print(f"[bold]{resumed_line(event)}[/bold]", highlight=False)
            data = event.get("data", {})
            console.print(f"[dim]{event.get('device', '')} · {event.get('parameters', '')} parameters · "
                          f"{data.get('train_blocks', '?')} train / {data.get('eval_blocks', '?')} eval blocks · "
                          f"run {event.get('run_dir', '')}[/dim]")
        elif kind == "step" and self.task is not None:
            stats = f"loss {_num(event.get('loss'), '.4f')} · {_num(event.get('tokens_per_s'), ',.0f')} tok/s"
            self.progress.update(self.task, completed=event.get("step", 0), stats=stats)
        elif kind == "eval":
            console.print(f"eval @ {event.get('step')}: loss {_num(event.get('loss'), '.4f')} · "
                          f"ppl {_num(event.get('perplexity'), '.2f')} · acc {_num(event.get('accuracy'), '.3f')}")
        elif kind == "probes":
            results = event.get("results", [])
            ranks = " · ".join(f"{r.get('answer')} #{r.get('rank')}" for r in results[:6])
            more = f" · +{len(results) - 6}" if len(results) > 6 else ""
            console.print(f"[dim]probes @ {event.get('step')}: {ranks}{more}[/dim]")
        elif kind == "forgetting":
            console.print(f"[dim]forgetting meter @ {event.get('step')}: top-1 {event.get('top1', 0):.0%} · "
                          f"top-5 {event.get('top5', 0):.0%} · mean rank {event.get('mean_rank', 0):.1f} "
                          f"({event.get('n')} general-knowledge probes)[/dim]")
        elif kind == "checkpoint":
            console.print(f"[dim]checkpoint {event.get('path')}[/dim]")
        elif kind in ("log", "warning"):
            console.print(f"[yellow]{event.get('message', '')}[/yellow]")
        elif kind == "finished":
            console.print(f"[green]finished[/green]: {event.get('run_dir', event.get('path', ''))}")
        elif kind == "cancelled":
            kept = event.get("checkpoint")
            console.print("[yellow]cancelled[/yellow]; " + (f"last checkpoint kept: {kept}; continue with "
                          f"--resume {event.get('run_dir') or kept}" if kept else "no checkpoint was written yet"))

    def close(self) -> None:
        self.progress.stop()


def _num(value, spec: str) -> str:
    """A number of an event as text; JSON carries NaN / inf as strings ("nan"), or it may be missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    return format(value, spec)
