"""`mlm-explorer mask --audit FILES...`: what the training job's masking really does to your text.

The audit runs in its own process (`python -m mlm_explorer.train.audit`, train/audit.py) with
the job's data preparation and masking, so the numbers are the job's; this module builds its
command line from `mask`'s options, reads its events and prints the report (or `--json`).
"""

from __future__ import annotations

import sys

from mlm_explorer.cli.emit import emit

from mlm_explorer.errors import InputError, UserError


def add_audit_arguments(p) -> None:
    """`mask`'s audit options."""
    from mlm_explorer.option_types import positive_int
    from mlm_explorer.train.config import OBJECTIVES

    g = p.add_argument_group("masking audit (--audit FILES: the training job's masking over your files)")
    g.add_argument("--audit", nargs="+", default=None, metavar="FILE",
                   help="text files or folders: run the training job's masking over them and report the rates")
    g.add_argument("--objective", choices=OBJECTIVES, default="auto", help="as `train --objective` (auto)")
    g.add_argument("--block-size", type=positive_int, default=None, help="as `train --block-size`")
    g.add_argument("--max-blocks", type=positive_int, default=None, help="audit at most this many blocks (2048)")
    g.add_argument("--noise-density", type=float, default=None, help="span: as `train --noise-density`")
    g.add_argument("--mean-span-length", type=float, default=None, help="span: as `train --mean-span-length`")


def audit_argv(args) -> list[str]:
    """The audit process's command line from `mask`'s options."""
    if args.count is not None:
        raise InputError("--count picks a number of tokens in one text; the audit uses --rate over the corpus")
    argv = [*args.audit, "--model", args.model or "bundled", "--mask-rate", str(args.rate),
            "--seed", str(args.seed), "--objective", args.objective]
    if args.whole_word:
        argv.append("--whole-word")
    for name in ("block_size", "max_blocks", "noise_density", "mean_span_length"):
        value = getattr(args, name)
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    return argv


def cmd_mask_audit(args) -> int:
    from mlm_explorer.train.launch import AUDIT_MODULE, TrainingRunner

    if not 0 < args.rate < 1:
        raise InputError(f"--rate {args.rate}: the audit needs a rate between 0 and 1 (exclusive)")
    runner = TrainingRunner(audit_argv(args), module=AUDIT_MODULE)
    audit = None
    for event in runner.events():
        if event.get("event") == "audit":
            audit = event
        elif event.get("event") == "error":
            raise UserError(event.get("message", "the masking audit failed"))
        elif event.get("event") == "log" and not args.json:
            print(event.get("message", ""), file=sys.stderr)
    if audit is None:
        raise UserError(f"the masking audit ended without a report (status {runner.returncode})")
    from mlm_explorer.cli import render_reports

    emit(args, audit, lambda: render_reports.audit(audit))
    return 0
