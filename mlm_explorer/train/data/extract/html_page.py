"""HTML: the text a reader of the page sees, in paragraphs (the standard library's html.parser).

Dropped: the <head>, scripts, styles, templates, forms, SVG and the page's furniture
(<nav>, <header>, <footer>, <aside>, role="navigation" / "banner" / "contentinfo",
hidden elements). Block elements (p, div, li, h1-h6, tr, br, ...) end a paragraph, so the
page's structure survives into sentence pairs; white space inside a paragraph is collapsed,
except in <pre>. The charset comes from a byte-order mark, else a <meta charset> in the
first 4 KiB, else UTF-8 (decode.py). The page is parsed as it is read, in pieces.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from mlm_explorer.train.data.extract.base import Notes, ReadOptions
from mlm_explorer.train.data.extract.decode import CHUNK_BYTES, Decoder, guess_encoding, has_bom

NAME = "html"
VERSION = 1
CACHE_TEXT = True
SUFFIXES = {".html", ".htm", ".xhtml"}

SKIP = {"head", "script", "style", "noscript", "template", "svg", "math", "nav", "header", "footer", "aside",
        "form", "button", "select", "textarea", "iframe", "object", "canvas", "dialog", "menu"}
SKIP_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar", "toolbar"}
BLOCK = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
         "h5", "h6", "blockquote", "pre", "table", "tr", "hr", "figure", "figcaption", "caption",
         "address", "details", "summary", "body", "html"}
CELL = {"td", "th"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_SPACE = re.compile(r"\s+")


def sniff(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    return start.startswith((b"<!doctype html", b"<html")) or (b"<html" in start and b"<body" in head.lower())


class VisibleText(HTMLParser):
    """Collects visible text; `take()` returns the paragraphs finished so far."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[str] = []  # open elements that hide their content
        self._pre = 0
        self._words: list[str] = []  # the paragraph being built
        self._done: list[str] = []

    def _hidden(self, tag: str, attrs) -> bool:
        a = dict(attrs)
        return (tag in SKIP or (a.get("role") or "").lower() in SKIP_ROLES or "hidden" in a
                or (a.get("aria-hidden") or "").lower() == "true"
                or "display:none" in (a.get("style") or "").replace(" ", "").lower())

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            self._void(tag)
            return
        if self._stack or self._hidden(tag, attrs):
            self._stack.append(tag)
            return
        if tag in BLOCK:
            self._break()
        if tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag, attrs):
        self._void(tag)

    def _void(self, tag):
        if self._stack:
            return
        if tag == "br":
            self._line()  # a line break inside the paragraph
        elif tag in BLOCK:
            self._break()

    def handle_endtag(self, tag):
        if self._stack:
            if tag in self._stack:  # close up to the matching element (tolerates unclosed children)
                while self._stack and self._stack.pop() != tag:
                    pass
            return
        if tag in BLOCK:
            self._break()  # before leaving <pre>: its last line keeps its indent
        elif tag in CELL:
            self._words.append(" ")
        if tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data):
        if self._stack:
            return
        if self._pre:
            for i, line in enumerate(data.split("\n")):
                if i:
                    self._line()
                self._words.append(line)
        else:
            self._words.append(data)

    def _line(self):
        raw = "".join(self._words)
        text = raw.rstrip() if self._pre and raw.strip() else _SPACE.sub(" ", raw).strip()
        if text:
            self._done.append(text + "\n")
        self._words = []

    def _break(self):
        self._line()
        if self._done and self._done[-1] != "\n":
            self._done.append("\n")  # a blank line: the paragraph ends

    def take(self, final: bool = False) -> str:
        if final:
            self.close()
            self._line()
        out, self._done = "".join(self._done), []
        return out


def read(path: Path, options: ReadOptions, notes: Notes) -> Iterator[str]:
    parser = VisibleText()
    with open(path, "rb") as f:
        data = f.read(CHUNK_BYTES)
        encoding = guess_encoding(data[:64 * 1024])
        if not has_bom(data):
            m = _META_CHARSET.search(data[:4096])
            if m:
                encoding = _known_codec(m.group(1).decode("ascii"), encoding)
        decoder = Decoder(encoding, notes)
        while data:
            parser.feed(decoder.decode(data))
            text = parser.take()
            if text:
                yield text
            data = f.read(CHUNK_BYTES)
        parser.feed(decoder.decode(b"", final=True))
    text = parser.take(final=True)
    if text:
        yield text


def _known_codec(name: str, fallback: str) -> str:
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return fallback
