"""One self-contained HTML page of a view: no script, no stylesheet or font to fetch, no network.

The page carries its style inline and a Content-Security-Policy that forbids every load
(`default-src 'none'`), so it opens the same in any browser, offline, and cannot call home.
Sections appear for what the view holds (the app's export dict, or `report/views.py`):

    tokens        the chips, coloured by the active lens (surprisal, attention, saliency), masks marked
    lens          its caption, scale and numbers (saliency: the completeness error of integrated gradients)
    result        each mask's distribution as bars, entropy, mass outside the top-k; the decode
    k_best        the k best joint fills by PLL beside the most-confident-first fill
    diff          before / after: both models' probabilities and the change per candidate
    candidates    the candidate box: given words' scores, the best fills of 1-3 pieces
    compare       one column per model, the same blanks
    probe_history the probes at the last evaluation
    run           loss, probe and forgetting-meter curves (inline SVG, report/plot.py)
"""

from __future__ import annotations

import html
import math
from typing import Any

from mlm_explorer.report.colors import CHIP, MASKED, heat
from mlm_explorer.report.plot import run_charts

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1b1b1b;
       background: #ffffff; max-width: 72rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; }
.meta, .note { color: #5a5a5a; font-size: .9rem; }
.tokens { line-height: 2.4; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.chip { display: inline-block; padding: .1rem .45rem; margin: .1rem .12rem; border-radius: .3rem;
        background: %(chip)s; border: 2px solid transparent; }
.chip.cont { margin-left: -.1rem; } .chip.cont::before { content: "·"; color: #888; margin-right: .15rem; }
.chip.special { color: #888; background: transparent; border: 1px dashed #bbb; }
.chip.masked { border-color: %(masked)s; font-weight: 600; }
.chip.anchor { outline: 2px solid #1b1b1b; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { padding: .2rem .6rem; text-align: left; border-bottom: 1px solid #e4e4e4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .7rem; background: #2f81f7; border-radius: .15rem; }
.bar.neg { background: #c2185b; } .bar.base { background: #9a9a9a; }
.agree { color: #1a7f37; } .disagree { color: #9a6700; }
.columns { display: flex; gap: 1.2rem; flex-wrap: wrap; } .column { flex: 1 1 16rem; }
.scale { display: inline-block; width: 1rem; height: .8rem; vertical-align: middle; }
""" % {"chip": CHIP, "masked": MASKED}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, spec: str = ".4f") -> str:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return format(value, spec)
    return "–"


def _bar(fraction: float, cls: str = "", width_rem: float = 10.0) -> str:
    fraction = max(0.0, min(1.0, float(fraction or 0.0)))
    return f'<span class="bar {cls}" style="width:{fraction * width_rem:.2f}rem"></span>'


def render_html(view: dict) -> str:
    """The page for `view` (see the module doc); a complete document, UTF-8."""
    model = (view.get("model") or {}).get("name") or view.get("model_name") or "?"
    title = view.get("title") or "mlm-explorer"
    parts = [f"<h1>{_e(title)}</h1>",
             f'<p class="meta">model <b>{_e(model)}</b>'
             + (f" · text: {_e(view.get('text'))}" if view.get("text") else "") + "</p>"]
    for section in (_tokens, _lens, _result, _kbest, _diff, _candidates, _compare, _probes, _run):
        parts.append(section(view))
    body = "\n".join(p for p in parts if p)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)} · {_e(model)}</title><style>{STYLE}</style></head>"
            f"<body>\n{body}\n<p class=\"note\">Exported by mlm-explorer: one file, nothing fetched.</p>"
            "</body></html>\n")


# ---------------------------------------------------------------------------------------------
# Sections


def _tokens(view: dict) -> str:
    tokens = view.get("tokens") or []
    if not tokens:
        return ""
    lens = view.get("lens") or {}
    kind = lens.get("kind")
    shade = {t["index"]: t.get("intensity") for t in lens.get("tokens", [])}
    values = {t["index"]: t.get("value") for t in lens.get("tokens", [])}
    masked = set(view.get("masked_positions") or [])
    chips = []
    for t in tokens:
        classes = ["chip"]
        if t.get("special"):
            classes.append("special")
        elif t.get("continues_word"):
            classes.append("cont")
        if t["index"] in masked or t.get("typed_mask"):
            classes.append("masked")
        if lens.get("anchor") == t["index"]:
            classes.append("anchor")
        style = ""
        if kind and t["index"] in shade and not t.get("special"):
            bg, fg = heat(shade[t["index"]], kind)
            style = f' style="background:{bg};color:{fg}"'
        tip = f' title="{_e(kind)} {_num(values[t["index"]])} {_e(lens.get("unit"))}"' if t["index"] in values else ""
        chips.append(f'<span class="{" ".join(classes)}" data-index="{t["index"]}"{style}{tip}>{_e(t["text"])}</span>')
    return '<h2>Tokens</h2><div class="tokens" id="tokens">' + "".join(chips) + "</div>"


def _lens(view: dict) -> str:
    lens = view.get("lens")
    if not lens:
        return ""
    kind = lens.get("kind", "")
    lo, hi = (lens.get("scale") or [0.0, 0.0])[:2]
    steps = [i / 7 for i in range(8)]
    swatches = "".join(f'<span class="scale" style="background:{heat(v, kind)[0]}"></span>'
                       for v in ([-s for s in reversed(steps[1:])] + steps if lens.get("signed") else steps))
    out = [f"<h2>Lens: {_e(kind)}</h2>", f"<p>{_e(lens.get('caption') or lens.get('note'))}</p>",
           f'<p class="meta">scale {_num(lo, ".3f")} {swatches} {_num(hi, ".3f")} {_e(lens.get("unit"))}</p>']
    details = lens.get("details") or {}
    if kind == "saliency" and details.get("completeness_gap") is not None:
        out.append(f"<p>integrated gradients: sum {_num(details.get('ig_total'))} vs f(input) − f(baseline) = "
                   f"{_num(details.get('score_input'))} − {_num(details.get('score_baseline'))}; "
                   f"<b>completeness error {_num(100 * details['completeness_gap'], '.2f')}%</b> "
                   f"({_e(details.get('steps'))} steps, baseline {_e(details.get('baseline'))})</p>")
    if kind == "surprisal" and details.get("pll") is not None:
        out.append(f"<p>{_e(details.get('pll_variant', 'PLL'))}: PLL {_num(details['pll'], '.3f')} nats, "
                   f"pseudo-perplexity {_num(details.get('pseudo_perplexity'), '.2f')}</p>")
    rows = "".join(f"<tr><td class=num>{t['index']}</td><td>{_e(t.get('text'))}</td>"
                   f"<td class=num>{_num(t.get('value'))}</td><td class=num>{_num(t.get('intensity'), '.3f')}</td></tr>"
                   for t in lens.get("tokens", []))
    if rows:
        out.append(f"<table><tr><th class=num>#</th><th>token</th><th class=num>{_e(lens.get('unit'))}</th>"
                   f"<th class=num>intensity</th></tr>{rows}</table>")
    return "\n".join(out)


def _distribution(prediction: dict, original: str = "") -> str:
    rows = "".join(f"<tr><td class=num>{i}</td><td>{_e(c.get('text') or c.get('token'))}</td>"
                   f"<td class=num>{_num(c['probability'])}</td><td>{_bar(c['probability'])}</td></tr>"
                   for i, c in enumerate(prediction.get("candidates", []), 1))
    head = f"<h3>position {prediction['position']}" + (f" (original <code>{_e(original)}</code>, rank "
                                                      f"{_e(prediction.get('original_rank'))})" if original else "")
    return (f"{head}</h3><table class=dist><tr><th class=num>#</th><th>candidate</th><th class=num>p</th><th></th></tr>"
            f"{rows}</table><p class=meta>entropy {_num(prediction.get('entropy'), '.3f')} nats · mass outside "
            f"the top-k {_num(prediction.get('mass_outside'))}</p>")


def _result(view: dict) -> str:
    result = view.get("result")
    if not result:
        return ""
    text = {t["index"]: t["text"] for t in view.get("tokens") or []}
    parts = [f"<h2>Fill ({_e(result.get('mode'))})</h2>", f"<p><b>{_e(result.get('decoded'))}</b></p>"]
    for p in result.get("predictions", []):
        original = text.get(p["position"], "") if p.get("original_id") is not None else ""
        parts.append(_distribution(p, original))
    return "\n".join(parts)


def _kbest(view: dict) -> str:
    kb = view.get("k_best")
    if not kb:
        return ""
    blanks = len(kb.get("words", []))
    head = "".join(f"<th>blank {i + 1}</th>" for i in range(blanks))
    rows = "".join(
        f"<tr><td class=num>{f['rank']}</td>" + "".join(f"<td>{_e(w)}</td>" for w in f["words"])
        + f"<td class=num>{_num(f['pll'], '.3f')}</td><td class=num>"
        + " ".join(_num(v, ".2f") for v in f["logprobs"]) + "</td></tr>" for f in kb.get("fills", []))
    greedy = kb.get("greedy") or {}
    where = f"rank {greedy.get('rank')}" if greedy.get("rank") is not None else "outside the search"
    verdict = ('<p class="agree">the most-confident-first fill is the best by PLL</p>' if kb.get("agrees")
               else '<p class="disagree">the most-confident-first fill and the best by PLL disagree</p>')
    return (f"<h2>K best joint fills, by the masks' PLL</h2><p class=meta>{_e(kb.get('description'))}</p>"
            f"<table><tr><th class=num>#</th>{head}<th class=num>PLL</th><th class=num>log p per mask</th></tr>"
            f"{rows}</table><p>most confident first: <b>{_e(' · '.join(greedy.get('words', [])))}</b>, PLL "
            f"{_num(greedy.get('pll'), '.3f')}, {where}</p>{verdict}")


def _diff(view: dict) -> str:
    diffs = view.get("diff")
    if not diffs:
        return ""
    tuned = (view.get("model") or {}).get("name", "tuned")
    out = [f"<h2>Before / after: {_e(view.get('base_model') or 'base')} → {_e(tuned)}</h2>"]
    for d in diffs:
        rows = "".join(
            f"<tr><td>{_e(c['text'])}</td><td class=num>{_num(c['p_base'])}</td><td>{_bar(c['p_base'], 'base', 6)}</td>"
            f"<td class=num>{_num(c['p_tuned'])}</td><td>{_bar(c['p_tuned'], '', 6)}</td>"
            f"<td class=num>{_num(c['delta'], '+.4f')}</td><td class=num>{c['rank_base']}</td>"
            f"<td class=num>{c['rank_tuned']}</td></tr>" for c in d.get("candidates", []))
        out.append(f"<h3>position {d['position']}: {_e(d['base_top1']['text'])} → {_e(d['tuned_top1']['text'])}, "
                   f"KL {_num(d.get('kl'))} nats</h3><table><tr><th>candidate</th><th class=num>p base</th><th></th>"
                   f"<th class=num>p tuned</th><th></th><th class=num>Δ</th><th class=num>rank base</th>"
                   f"<th class=num>rank tuned</th></tr>{rows}</table>")
    return "\n".join(out)


def _candidates(view: dict) -> str:
    cand = view.get("candidates")
    if not cand:
        return ""
    out = [f"<h2>Candidates at position {_e(cand.get('position'))}</h2>"]
    if cand.get("scores"):
        out.append("<table><tr><th>word</th><th>pieces</th><th class=num>p</th><th class=num>rank</th></tr>" + "".join(
            f"<tr><td>{_e(s['word'])}</td><td><code>{_e(' '.join(s['pieces']))}</code></td>"
            f"<td class=num>{_num(s['probability'], '.3g')}</td><td class=num>{_e(s['rank'] or '–')}</td></tr>"
            for s in cand["scores"]) + "</table>")
    if cand.get("fills"):
        out.append("<table><tr><th>fill</th><th>pieces</th><th class=num>log p / piece</th></tr>" + "".join(
            f"<tr><td>{_e(f['text'])}</td><td><code>{_e(' '.join(f['pieces']))}</code></td>"
            f"<td class=num>{_num(f['normalized_logprob'])}</td></tr>" for f in cand["fills"]) + "</table>")
    return "\n".join(out)


def _compare(view: dict) -> str:
    compare = view.get("compare")
    if not compare:
        return ""
    cols = []
    for col in compare.get("columns", []):
        if col.get("error"):
            inner = f"<p class=note>{_e(col['error'])}</p>"
        else:
            inner = ("<table><tr><th>blank</th><th>fill</th><th class=num>p</th></tr>" + "".join(
                f"<tr><td class=num>{b['index'] + 1}</td><td>{_e(b['text'])}</td>"
                f"<td class=num>{_num(b.get('probability'), '.1%') if b.get('probability') is not None else '–'}</td></tr>"
                for b in col.get("blanks", [])) + f"</table><p>{_e(col.get('text'))}</p>"
                f"<p class=meta>{_e(col.get('note'))}</p>")
        cols.append(f'<div class="column"><h3>{_e(col.get("model"))} <span class=meta>({_e(col.get("family"))})'
                    f"</span></h3>{inner}</div>")
    return f"<h2>Compare: {_e(compare.get('text'))}</h2><div class=columns>{''.join(cols)}</div>"


def _probes(view: dict) -> str:
    history = view.get("probe_history") or []
    if not history:
        return ""
    last = history[-1]
    rows = "".join(f"<tr><td>{_e(r['text'])}</td><td>{_e(r['answer'])}</td><td class=num>{r['rank']}</td>"
                   f"<td class=num>{_num(r['probability'])}</td></tr>" for r in last.get("results", []))
    return (f"<h2>Probes at step {last['step']}</h2><table><tr><th>probe</th><th>answer</th><th class=num>rank</th>"
            f"<th class=num>p</th></tr>{rows}</table>")


def _run(view: dict) -> str:
    run = view.get("run")
    if not run:
        return ""
    charts = run_charts(run, view.get("probe_history") or [])
    return f"<h2>Run {_e(run.get('name'))}</h2>" + "".join(f"<figure>{svg}</figure>" for svg in charts)
