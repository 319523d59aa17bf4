"""`mlm-explorer train ...`: start the training job through the runner and show its progress.

The job runs in its own process (`python -m mlm_explorer.train`), with the very arguments
the user gave here. `--json` prints its events as they come; otherwise a Rich progress bar
shows loss, tokens/s and ETA. Ctrl+C asks the job to save a checkpoint and stop (exit 130).
"""

from __future__ import annotations

import json
import sys
from typing import Sequence

from mlm_explorer.errors import UserError

EXIT_INTERRUPTED = 130


def run_training(args, argv: Sequence[str]) -> int:
    from mlm_explorer.train.launch import TrainingRunner

    job_args = [a for a in argv if a != "--json"] + ["--json"]
    runner = TrainingRunner(job_args)
    runner.start()
    show = _json_printer if args.json else _ProgressView()
    last = None
    try:
        for event in runner.events():
            last = event
            show(event)
    except KeyboardInterrupt:
        print("stopping: saving a checkpoint…", file=sys.stderr)
        runner.cancel()
        for event in runner.events():
            last = event
            show(event)
        return EXIT_INTERRUPTED
    finally:
        if isinstance(show, _ProgressView):
            show.close()
    if last is not None and last.get("event") == "error":
        if args.json:
            return 1
        raise UserError(last.get("message", "the training job failed"))
    if last is not None and last.get("event") == "cancelled":
        return EXIT_INTERRUPTED
    return 0 if runner.returncode in (0, None) else 1


def _json_printer(event: dict) -> None:
    print(json.dumps(event, ensure_ascii=False), flush=True)


class _ProgressView:
    """A Rich progress bar fed by the job's events."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=False)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(), console=self.console, transient=False,
        )
        self.task = None

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "started":
            total = event.get("total_steps") or event.get("max_steps")
            self.progress.start()
            self.task = self.progress.add_task("training", total=total, stats="")
            data = event.get("data", {})
            self.console.print(f"[dim]{event.get('device', '')} · {event.get('parameters', '')} parameters · "
                               f"{data.get('train_blocks', '?')} train / {data.get('eval_blocks', '?')} eval blocks · "
                               f"run {event.get('run_dir', '')}[/dim]")
        elif kind == "step" and self.task is not None:
            stats = f"loss {event.get('loss', float('nan')):.4f} · {event.get('tokens_per_s', 0):,.0f} tok/s"
            self.progress.update(self.task, completed=event.get("step", 0), stats=stats)
        elif kind == "eval":
            self.console.print(f"eval @ {event.get('step')}: loss {event.get('loss', float('nan')):.4f} · "
                               f"ppl {event.get('perplexity', float('nan')):.2f} · acc {event.get('accuracy', 0):.3f}")
        elif kind == "probes":
            results = event.get("results", [])
            ranks = " · ".join(f"{r.get('answer')} #{r.get('rank')}" for r in results[:6])
            more = f" · +{len(results) - 6}" if len(results) > 6 else ""
            self.console.print(f"[dim]probes @ {event.get('step')}: {ranks}{more}[/dim]")
        elif kind == "forgetting":
            self.console.print(f"[dim]forgetting meter @ {event.get('step')}: top-1 {event.get('top1', 0):.0%} · "
                               f"top-5 {event.get('top5', 0):.0%} · mean rank {event.get('mean_rank', 0):.1f} "
                               f"({event.get('n')} general-knowledge probes)[/dim]")
        elif kind == "checkpoint":
            self.console.print(f"[dim]checkpoint {event.get('path')}[/dim]")
        elif kind in ("log", "warning"):
            self.console.print(f"[yellow]{event.get('message', '')}[/yellow]")
        elif kind == "finished":
            self.console.print(f"[green]finished[/green]: {event.get('run_dir', event.get('path', ''))}")
        elif kind == "cancelled":
            self.console.print(f"[yellow]cancelled[/yellow]; last checkpoint kept: {event.get('path', '')}")

    def close(self) -> None:
        self.progress.stop()
