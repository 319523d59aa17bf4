"""Real documents of each format, written by the libraries that make them (tests' helpers).

A PDF by fpdf2 (a text layer, a running header, page numbers, a word hyphenated at a line
end), a scanned PDF (a drawing, no text), a password-protected PDF, a Word file by
python-docx (a heading, paragraphs, a table, a page header), an HTML page full of script,
style and navigation noise, JSON lines and CSV.
"""

from __future__ import annotations

import json
from pathlib import Path

PDF_PAGES = [
    "The pump draws water from the lower tank and lifts it to the roof.",
    "Service the pump every month and check the seals for any leaks.",
    "Always disconnect the power before you open the housing of the unit.",
    "A well kept pump runs for many years without trouble of any kind.",
]
PDF_HEADER = "ACME Pump Manual"


def make_pdf(path: Path, pages: list[str] = PDF_PAGES) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    nl = dict(new_x="LMARGIN", new_y="NEXT")
    for n, body in enumerate(pages, 1):
        pdf.add_page()
        pdf.cell(0, 8, PDF_HEADER, **nl)
        pdf.multi_cell(0, 6, f"Spare parts for model {n} are listed in the replace-", **nl)
        pdf.multi_cell(0, 6, f"ment catalogue, section {n}.", **nl)
        pdf.multi_cell(0, 6, body, **nl)
        pdf.set_y(-20)
        pdf.cell(0, 8, f"Page {n} of {len(pages)}", align="C")
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 120, 80, style="F")  # what a scan has: marks, no text
    pdf.output(str(path))
    return path


def make_locked_pdf(path: Path, *, user_password: str | None = "secret") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 8, "This text sits behind the password of the owner.")
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Quarterly report", 1)
    d.add_paragraph("Sales grew by ten percent in the north region.")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Region", (0, 1): "Growth", (1, 0): "North", (1, 1): "ten percent"}.items():
        table.cell(r, c).text = text
    d.add_paragraph("The south region stayed flat this quarter.")
    d.sections[0].header.paragraphs[0].text = "CONFIDENTIAL running header"
    d.save(str(path))
    return path


HTML_PAGE = """<!doctype html>
<html><head><title>Roses</title><meta charset="utf-8">
<style>p { color: red }</style><script>var tracking = "script text";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/shop">Shop navigation</a></nav>
<header>Site banner text</header>
<div role="navigation">Breadcrumb trail</div>
<main>
<h1>Caring for roses</h1>
<p>Roses need &amp; love <b>full</b> sun
   and regular water.</p>
<p>Prune them in early spring.<br>Feed them in May.</p>
<div hidden>hidden promotional text</div>
<ul><li>Mulch the roots</li><li>Water at dawn</li></ul>
<pre>def water(rose):
    rose.drink()</pre>
</main>
<aside>Related articles sidebar</aside>
<footer>Copyright 2024 Example Inc. All rights reserved.</footer>
<script>alert("more script text")</script>
</body></html>
"""


def write_jsonl(path: Path, records: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path
