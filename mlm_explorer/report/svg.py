"""One standalone SVG picture of a view: the same sections as the HTML page, drawn (report/html.py).

Blocks are stacked top to bottom, each drawn at its offset: the token chips in the lens's
colours (wrapped to the width), the lens caption and scale (saliency: the completeness error),
each mask's distribution as bars, the k best joint fills, the before/after changes, the
compared models, and the run's charts (report/plot.py) as nested SVGs. Text is sized for a
monospace font of 13 px, so the layout needs no font metrics; nothing is fetched.
"""

from __future__ import annotations

import html
import math

from mlm_explorer.report.colors import CHIP, MASKED, heat
from mlm_explorer.report.plot import run_charts

WIDTH = 960
MARGIN = 20
CHAR = 7.9        # px per character of the 13 px monospace font
LINE = 20


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _text(x: float, y: float, value, *, size: int = 13, weight: str = "normal", fill: str = "#1b1b1b",
          anchor: str = "start", mono: bool = False) -> str:
    family = ' font-family="monospace"' if mono else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
            f'text-anchor="{anchor}"{family}>{_e(value)}</text>')


def _num(value, spec: str = ".4f") -> str:
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "–"


class _Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y = MARGIN

    def heading(self, value) -> None:
        self.y += 10
        self.parts.append(_text(MARGIN, self.y + 14, value, size=15, weight="bold"))
        self.y += LINE + 4

    def line(self, value, **kw) -> None:
        self.parts.append(_text(MARGIN, self.y + 14, value, **kw))
        self.y += LINE


def render_svg(view: dict) -> str:
    c = _Canvas()
    model = (view.get("model") or {}).get("name") or "?"
    c.parts.append(_text(MARGIN, c.y + 16, view.get("title") or "mlm-explorer", size=18, weight="bold"))
    c.y += 28
    c.line(f"model {model}" + (f" · {view['text']}" if view.get("text") else ""), fill="#5a5a5a")
    for block in (_tokens, _lens, _result, _kbest, _diff, _compare, _run):
        block(view, c)
    height = c.y + MARGIN
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="sans-serif">'
            f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>' + "".join(c.parts) + "</svg>\n")


def _tokens(view: dict, c: _Canvas) -> None:
    tokens = view.get("tokens") or []
    if not tokens:
        return
    lens = view.get("lens") or {}
    kind = lens.get("kind")
    shade = {t["index"]: t.get("intensity") for t in lens.get("tokens", [])}
    masked = set(view.get("masked_positions") or [])
    c.heading("Tokens")
    x, y = MARGIN, c.y
    for t in tokens:
        label = t["text"]
        w = len(label) * CHAR + 12
        gap = 2 if t.get("continues_word") else 8
        if x + gap + w > WIDTH - MARGIN and x > MARGIN:
            x, y = MARGIN, y + 30
        else:
            x += gap if x > MARGIN else 0
        bg, fg = (heat(shade.get(t["index"]), kind) if kind and not t.get("special") else (CHIP, "#000000"))
        if t.get("special"):
            bg, fg = "#ffffff", "#888888"
        edge = MASKED if (t["index"] in masked or t.get("typed_mask")) else ("#bbbbbb" if t.get("special") else bg)
        c.parts.append(f'<g class="chip" data-index="{t["index"]}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                       f'height="24" rx="4" fill="{bg}" stroke="{edge}" stroke-width="2"/>'
                       + _text(x + 6, y + 17, label, fill=fg, mono=True) + "</g>")
        x += w
    c.y = y + 34


def _lens(view: dict, c: _Canvas) -> None:
    lens = view.get("lens")
    if not lens:
        return
    kind = lens.get("kind", "")
    c.heading(f"Lens: {kind}")
    c.line(lens.get("caption") or lens.get("note") or "")
    lo, hi = (lens.get("scale") or [0.0, 0.0])[:2]
    steps = [i / 7 for i in range(8)]
    values = [-s for s in reversed(steps[1:])] + steps if lens.get("signed") else steps
    c.parts.append(_text(MARGIN, c.y + 14, _num(lo, ".3f"), fill="#5a5a5a"))
    for i, v in enumerate(values):
        c.parts.append(f'<rect x="{MARGIN + 60 + 16 * i}" y="{c.y + 3}" width="16" height="13" fill="{heat(v, kind)[0]}"/>')
    c.parts.append(_text(MARGIN + 70 + 16 * len(values), c.y + 14, f"{_num(hi, '.3f')} {lens.get('unit', '')}",
                         fill="#5a5a5a"))
    c.y += LINE
    details = lens.get("details") or {}
    if kind == "saliency" and details.get("completeness_gap") is not None:
        c.line(f"integrated gradients: completeness error {100 * details['completeness_gap']:.2f}% "
               f"(sum {_num(details.get('ig_total'))} vs f(input) − f(baseline) "
               f"{_num((details.get('score_input') or 0) - (details.get('score_baseline') or 0))})", weight="bold")


def _bar_row(c: _Canvas, label: str, p: float, value: str, *, color: str = "#2f81f7") -> None:
    c.parts.append(_text(MARGIN + 10, c.y + 14, label, mono=True))
    c.parts.append(f'<rect x="{MARGIN + 200}" y="{c.y + 4}" width="{max(0.0, min(1.0, p)) * 300:.1f}" height="12" '
                   f'rx="2" fill="{color}"/>')
    c.parts.append(_text(MARGIN + 520, c.y + 14, value, mono=True, fill="#5a5a5a"))
    c.y += LINE


def _result(view: dict, c: _Canvas) -> None:
    result = view.get("result")
    if not result:
        return
    c.heading(f"Fill ({result.get('mode')}): {result.get('decoded', '')}")
    for p in result.get("predictions", [])[:6]:
        c.line(f"position {p['position']} · entropy {_num(p.get('entropy'), '.3f')} nats · mass outside "
               f"{_num(p.get('mass_outside'))}", fill="#5a5a5a")
        for cand in p.get("candidates", []):
            _bar_row(c, cand.get("text") or cand.get("token"), cand["probability"], _num(cand["probability"]))


def _kbest(view: dict, c: _Canvas) -> None:
    kb = view.get("k_best")
    if not kb:
        return
    c.heading("K best joint fills, by the masks' PLL")
    c.line(kb.get("description", ""), fill="#5a5a5a")
    for f in kb.get("fills", []):
        c.line(f"{f['rank']:>2}. {' · '.join(f['words'])}    PLL {f['pll']:.3f}", mono=True)
    g = kb.get("greedy") or {}
    where = f"rank {g.get('rank')}" if g.get("rank") is not None else "outside the search"
    c.line(f"most confident first: {' · '.join(g.get('words', []))}, PLL {_num(g.get('pll'), '.3f')}, {where} — "
           + ("they agree" if kb.get("agrees") else "they disagree"),
           fill="#1a7f37" if kb.get("agrees") else "#9a6700")


def _diff(view: dict, c: _Canvas) -> None:
    for d in view.get("diff") or []:
        c.heading(f"Before / after at position {d['position']}: {d['base_top1']['text']} → {d['tuned_top1']['text']}")
        for cand in d.get("candidates", []):
            _bar_row(c, cand["text"], cand["p_tuned"], f"{cand['p_base']:.4f} → {cand['p_tuned']:.4f} "
                     f"({cand['delta']:+.4f})", color="#ff8c1a" if cand["delta"] >= 0 else "#9a9a9a")


def _compare(view: dict, c: _Canvas) -> None:
    compare = view.get("compare")
    if not compare:
        return
    c.heading(f"Compare: {compare.get('text', '')}")
    cols = compare.get("columns", [])
    width = (WIDTH - 2 * MARGIN) / max(1, len(cols))
    top, bottom = c.y, c.y
    for i, col in enumerate(cols):
        x, y = MARGIN + i * width, top
        c.parts.append(_text(x, y + 14, f"{col.get('model')} ({col.get('family')})", weight="bold"))
        y += LINE
        lines = [col["error"]] if col.get("error") else [
            f"{b['index'] + 1}. {b['text']}" + (f"  {b['probability']:.1%}" if b.get("probability") is not None else "")
            for b in col.get("blanks", [])] + [col.get("text", "")]
        for value in lines:
            c.parts.append(_text(x, y + 14, value[:int(width / CHAR)], mono=True))
            y += LINE
        bottom = max(bottom, y)
    c.y = bottom


def _run(view: dict, c: _Canvas) -> None:
    run = view.get("run")
    if not run:
        return
    c.heading(f"Run {run.get('name', '')}")
    for chart in run_charts(run, view.get("probe_history") or []):
        c.parts.append(chart.replace("<svg ", f'<svg x="{MARGIN}" y="{c.y:.0f}" ', 1))
        c.y += 250
