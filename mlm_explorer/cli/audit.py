"""`mlm-explorer mask --audit FILES...`: what the training job's masking really does to your text.

The audit runs in its own process (`python -m mlm_explorer.train.audit`, train/audit.py) with
the job's data preparation and masking, so the numbers are the job's; this module builds its
command line from `mask`'s options, reads its events and prints the report (or `--json`).
"""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from mlm_explorer.cli.render import console
from mlm_explorer.errors import InputError, UserError


def add_audit_arguments(p, positive_int) -> None:
    """`mask`'s audit options (positive_int: the CLI's argument type)."""
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
            console.print(Text(str(event.get("message", "")), style="dim"))
    if audit is None:
        raise UserError(f"the masking audit ended without a report (status {runner.returncode})")
    if args.json:
        print(json.dumps(audit, ensure_ascii=False, indent=2))
    else:
        render_audit(audit)
    return 0


SHORT = {"DataCollatorForLanguageModeling": "HF collator"}   # engine names in the tables


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def render_audit(audit: dict) -> None:
    ours, ref = audit["ours"], audit["reference"]
    data = audit.get("data", {})
    console.print(Text(f"model {audit['model']} · objective {audit['objective']} · {audit['blocks']} of "
                       f"{audit['total_blocks']} training blocks of {data.get('block_size', '?')} tokens "
                       f"({data.get('files', '?')} files)", style="bold"))
    if audit["objective"] == "span":
        _span_table(ours, ref)
    else:
        _mlm_tables(ours, ref)
    if audit["differences"]:
        console.print(Text("where they differ:", style="bold yellow"))
        for line in audit["differences"]:
            console.print(Text(f"  · {line}", style="yellow"))
    else:
        console.print(Text("no difference beyond sampling noise", style="green"))


def _mlm_tables(ours: dict, ref: dict) -> None:
    policy = ours["policy"]
    console.print(Text(f"policy: rate {policy['rate']} of the {'words' if policy['whole_word'] else 'tokens'}, "
                       f"then {policy['mask']:.0%} [MASK] / {policy['random']:.0%} random / {policy['keep']:.0%} kept",
                       style="dim"))
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (("tokens", "left"), ("n", "right"), ("selected", "right"), ("[MASK]", "right"),
                         ("random", "right"), ("kept", "right"), ("engine", "left")):
        table.add_column(col, justify=justify)
    rows = [("all", "overall")] + [(name.replace("_", " "), name) for name in ours["classes"]]
    for label, key in rows:
        for side in (ours, ref):
            c = side["overall"] if key == "overall" else side["classes"][key]
            table.add_row(label if side is ours else "", str(c["tokens"]), _pct(c["rate"]), _pct(c["mask_share"]),
                          _pct(c["random_share"]), _pct(c["keep_share"]),
                          Text(SHORT.get(side["engine"], side["engine"]), style="bold" if side is ours else "dim"))
    console.print(table)
    checks = Table(show_edge=False, pad_edge=False)
    for col in ("", ours["engine"], SHORT.get(ref["engine"], ref["engine"])):
        checks.add_column(col, justify="left" if not col else "right")
    for label, key in (("special tokens selected", "special_touched"), ("padding selected", "padding_touched"),
                       ("random draws that are special tokens", "random_drew_special")):
        checks.add_row(label, _count(ours[key], must_be_zero=True), _count(ref[key]))
    for label, key in (("words", "words"), ("multi-piece words", "multi_piece"), ("words selected", "selected"),
                       ("words partly selected", "partly_selected"), ("selected words with mixed decisions",
                                                                      "mixed_decisions")):
        checks.add_row(label, str(ours["words"][key]), str(ref["words"][key]))
    console.print(checks)


def _count(value: int, *, must_be_zero: bool = False) -> Text:
    return Text(str(value), style=("green" if value == 0 else "bold red") if must_be_zero else "")


def _span_table(ours: dict, ref: dict) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("", ours["engine"], ref["engine"]):
        table.add_column(col, justify="left" if not col else "right")
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    rows = [("rows", "rows", "d"), ("raw tokens", "raw_tokens", "d"), ("noise tokens", "noise_tokens", "d"),
            ("noise density", "noise_density", ".4f"), ("mean span length", "mean_span_length", ".3f"),
            ("tokens dropped (truncation)", "truncated_tokens", "d")]
    for label, key, spec in rows:
        table.add_row(label, fmt(ours[key], spec), fmt(ref[key], spec))
    for side_label, key in (("sentinels per row (mean)", "mean"), ("sentinels per row (min-max)", None)):
        if key:
            table.add_row(side_label, fmt(ours["sentinels_per_row"]["mean"], ".2f"), fmt(ref["sentinels_per_row"]["mean"], ".2f"))
        else:
            spread = lambda s: f"{s['sentinels_per_row']['min']}-{s['sentinels_per_row']['max']}"  # noqa: E731
            table.add_row(side_label, spread(ours), spread(ref))
    console.print(Text(f"asked: noise density {ours['expected_density']}, mean span {ours['expected_mean_span']}",
                       style="dim"))
    console.print(table)

