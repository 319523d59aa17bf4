"""Each reader on a real file of its format: the text it gives, the notes it takes, what it refuses."""

from __future__ import annotations

import pytest

from doc_files import HTML_PAGE, PDF_HEADER, PDF_PAGES, make_docx, make_locked_pdf, make_pdf, make_scanned_pdf, write_jsonl
from mlm_explorer.train.data.extract import decode, html_page, pdf, plain, records, word
from mlm_explorer.train.data.extract.base import Notes, ReadOptions, Unreadable
from mlm_explorer.train.data.extract.registry import CSV, DOCX, HTML, JSONL, PDF, TEXT, choose


def read(module_read, path, **options):
    notes = Notes()
    return "".join(module_read(path, ReadOptions(**options), notes)), notes


def test_pdf_text_layer_without_headers_footers_or_line_end_hyphens(tmp_path):
    text, notes = read(pdf.read, make_pdf(tmp_path / "manual.pdf"))
    for body in PDF_PAGES:
        assert body in text
    assert "replacement catalogue" in text and "replace-" not in text  # hyphenation undone
    assert PDF_HEADER not in text and "Page 2 of 4" not in text  # on every page: dropped
    assert text.index(PDF_PAGES[0]) < text.index(PDF_PAGES[3])  # page order kept
    assert notes.pages == 4 and notes.header_lines == 8  # a header and a footer on each of 4 pages


def test_pdf_keeps_a_line_that_opens_only_one_page(tmp_path):
    pages = [f"Chapter {n} begins with a sentence of its own, number {n}." for n in range(1, 4)]
    text, _ = read(pdf.read, make_pdf(tmp_path / "m.pdf", pages))
    assert all(p in text for p in pages)  # long lines that differ only in numbers are not footers


def test_pdf_scanned_encrypted_and_damaged_are_refused_with_reasons(tmp_path):
    with pytest.raises(Unreadable) as scan:
        read(pdf.read, make_scanned_pdf(tmp_path / "scan.pdf", pages=3))
    assert scan.value.reason == "no-text-layer" and "3 page(s)" in scan.value.message and "OCR" in scan.value.message
    with pytest.raises(Unreadable) as locked:
        read(pdf.read, make_locked_pdf(tmp_path / "locked.pdf"))
    assert locked.value.reason == "encrypted" and "password" in locked.value.message
    text, _ = read(pdf.read, make_locked_pdf(tmp_path / "owner.pdf", user_password=None))
    assert "behind the password of the owner" in text  # encrypted, but opens without a password
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(Unreadable) as broken:
        read(pdf.read, tmp_path / "broken.pdf")
    assert broken.value.reason in ("unreadable", "empty")


def test_html_gives_visible_text_in_paragraphs(tmp_path):
    (tmp_path / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    text, _ = read(html_page.read, tmp_path / "page.html")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert paragraphs[:3] == ["Caring for roses", "Roses need & love full sun and regular water.",
                              "Prune them in early spring.\nFeed them in May."]
    assert "Mulch the roots" in paragraphs and "Water at dawn" in paragraphs
    assert "def water(rose):\n    rose.drink()" in text  # <pre> keeps its lines and indent
    for noise in ("script text", "color: red", "Home", "Shop navigation", "Site banner", "Breadcrumb",
                  "hidden promotional", "sidebar", "Copyright", "Roses</title>", "Roses\n"):
        assert noise not in text, noise


def test_html_charset_from_meta_and_streamed_in_pieces(tmp_path, monkeypatch):
    page = '<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 cr\xe8me</p>' + \
           "".join(f"<p>Paragraph number {i} of a long page.</p>" for i in range(300)) + "</body></html>"
    (tmp_path / "old.htm").write_bytes(page.encode("cp1252"))
    monkeypatch.setattr(html_page, "CHUNK_BYTES", 512)
    notes = Notes()
    pieces = list(html_page.read(tmp_path / "old.htm", ReadOptions(), notes))
    assert len(pieces) > 10  # parsed as read, not held whole
    text = "".join(pieces)
    assert text.startswith("Café crème\n\n") and "Paragraph number 299 of a long page." in text
    assert notes.replaced_bytes == 0 and text.count("Paragraph number") == 300


def test_docx_body_paragraphs_and_tables_not_the_page_header(tmp_path):
    text, _ = read(word.read, make_docx(tmp_path / "report.docx"))
    assert text.split("\n\n")[:5] == ["Quarterly report", "Sales grew by ten percent in the north region.",
                                      "Region\nGrowth", "North\nten percent", "The south region stayed flat this quarter."]
    assert "CONFIDENTIAL" not in text
    (tmp_path / "locked.docx").write_bytes(word.OLE_MAGIC + b"\0" * 512)  # what Word writes with a password
    with pytest.raises(Unreadable) as locked:
        read(word.read, tmp_path / "locked.docx")
    assert locked.value.reason == "encrypted"


def test_jsonl_field_dotted_field_and_what_it_counts(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        {"id": 1, "text": "First record text.", "meta": {"body": "Nested one."}},
        "not json at all", [1, 2],
        {"id": 2, "text": "  "}, {"id": 3, "text": "Second record\nhas two lines."},
    ])
    text, notes = read(records.read_jsonl, path)
    assert text == "First record text.\n\nSecond record\nhas two lines.\n\n"
    assert (notes.records, notes.records_without_text, notes.bad_records) == (2, 1, 2)
    nested, _ = read(records.read_jsonl, path, text_field="meta.body")
    assert nested == "Nested one.\n\n"
    with pytest.raises(Unreadable) as missing:
        read(records.read_jsonl, path, text_field="body")
    assert missing.value.reason == "no-text-field" and "--text-field" in missing.value.message
    assert "fields: id, text, meta" in missing.value.message


def test_csv_column_by_name_quoted_newlines_and_tsv(tmp_path):
    (tmp_path / "t.csv").write_text('id,Text,score\n1,"A row, with a comma.",3\n2,"Two\nlines",4\n3,,5\n', encoding="utf-8")
    text, notes = read(records.read_csv, tmp_path / "t.csv")
    assert text == "A row, with a comma.\n\nTwo\nlines\n\n" and notes.records == 2 and notes.records_without_text == 1
    (tmp_path / "t.tsv").write_text("id\tbody\n1\tTab separated text.\n", encoding="utf-8")
    with pytest.raises(Unreadable) as missing:
        read(records.read_csv, tmp_path / "t.tsv")
    assert "fields: id, body" in missing.value.message
    assert read(records.read_csv, tmp_path / "t.tsv", text_field="body")[0] == "Tab separated text.\n\n"
    (tmp_path / "one.csv").write_text("sentence\nOnly column here.\n", encoding="utf-8")
    assert read(records.read_csv, tmp_path / "one.csv")[0] == "Only column here.\n\n"


def test_plain_text_encodings_and_replaced_bytes(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Café crème brûlée.\n".encode("cp1252"))
    text, notes = read(plain.read, tmp_path / "latin.txt")
    assert text == "Café crème brûlée.\n" and notes.encoding == "cp1252" and "read as cp1252" in notes.describe()
    (tmp_path / "u16.txt").write_bytes("Zwölf Boxkämpfer.\n".encode("utf-16"))
    assert read(plain.read, tmp_path / "u16.txt")[0] == "Zwölf Boxkämpfer.\n"
    (tmp_path / "bad.txt").write_bytes("héllo wörld\n".encode() + b"bad \xff\xfe bytes\n")
    text, notes = read(plain.read, tmp_path / "bad.txt")
    assert "bad \ufffd\ufffd bytes" in text and notes.replaced_bytes == 2 and notes.encoding == "utf-8"
    assert any("decode errors replaced" in n for n in notes.describe())


def test_decoding_streams_without_splitting_characters(tmp_path):
    line = "h\u00e9llo w\u00f6rld \u2603\n"
    (tmp_path / "t.txt").write_bytes(("\ufeff" + line * 200).encode())
    notes = Notes()
    pieces = list(decode.read_text_chunks(tmp_path / "t.txt", notes, chunk_bytes=7))
    assert len(pieces) > 50 and all(p.endswith("\n") for p in pieces)
    assert "".join(pieces) == line * 200 and notes.replaced_bytes == 0  # BOM dropped, nothing broken


def test_registry_by_suffix_then_by_first_bytes(tmp_path):
    make_pdf(tmp_path / "manual.download")
    make_docx(tmp_path / "report.bin")
    (tmp_path / "saved").write_text(HTML_PAGE)
    (tmp_path / "notes.xyz").write_text("plain words")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tmp_path / "old.doc").write_bytes(word.OLE_MAGIC + b"\0" * 64)
    (tmp_path / "fake.txt").write_bytes(b"text\0with NUL")
    (tmp_path / "empty.md").write_text("")
    assert choose(tmp_path / "manual.download", named=False) is PDF
    assert choose(tmp_path / "report.bin", named=False) is DOCX
    assert choose(tmp_path / "saved", named=False) is HTML
    assert choose(tmp_path / "notes.xyz", named=True) is TEXT  # named by the user: read as text
    assert (choose(tmp_path / "a.jsonl", named=False) if (tmp_path / "a.jsonl").write_text("{}") else None) is JSONL
    assert (choose(tmp_path / "a.csv", named=False) if (tmp_path / "a.csv").write_text("a") else None) is CSV
    for name, reason, words in [("notes.xyz", "unsupported", "name the file itself"), ("pic.png", "binary", ".png"),
                                ("old.doc", "unsupported", "save it as .docx"), ("fake.txt", "binary", "NUL"),
                                ("empty.md", "empty", "empty")]:
        with pytest.raises(Unreadable) as refused:
            choose(tmp_path / name, named=False)
        assert refused.value.reason == reason and words in refused.value.message, name


def test_a_missing_library_is_reported_with_its_install_command(tmp_path, monkeypatch):
    import sys

    pdf_path = make_pdf(tmp_path / "m.pdf")
    docx_path = make_docx(tmp_path / "r.docx")
    monkeypatch.setitem(sys.modules, "pypdf", None)  # import pypdf -> ImportError
    monkeypatch.setitem(sys.modules, "docx", None)
    for module_read, path, command in ((pdf.read, pdf_path, "pip install pypdf"),
                                       (word.read, docx_path, "pip install python-docx")):
        with pytest.raises(Unreadable) as missing:
            read(module_read, path)
        assert missing.value.reason == "needs-extra" and command in missing.value.message
