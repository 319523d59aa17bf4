"""The job's probes, checked before anything is written: the user's (--probes FILE, --probe
TEXT|ANSWER, evaluated at every eval) and the forgetting meter's (core/explain/forgetting.py).

Both need an encoder masked-LM: a seq2seq objective has no [MASK] to probe, so the user's probes
are refused in one line and the meter turns itself off with a log line.
"""

from __future__ import annotations

from pathlib import Path

from mlm_explorer.errors import InputError


def probes_from_args(args):
    """The probes of --probes FILE and --probe TEXT|ANSWER (syntax only; no torch yet). The file's
    path is made absolute, so that a --resume from another directory finds it again."""
    from mlm_explorer.core.explain.probes import probes_from_options

    if getattr(args, "probes", None):
        args.probes = str(Path(args.probes).expanduser().resolve())
    return probes_from_options(getattr(args, "probes", None), getattr(args, "probe", None))


def prepare_probes_for(probes, tm):
    """Check the probes against the model's tokenizer (one token per answer) before anything is written."""
    if not probes:
        return []
    if tm.objective in ("span", "infill"):
        how = "span corruption" if tm.objective == "span" else "text infilling"
        raise InputError("--probes/--probe need an encoder masked-LM (objective mlm or mlm+nsp); "
                         f"'{tm.name}' is trained with {how}, which has no [MASK] to probe")
    from mlm_explorer.core.explain.probes import prepare_probes

    return prepare_probes(tm.tokenizer, probes, max_length=tm.max_length)


def prepare_meter_for(args, tm, events):
    """The forgetting meter's probes for this model (core/explain/forgetting.py), or [] when off."""
    if args.no_forgetting:
        return [], None
    from mlm_explorer.core.explain.forgetting import meter_probes, prepare_meter

    if args.forgetting_probes:
        args.forgetting_probes = str(Path(args.forgetting_probes).expanduser().resolve())
    probes = meter_probes(args.forgetting_probes)   # a user's file: InputError with the line
    if tm.objective not in ("mlm", "mlm+nsp"):
        how = {"span": "span corruption (T5)", "infill": "text infilling (BART)"}.get(tm.objective, tm.objective)
        events.log(f"forgetting meter off: it probes [MASK], and {how} trains no masked-LM head to probe")
        return [], None
    prepared, skipped = prepare_meter(tm.tokenizer, probes, max_length=tm.max_length)
    if skipped:
        events.log(f"forgetting meter: {len(skipped)} of {len(probes)} probes left out for this tokenizer "
                   f"(first: {skipped[0]})")
    if not prepared:
        events.log("forgetting meter off: none of its probes fits this tokenizer")
        return [], None
    return prepared, {"probes": args.forgetting_probes or "general (shipped)", "n": len(prepared),
                      "skipped": skipped}
