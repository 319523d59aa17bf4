"""Offline exports (report/): every view as one self-contained HTML page and one SVG picture.

A plain parse checks that neither references anything outside itself; a real headless chromium
(tests/browser.py, skipped where none is installed) opens the page, which must lay out the
token chips in the lens's colours and ask the network for nothing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from browser import chromium, open_page

FETCHING_TAGS = {"script", "link", "iframe", "frame", "object", "embed", "base", "img", "audio", "video", "source",
                 "track", "image", "use", "foreignobject", "feimage", "picture"}
REFERENCE_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background", "ping",
                   "manifest", "{http://www.w3.org/1999/xlink}href", "xlink:href"}


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_style = False
        self.csp = None

    def handle_starttag(self, tag, attrs):
        self._check(tag, dict(attrs))
        self.in_style = tag == "style"
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "content-security-policy":
            self.csp = dict(attrs).get("content")

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self._css(data, "<style>")

    def _check(self, tag, attrs):
        if tag.lower() in FETCHING_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.lower() in REFERENCE_ATTRS and not str(value).startswith(("#", "data:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name.lower() == "style":
                self._css(str(value), f"<{tag} style>")

    def _css(self, text, where):
        lowered = text.lower()
        for needle in ("url(", "@import", "@font-face", "image-set("):
            if needle in lowered:
                self.problems.append(f"{needle} in {where}")


def html_references(page: str) -> tuple[list[str], str | None]:
    parser = _Refs()
    parser.feed(page)
    return parser.problems, parser.csp


def svg_references(picture: str) -> list[str]:
    root = ET.fromstring(picture)   # also: the picture is well-formed XML
    parser = _Refs()
    for element in root.iter():
        tag = element.tag.split("}")[-1]
        parser._check(tag, element.attrib)
        if tag == "style" and element.text:
            parser._css(element.text, "<style>")
    return parser.problems


# ---------------------------------------------------------------------------------------------
# Views from real core results on the tiny model


@pytest.fixture(scope="module")
def views(tiny_lm, tiny_bert_dir, tmp_path_factory):
    from tiny import build_tiny_bert

    from mlm_explorer.core.explain.attention import attention
    from mlm_explorer.core.explain.saliency import saliency
    from mlm_explorer.core.infer.diff import diff_text
    from mlm_explorer.core.infer.fill import predict
    from mlm_explorer.core.infer.kbest import kbest_text
    from mlm_explorer.core.infer.score import score_text
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.core.mask.text import tokenize
    from mlm_explorer.report import views as v

    lm, model = tiny_lm, tiny_lm.to_dict()
    two = "The cute [MASK] walks in the [MASK] park."
    tt = tokenize(lm.tokenizer, two)
    tuned = load_mlm(str(build_tiny_bert(tmp_path_factory.mktemp("tuned"), seed=1)), device="cpu")
    split = "Unbelievable tokenizers split words."
    run_json = {"model": "tiny", "history": {"step": [{"step": s, "loss": 5 - s / 10} for s in range(1, 21)],
                                             "eval": [{"step": 10, "loss": 4.2}, {"step": 20, "loss": 3.9}]},
                "forgetting_history": [{"step": s, "top1": t1, "top5": t5, "mean_rank": r, "n": 4}
                                       for s, t1, t5, r in ((0, 0.25, 0.5, 12.0), (10, 0.25, 0.5, 14.0),
                                                            (20, 0.0, 0.25, 30.0))],
                "probe_history": [{"step": s, "results": [{"text": "Paris is the [MASK] of France.", "answer": "capital",
                                                           "rank": r, "probability": p, "top3": []}]}
                                  for s, r, p in ((0, 40, 0.01), (10, 9, 0.05), (20, 2, 0.3))]}
    return {
        "predict": v.predict_view(model, tt, predict(lm, two), kbest_text(lm, two, k=3, top_n=5)),
        "score": v.score_view(model, tokenize(lm.tokenizer, split), score_text(lm, split)),
        "attention": v.attention_view(model, attention(lm, two, 3)),
        "saliency": v.saliency_view(model, saliency(lm, two, steps=8)),
        "diff": v.diff_view(model, tuned.to_dict(), tt, diff_text(lm, tuned, two)),
        "run": v.run_view("run-1", run_json),
    }


def test_every_view_references_nothing_outside_itself(views):
    from mlm_explorer.report.html import CSP, render_html
    from mlm_explorer.report.svg import render_svg

    for name, view in views.items():
        page = render_html(view)
        problems, csp = html_references(page)
        assert problems == [], (name, problems)
        assert csp == CSP and "default-src 'none'" in csp
        assert svg_references(render_svg(view)) == [], name
        for t in view.get("tokens") or []:
            assert f'data-index="{t["index"]}"' in page


def test_the_checker_is_not_vacuous():
    assert html_references('<p style="background: url(x.png)">x</p><img src="https://e.org/a.png">')[0] == [
        "url( in <p style>", "<img>", "<img src='https://e.org/a.png'>"]
    assert svg_references('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                          '<image xlink:href="http://e.org/a.png"/></svg>') != []


def test_sections_carry_the_numbers(views):
    from mlm_explorer.report.html import render_html
    from mlm_explorer.report.svg import render_svg

    kb = views["predict"]["k_best"]
    page = render_html(views["predict"])
    assert "K best joint fills" in page and f"{kb['fills'][0]['pll']:.3f}" in page
    saliency = views["saliency"]["lens"]["details"]
    for render in (render_html, render_svg):
        out = render(views["saliency"])
        assert "completeness error" in out and f"{100 * saliency['completeness_gap']:.2f}%" in out
    assert "word-l2r" in render_html(views["score"])
    diff_page = render_html(views["diff"])
    assert "Before / after" in diff_page and "KL" in diff_page
    run_page = render_html(views["run"])
    assert run_page.count("<svg") == 4   # loss, probes, forgetting top-1/top-5, mean rank
    assert "forgetting meter" in run_page and "held-out loss" in run_page


@pytest.mark.skipif(chromium() is None, reason="no chromium installed (Debian: apt-get install chromium)")
def test_a_real_browser_renders_the_page_offline(views, tmp_path):
    from mlm_explorer.report.colors import heat
    from mlm_explorer.report.html import render_html

    view = dict(views["saliency"])   # the saliency lens's colours on the chips, and the rest beside them
    for key in ("result", "k_best"):
        view[key] = views["predict"][key]
    view["diff"], view["run"], view["probe_history"] = views["diff"]["diff"], views["run"]["run"], \
        views["run"]["probe_history"]
    page = tmp_path / "view.html"
    page.write_text(render_html(view), encoding="utf-8")
    probe = """JSON.stringify({
      chips: [...document.querySelectorAll('#tokens .chip')].map(c => {
        const r = c.getBoundingClientRect();
        return {index: +c.dataset.index, text: c.textContent, w: r.width, h: r.height,
                bg: getComputedStyle(c).backgroundColor};
      }),
      charts: document.querySelectorAll('svg polyline').length,
      bars: [...document.querySelectorAll('.bar')].filter(b => b.getBoundingClientRect().width > 0).length,
    })"""
    requests, value = open_page(page, probe)
    assert requests == []
    shown = json.loads(value)
    tokens = view["tokens"]
    assert [c["text"] for c in shown["chips"]] == [t["text"] for t in tokens]
    assert all(c["w"] > 0 and c["h"] > 0 for c in shown["chips"])
    shade = {t["index"]: t["intensity"] for t in view["lens"]["tokens"]}
    for chip, token in zip(shown["chips"], tokens):
        if token["special"] or shade.get(token["index"]) is None:
            continue
        bg = heat(shade[token["index"]], "saliency")[0]
        assert chip["bg"] == "rgb({}, {}, {})".format(*(int(bg[i:i + 2], 16) for i in (1, 3, 5)))
    assert shown["charts"] >= 4 and shown["bars"] > 0
    # the detector sees a page that does fetch (no CSP, an image from the network)
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><p>x</p></body></html>')
    assert open_page(leaky, "1")[0] == ["http://127.0.0.1:9/x.png"]
