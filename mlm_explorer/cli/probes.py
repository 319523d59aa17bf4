"""`mlm-explorer runs --probes RUN` and `mlm-explorer diff TEXT --model RUN`: what a fine-tune changed.

`runs --probes RUN` prints a run's probe history (run.json `probe_history`, written by the
training job with `--probes` / `--probe`): one row per probe, one column per evaluation
(answer rank and probability; at most `MAX_STEP_COLUMNS`, evenly spread, first and last
always shown), and the top-3 at the last one. `--json`: {run, path, model, status,
probe_history} with every entry.

`diff TEXT --model RUN_OR_MODEL [--base MODEL]` shows the base and fine-tuned distributions
at each blank side by side, with the change per candidate (core/diff.py). `--base` defaults
to the model the run started from (its run.json), and must be given for any other model.
`--json`: {base_model, tuned_model, text, base, tuned, top_k, sort, masks: [...]}.
"""

from __future__ import annotations

from pathlib import Path

from mlm_explorer.errors import InputError

MAX_STEP_COLUMNS = 8


# -- runs --probes ----------------------------------------------------------------------------


def cmd_run_probes(args) -> int:
    from mlm_explorer.cli.main import _emit
    from mlm_explorer.train.run.runs import load_probe_history, read_run

    run_dir, data = load_probe_history(args.probes)
    info = read_run(run_dir)
    payload = {"run": run_dir.name, "path": str(run_dir), "model": data.get("model"),
               "status": info.status if info else data.get("status"), "probe_history": data["probe_history"]}
    _emit(args, payload, lambda: render_probe_history(payload))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.report.views import run_view

    export_if_asked(args, lambda: run_view(run_dir, data))
    return 0


def _pick_steps(n: int, most: int = MAX_STEP_COLUMNS) -> list[int]:
    """Indices of at most `most` of n entries, evenly spread, the first and the last included."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def render_probe_history(payload: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    history = payload["probe_history"]
    fit = max(2, min(MAX_STEP_COLUMNS, (console.width - 40) // 12))  # room for the probe text
    shown = [history[i] for i in _pick_steps(len(history), fit)]
    console.print(Text(f"run {payload['run']} · base model {payload.get('model')} · {payload.get('status')} · "
                       f"{len(history)} probe evaluations", style="dim"))
    probes: dict[tuple[str, str], dict[int, dict]] = {}  # (text, answer) -> {step: result}
    for entry in history:
        for r in entry["results"]:
            probes.setdefault((r["text"], r["answer"]), {})[entry["step"]] = r
    last = history[-1]
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("probe", ratio=1)
    table.add_column("answer", no_wrap=True)
    for entry in shown:
        table.add_column(f"step {entry['step']}", justify="right", no_wrap=True)
    tops = Table(show_edge=False, pad_edge=False)
    tops.add_column("probe", ratio=1)
    tops.add_column("answer", no_wrap=True)
    tops.add_column(f"top-3 at step {last['step']}")
    for (text, answer), by_step in probes.items():
        cells = []
        for entry in shown:
            r = by_step.get(entry["step"])
            if r is None:
                cells.append(Text(""))
            else:
                cells.append(Text(f"#{r['rank']} {r['probability']:.3f}", style="bold green" if r["rank"] == 1 else ""))
        final = by_step.get(last["step"])
        top = " · ".join(f"{t} {p:.3f}" for t, p in final["top3"]) if final else ""
        table.add_row(text, answer, *cells)
        tops.add_row(text, answer, top)
    console.print(table)
    if len(shown) < len(history):
        console.print(Text(f"{len(shown)} of {len(history)} evaluations shown; --json for all", style="dim"))
    console.print(Text("#rank (1 = the model's first choice) and the answer's probability", style="dim"))
    console.print(tops)


# -- diff -------------------------------------------------------------------------------------


def _model_name(name: str) -> str:
    """A bare run name (listed by `mlm-explorer runs`) means that run."""
    from mlm_explorer.core.load.sources import BUNDLED, RUN_PREFIX
    from mlm_explorer.paths import runs_dir

    if name and name != BUNDLED and not name.startswith(RUN_PREFIX) and not Path(name).expanduser().exists() \
            and (runs_dir() / name).is_dir():
        return RUN_PREFIX + name
    return name


def cmd_diff(args) -> int:
    from mlm_explorer.cli.main import _emit
    from mlm_explorer.core.infer.diff import diff_text, run_base_model
    from mlm_explorer.core.load.models import load_mlm

    if not args.text or not args.text.strip():
        raise InputError("the text is empty: give a sentence with [MASK] or ___, e.g. \"The [MASK] walks in the park.\"")
    tuned_name = _model_name(args.model)
    base_name = _model_name(args.base) if args.base else run_base_model(tuned_name)
    if not base_name:
        raise InputError(f"--model {args.model} is not a fine-tuning run (no run.json records its base model); "
                         "pass --base MODEL, the model it was fine-tuned from")
    tuned = load_mlm(tuned_name, device=args.device)
    base = load_mlm(base_name, device=args.device)
    result = diff_text(base, tuned, args.text, top_k=args.top_k, sort=args.sort)
    payload = {"base_model": base.to_dict(), "tuned_model": tuned.to_dict(), **result.to_dict()}
    _emit(args, payload, lambda: render_diff(result))
    from mlm_explorer.cli.exports import export_if_asked
    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.report.views import diff_view

    export_if_asked(args, lambda: diff_view(base.to_dict(), tuned.to_dict(),
                                            tokenize(tuned.tokenizer, args.text, max_length=tuned.max_length), result))
    return 0


def render_diff(result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    console.print(Text(f"base {result.base}  →  tuned {result.tuned}", style="dim"))
    order = {"delta": "largest change first", "tuned": "by tuned probability", "base": "by base probability"}
    for n, m in enumerate(result.masks, 1):
        title = (f"mask {n} (position {m.position}): base {m.base_top1.text!r} {m.base_top1.p_base:.3f} → "
                 f"tuned {m.tuned_top1.text!r} {m.tuned_top1.p_tuned:.3f} · KL(tuned‖base) {m.kl:.3f} nats")
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for col, justify in (("token", "left"), ("p base", "right"), ("p tuned", "right"), ("Δ p", "right"),
                             ("log ratio", "right"), ("rank base → tuned", "right")):
            table.add_column(col, justify=justify)
        for c in m.candidates:
            style = "green" if c.delta > 0 else "red" if c.delta < 0 else ""
            table.add_row(c.text, f"{c.p_base:.4f}", f"{c.p_tuned:.4f}", Text(f"{c.delta:+.4f}", style=style),
                          f"{c.log_ratio:+.2f}", f"{c.rank_base} → {c.rank_tuned}")
        console.print(table)
        console.print(Text(f"union of both top-{result.top_k}, {order.get(result.sort, result.sort)}; mass outside: "
                           f"base {m.mass_outside_base:.4f}, tuned {m.mass_outside_tuned:.4f}", style="dim"))
