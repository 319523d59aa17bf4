"""Line charts as plain SVG text (no library, nothing fetched): a run's loss, probe and forgetting curves.

    line_chart({"train loss": [(step, value), ...], ...}, title="loss") -> "<svg ...>...</svg>"
    run_charts(run, probe_history) -> [svg, ...]   # the charts a run has data for

`run` is `report.views.run_view(...)["run"]`: {"name", "losses": [[step, loss]], "evals": [[step, loss]],
"forgetting": [forgetting_history entries]}; probe_history is run.json's (core/explain/probes.py).
"""

from __future__ import annotations

import html
import math

PALETTE = ("#2f81f7", "#ff8c1a", "#2ea043", "#c2185b", "#8250df", "#9a6700", "#1b7c83", "#6e7781")


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / n
    return [lo + i * step for i in range(n + 1)]


def line_chart(series: dict[str, list], *, title: str, width: int = 640, height: int = 240,
               y_label: str = "", log_y: bool = False) -> str:
    """An SVG line chart of `series` {name: [(x, y), ...]}; log_y: a log10 y axis (ranks)."""
    points = {k: [(float(x), float(y)) for x, y in v if y is not None and math.isfinite(float(y))]
              for k, v in series.items()}
    points = {k: v for k, v in points.items() if v}
    left, right, top, bottom = 56, 150, 28, 34
    w, h = width - left - right, height - top - bottom
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="sans-serif" font-size="11"><rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="16" font-size="13" font-weight="bold">{esc(title)}</text>']
    if not points:
        out.append(f'<text x="{left}" y="{top + h / 2}" fill="#5a5a5a">no data yet</text></svg>')
        return "".join(out)
    fy = (lambda y: math.log10(max(y, 1e-12))) if log_y else (lambda y: y)
    xs = [x for v in points.values() for x, _ in v]
    ys = [fy(y) for v in points.values() for _, y in v]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    sx = lambda x: left + (x - x0) / (x1 - x0) * w  # noqa: E731
    sy = lambda y: top + (1 - (fy(y) - y0) / (y1 - y0)) * h  # noqa: E731
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#d0d0d0"/>')
    for t in _ticks(y0, y1):
        y = top + (1 - (t - y0) / (y1 - y0)) * h
        label = f"{10 ** t:.3g}" if log_y else f"{t:.3g}"
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eeeeee"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5a5a5a">{label}</text>')
    for t in _ticks(x0, x1):
        x = sx(t)
        out.append(f'<text x="{x:.1f}" y="{top + h + 16}" text-anchor="middle" fill="#5a5a5a">{t:.0f}</text>')
    out.append(f'<text x="{left + w / 2}" y="{height - 4}" text-anchor="middle" fill="#5a5a5a">step</text>')
    if y_label:
        out.append(f'<text x="12" y="{top + h / 2}" transform="rotate(-90 12 {top + h / 2})" text-anchor="middle" '
                   f'fill="#5a5a5a">{esc(y_label)}</text>')
    for i, (name, pts) in enumerate(points.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        if len(pts) < 40:
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>' for x, y in pts]
        ly = top + 12 + 16 * i
        out.append(f'<line x1="{left + w + 12}" x2="{left + w + 30}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" '
                   f'stroke-width="3"/><text x="{left + w + 36}" y="{ly}">{esc(name[:16])}</text>')
    out.append("</svg>")
    return "".join(out)


def run_charts(run: dict, probe_history: list[dict]) -> list[str]:
    """The loss chart, the probes' answer ranks, the forgetting meter: those with data."""
    charts = []
    if run.get("losses") or run.get("evals"):
        charts.append(line_chart({"train loss": run.get("losses") or [], "held-out loss": run.get("evals") or []},
                                 title="loss", y_label="nats"))
    if probe_history:
        ranks: dict[str, list] = {}
        for entry in probe_history:
            for r in entry.get("results", []):
                ranks.setdefault(r["answer"], []).append((entry["step"], r["rank"]))
        charts.append(line_chart(ranks, title="probes: rank of the answer (1 = first choice)", y_label="rank",
                                 log_y=True))
    meter = run.get("forgetting") or []
    if meter:
        charts.append(line_chart({"top-1": [(e["step"], e["top1"]) for e in meter],
                                  "top-5": [(e["step"], e["top5"]) for e in meter]},
                                 title="forgetting meter: general-knowledge probes", y_label="share of answers"))
        charts.append(line_chart({"mean rank": [(e["step"], e["mean_rank"]) for e in meter]},
                                 title="forgetting meter: mean rank of the answers", y_label="rank", log_y=True))
    return charts
