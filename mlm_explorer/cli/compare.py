"""`mlm-explorer compare TEXT --model A --model B [...]`: 2-4 models on the same blanks (core/infer/compare.py).

`--bert M --t5 M` (the older form) still works: those models come first, and the JSON keeps
their `bert` / `t5` entries beside the columns.
"""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from mlm_explorer.cli.render import console
from mlm_explorer.errors import InputError


def model_names(args) -> list[str]:
    names = ([args.bert] if args.bert else []) + list(args.model or []) + ([args.t5] if args.t5 else [])
    if args.t5 and not args.bert and not args.model:
        names = ["bundled"] + names   # the older form's default encoder
    if not 2 <= len(names) <= 4:
        raise InputError(f"compare takes 2 to 4 models, got {len(names)}: give each with --model NAME "
                         "(e.g. --model bundled --model google-t5/t5-small)")
    return names


def cmd_compare(args) -> int:
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.core.infer.compare import compare_models
    from mlm_explorer.core.load.models import load_any
    from mlm_explorer.report.views import compare_view

    if not args.text or not args.text.strip():
        raise InputError("the text is empty: give a sentence, e.g. 'The capital of France is [MASK].'")
    lms = [load_any(name, device=args.device) for name in model_names(args)]
    result = compare_models(lms, args.text, top_k=args.top_k, joint=args.joint, num_beams=args.num_beams)
    payload = {"models": [lm.to_dict() for lm in lms], **result.to_dict()}
    if args.bert or args.t5:   # the older form's entries
        _legacy(args, lms, payload)
    if args.json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        render_compare(result)
    export_if_asked(args, lambda: compare_view(result))
    return 0


def _legacy(args, lms, payload: dict) -> None:
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.infill import infill

    for lm in lms:
        if lm.kind == "mlm" and "bert" not in payload:
            payload["bert"] = {"model": lm.to_dict(), **predict(lm, args.text, top_k=args.top_k).to_dict()}
        elif lm.kind == "seq2seq" and "t5" not in payload:
            payload["t5"] = {"model": lm.to_dict(), **infill(lm, args.text).to_dict()}


def render_compare(result) -> None:
    table = Table(show_lines=True)
    table.add_column("blank", justify="right", style="dim")
    for col in result.columns:
        table.add_column(f"{col.model} ({col.family})")
    for i in range(result.n_blanks):
        cells = []
        for col in result.columns:
            if col.error:
                cells.append(Text(col.error if i == 0 else "", style="red"))
            elif i < len(col.blanks):
                b = col.blanks[i]
                cells.append(f"{b.text}  p={b.probability:.3f}" if b.probability is not None else b.text)
            else:
                cells.append("")
        table.add_row(str(i + 1), *cells)
    table.add_row("text", *[Text(col.text, style="bold") for col in result.columns])
    table.add_row("", *[Text(col.note, style="dim") for col in result.columns])
    console.print(table)
