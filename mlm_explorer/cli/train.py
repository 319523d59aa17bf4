"""`mlm-explorer train ...`: start the training job through the launcher and show its progress.

The job runs in its own process (`python -m mlm_explorer.train`), with the very arguments
the user gave here (`args.job_argv`, kept by cli/parser.py; global options come first, so
the subcommand's own win). `--json` prints its events as they come; otherwise the data
report (files used with their tokens, files skipped with reasons, duplicates dropped) and a
Rich progress bar (cli/render.py) with loss, tokens/s and ETA; `--dry-run` prints the whole
preview (cli/train_report.py) and stops. Ctrl+C asks the job to save a checkpoint and stop
(exit 130).
"""

from __future__ import annotations

import json
import sys

from mlm_explorer.cli.emit import EXIT_INTERRUPTED
from mlm_explorer.errors import UserError


def run_training(args) -> int:
    from mlm_explorer.cli.train_report import TrainView
    from mlm_explorer.train.launch import TrainingRunner

    job_args = [a for a in args.job_argv if a != "--json"] + ["--json"]
    runner = TrainingRunner(job_args)
    runner.start()
    show = _print_json if args.json else TrainView()
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
    except BaseException:  # whatever ends this process ends the job too (it saves a checkpoint first)
        runner.cancel()
        raise
    finally:
        if isinstance(show, TrainView):
            show.close()
    if last is not None and last.get("event") == "error":
        if args.json:
            return 1
        raise UserError(last.get("message", "the training job failed"))
    if last is not None and last.get("event") == "cancelled":
        return EXIT_INTERRUPTED
    return 0 if runner.returncode in (0, None) else 1


def _print_json(event: dict) -> None:
    print(json.dumps(event, ensure_ascii=False), flush=True)
