"""Export the current view: JSON (everything), Markdown (for people), a self-contained HTML page
and an SVG picture of the view (report/html.py, report/svg.py: nothing fetched, opens offline),
and the terminal's screenshot (-screen.svg).

The JSON is the Explore state's `to_dict()`: the text, tokens, masked positions, the masking
engine's decisions, and the core's FillResult (predictions, decode, loss) as plain data; in
before/after mode the base model's result and core.diff's MaskDiffs (`diff`); the pinned
probes (`probes`) and the Train screen's probe history (`probe_history`, each probe event of
the last run: [{"step", "results"}], core.probes ProbeResult dicts); the active lens (`lens`:
per-token values and intensities, the caption, the core result) and the candidate box
(`candidates`: core.candidates scores and variable-length fills), both null when off.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from mlm_explorer.core.mask.decision import NONE
from mlm_explorer.ui.state import ExploreState


def view_dict(app: Any) -> dict:
    explore = getattr(app, "explore", None)
    state = explore.state if explore is not None else ExploreState()
    lm = getattr(app, "lm", None)
    out = {
        "app": "mlm-explorer",
        "model": lm.to_dict() if lm is not None and hasattr(lm, "to_dict") else None,
        "settings": app.settings.to_dict(),
        **state.to_dict(),
    }
    base_lm = getattr(app, "base_lm", None)
    out["base_model"] = getattr(base_lm, "name", None) if out.get("base_result") else None
    train = getattr(app, "train_screen", None)
    out["probes"] = [dict(p) for p in app.settings.probes]
    out["probe_history"] = list(train.probe_history) if train is not None else []
    out["run"] = _run(train)
    compare = getattr(app, "compare_screen", None)
    last = getattr(compare, "result", None)
    out["compare"] = last.to_dict() if last is not None and hasattr(last, "to_dict") else None
    # the active lens (per-token values + caption) and the candidate box: ui/screens/explore/{lenses,candidates}.py
    out["lens"] = explore.lenses.export() if explore is not None else None
    out["candidates"] = explore.candidates.view() if explore is not None else None
    out["k_best"] = explore.kbest.export() if explore is not None else None   # ui/screens/explore/kbest.py
    return out


def _run(train: Any) -> dict | None:
    """The Train screen's run: its loss and held-out loss curves and the forgetting meter, or None."""
    if train is None or not (train.losses or train.evals):
        return None
    from pathlib import Path as _Path

    return {"name": _Path(train.run_dir).name if train.run_dir else "", "losses": [list(p) for p in train.losses],
            "evals": [[e.get("step"), e.get("loss")] for e in train.evals if e.get("loss") is not None],
            "forgetting": list(getattr(train, "forgetting_history", []))}


def _diff_lines(data: dict) -> list[str]:
    """Markdown of the before/after diff (core.diff MaskDiff dicts)."""
    if not data.get("diff"):
        return []
    tuned_name = (data.get("model") or {}).get("name", "?")
    lines = [f"## Before / after: `{data.get('base_model') or 'base'}` → `{tuned_name}`", ""]
    for d in data["diff"]:
        base, tuned = d["base_top1"], d["tuned_top1"]
        lines += [f"### position {d['position']}", "",
                  f"top-1 `{base['text']}` → `{tuned['text']}`, KL(tuned ‖ base) {d['kl']:.4f} nats", "",
                  "| candidate | p base | p tuned | Δ | rank base | rank tuned |", "|---|---:|---:|---:|---:|---:|"]
        for c in d["candidates"]:
            lines.append(f"| `{c['text']}` | {c['p_base']:.4f} | {c['p_tuned']:.4f} | {c['delta']:+.4f} "
                         f"| {c['rank_base']} | {c['rank_tuned']} |")
        lines.append("")
    return lines


def _probe_lines(data: dict) -> list[str]:
    """Markdown of the pinned probes and the latest probe table of the last run."""
    from mlm_explorer.ui.widgets.probe_table import probe_rows

    lines = []
    if data.get("probes"):
        lines += ["## Pinned probes", ""] + [f"- {p['text']} → `{p['answer']}`" for p in data["probes"]] + [""]
    first, last, rows = probe_rows(data.get("probe_history") or [])
    if rows:
        since = f" (change since step {first})" if first != last else ""
        lines += [f"## Probes at step {last}{since}", "", "| probe | answer | rank | probability | top-3 |",
                  "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows] + [""]
    return lines


def to_markdown(data: dict) -> str:
    lines = ["# mlm-explorer export", ""]
    model = data.get("model") or {}
    lines += [f"- model: `{model.get('name', '?')}` ({model.get('device', '?')})",
              f"- text: {data.get('text', '')!s}", ""]
    rm = data.get("random_masking")
    if rm:
        c = rm["counts"]
        lines += [f"Random masking, seed {rm['seed']}, rate {rm['rate']}: "
                  f"{c['mask']} [MASK], {c['random']} random, {c['keep']} kept.", ""]
        lines += ["| position | token | decision | replacement |", "|---:|---|---|---|"]
        for t in rm.get("tokens", []):
            if t["decision"] != NONE.label:
                lines.append(f"| {t['index']} | {t['token']} | {t['decision']} | {t.get('replacement') or ''} |")
        lines.append("")
    result = data.get("result")
    if result:
        lines += [f"## Fill ({result['mode']})", "", f"> {result['decoded']}", ""]
        if result.get("loss") is not None:
            lines += [f"Loss on the picked positions: {result['loss']:.4f} "
                      f"(perplexity {math.exp(min(result['loss'], 50)):.2f}).", ""]
        tokens = {t["index"]: t for t in data.get("tokens", [])}
        for p in result["predictions"]:
            original = tokens.get(p["position"], {}).get("text", "")
            head = f"### position {p['position']}"
            if p.get("original_id") is not None:
                head += f" (original `{original}`, rank {p.get('original_rank')}, p = {p.get('original_probability') or 0:.4f})"
            lines += [head, "", f"entropy {p['entropy']:.3f} nats, mass outside the top-k {p['mass_outside']:.4f}", "",
                      "| rank | token | probability |", "|---:|---|---:|"]
            for i, c in enumerate(p["candidates"], 1):
                lines.append(f"| {i} | `{c.get('text') or c['token']}` | {c['probability']:.4f} |")
            lines.append("")
    else:
        lines += ["No prediction (nothing masked).", ""]
    from mlm_explorer.ui.screens.explore.lens import markdown as lens_markdown

    return "\n".join(lines + lens_markdown(data) + _diff_lines(data) + _probe_lines(data))


def export_view(app: Any, directory: str | Path | None = None) -> list[Path]:
    """Write mlm-explorer-<time>.json/.md/.html/.svg and -screen.svg into `directory`
    (settings.export_dir or cwd)."""
    from mlm_explorer.report.html import render_html
    from mlm_explorer.report.svg import render_svg

    directory = Path(directory or app.settings.export_dir or ".").expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    stem = "mlm-explorer-" + time.strftime("%Y%m%d-%H%M%S")
    data = view_dict(app)
    data.setdefault("title", "mlm-explorer")
    json_path = directory / f"{stem}.json"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md_path = directory / f"{stem}.md"
    md_path.write_text(to_markdown(data), encoding="utf-8")
    html_path = directory / f"{stem}.html"
    html_path.write_text(render_html(data), encoding="utf-8")
    svg_path = directory / f"{stem}.svg"
    svg_path.write_text(render_svg(data), encoding="utf-8")
    screen_path = Path(app.save_screenshot(filename=f"{stem}-screen.svg", path=str(directory)))
    return [json_path, md_path, html_path, svg_path, screen_path]
