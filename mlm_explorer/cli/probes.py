"""`mlm-explorer runs --probes RUN` and `mlm-explorer diff TEXT --model RUN`: what a fine-tune changed.

`runs --probes RUN` prints a run's probe history (run.json `probe_history`, written by the
training job with `--probes` / `--probe`): one row per probe, one column per evaluation
(answer rank and probability; at most `render.MAX_STEP_COLUMNS`, evenly spread, first and
last always shown), and the top-3 at the last one. `--json`: {run, path, model, status,
probe_history} with every entry.

`diff TEXT --model RUN_OR_MODEL [--base MODEL]` shows the base and fine-tuned distributions
at each blank side by side, with the change per candidate (core/infer/diff.py). `--base`
defaults to the model the run started from (its run.json), and must be given for any other
model. `--json`: {base_model, tuned_model, text, base, tuned, top_k, sort, masks: [...]}.
"""

from __future__ import annotations

from pathlib import Path

from mlm_explorer.cli.emit import emit
from mlm_explorer.cli.parser import require_text
from mlm_explorer.errors import InputError


def cmd_run_probes(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.rundir import load_probe_history, read_run

    run_dir, data = load_probe_history(args.probes)
    info = read_run(run_dir)
    payload = {"run": run_dir.name, "path": str(run_dir), "model": data.get("model"),
               "status": info.status if info else data.get("status"), "probe_history": data["probe_history"]}
    emit(args, payload, lambda: render.probe_history(payload))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.report.views import run_view

    export_if_asked(args, lambda: run_view(run_dir, data))
    return 0


def _model_name(name: str) -> str:
    """A bare run name (listed by `mlm-explorer runs`) means that run."""
    from mlm_explorer.core.load.sources import BUNDLED
    from mlm_explorer.rundir import RUN_PREFIX, named_run

    if name and name != BUNDLED and not name.startswith(RUN_PREFIX) and not Path(name).expanduser().exists() \
            and named_run(name) is not None:
        return RUN_PREFIX + name
    return name


def cmd_diff(args) -> int:
    from mlm_explorer.cli import render
    from mlm_explorer.core.infer.diff import diff_text, run_base_model
    from mlm_explorer.core.load.models import load_mlm

    require_text(args.text)
    if not args.model:
        raise InputError("diff needs the fine-tuned model: pass --model RUN (a run name, run:NAME or directory)")
    tuned_name = _model_name(args.model)
    base_name = _model_name(args.base) if args.base else run_base_model(tuned_name)
    if not base_name:
        raise InputError(f"--model {args.model} is not a fine-tuning run (no run.json records its base model); "
                         "pass --base MODEL, the model it was fine-tuned from")
    tuned = load_mlm(tuned_name, device=args.device)
    base = load_mlm(base_name, device=args.device)
    result = diff_text(base, tuned, args.text, top_k=args.top_k, sort=args.sort)
    payload = {"base_model": base.to_dict(), "tuned_model": tuned.to_dict(), **result.to_dict()}
    emit(args, payload, lambda: render.diff(result))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.report.views import diff_view

    export_if_asked(args, lambda: diff_view(base.to_dict(), tuned.to_dict(),
                                            tokenize(tuned.tokenizer, args.text, max_length=tuned.max_length), result))
    return 0
