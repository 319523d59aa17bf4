"""`mlm-explorer compare TEXT --model A --model B [...]`: 2-4 models on the same blanks (core/infer/compare.py).

`--bert M --t5 M` (the older form) still works: those models come first, and the JSON keeps
their `bert` / `t5` entries beside the columns.
"""

from __future__ import annotations

from mlm_explorer.cli.emit import emit
from mlm_explorer.errors import InputError


def model_names(args) -> list[str]:
    names = ([args.bert] if args.bert else []) + list(args.models or []) + ([args.t5] if args.t5 else [])
    if args.t5 and not args.bert and not args.models:
        names = ["bundled"] + names   # the older form's default encoder
    if not 2 <= len(names) <= 4:
        raise InputError(f"compare takes 2 to 4 models, got {len(names)}: give each with --model NAME "
                         "(e.g. --model bundled --model google-t5/t5-small), or --bert M --t5 M")
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
    from mlm_explorer.cli import render_reports

    emit(args, payload, lambda: render_reports.compare_columns(result))
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
