"""`mlm-explorer compare TEXT --model A --model B [...]`: 2-4 models on the same blanks (core/infer/compare.py).

With no model named, the bundled encoder beside the bundled span infiller (offline, out of the box).
The named form `--bert M --t5 M --bart M` works too (the encoder defaults to the bundled model):
those columns come first, then the `--model` ones, and the JSON keeps a `bert` / `t5` / `bart`
entry for each named model (its core result) beside the columns.
"""

from __future__ import annotations

from mlm_explorer.cli.emit import emit
from mlm_explorer.errors import InputError


def model_names(args) -> list[tuple[str | None, str]]:
    """(the named role or None, the model) of each column, in order."""
    named = [(role, getattr(args, role)) for role in ("t5", "bart") if getattr(args, role)]
    names = ([("bert", args.bert)] if args.bert else []) + [(None, m) for m in args.models or []] + named
    if not named and not args.models:   # out of the box, offline: the encoder beside the bundled span infiller
        from mlm_explorer.core.load.sources import BUNDLED_INFILLER

        named = [("t5", BUNDLED_INFILLER)]
        names = names + named
    if named and not args.bert and not args.models:
        names = [("bert", "bundled")] + names   # the named form's default encoder
    if not 2 <= len(names) <= 4:
        raise InputError(f"compare takes 2 to 4 models, got {len(names)}: give each with --model NAME "
                         "(e.g. --model bundled --model google-t5/t5-small), or --bert M with --t5 M / --bart M")
    return names


def cmd_compare(args) -> int:
    from mlm_explorer.cli import render_reports
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.cli.parser import require_text
    from mlm_explorer.core.infer.compare import compare_models
    from mlm_explorer.core.load.models import load_any
    from mlm_explorer.report.views import compare_view

    require_text(args.text)
    names = model_names(args)
    lms = [load_any(name, device=args.device) for _, name in names]
    result = compare_models(lms, args.text, top_k=args.top_k, joint=args.joint, num_beams=args.num_beams)
    payload = {"models": [lm.to_dict() for lm in lms], **result.to_dict()}
    for (role, _), lm, column in zip(names, lms, result.columns):   # the named form's entries
        if role is not None and column.result is not None:
            payload[role] = {"model": lm.to_dict(), **column.result}
    emit(args, payload, lambda: render_reports.compare_columns(result))
    export_if_asked(args, lambda: compare_view(result))
    return 0
