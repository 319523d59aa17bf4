"""A folder as people have it: every file used or skipped with a reason, duplicates and repeated
lines counted and dropped, extraction and tokens cached so a second run reads nothing again."""

from __future__ import annotations

import numpy as np
import pytest

from doc_files import HTML_PAGE, make_docx, make_pdf, make_scanned_pdf, write_jsonl
from mlm_explorer.errors import InputError
from mlm_explorer.train.data import token_cache
from mlm_explorer.train.data.extract import pdf, registry
from mlm_explorer.train.data.extract.base import ReadOptions
from mlm_explorer.train.data.extract.collect import collect, require_documents

LICENCE = "Licensed under the Apache License, Version 2.0 (the License);"


@pytest.fixture(scope="module")
def bert_tok(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert_dir))


def _folder(tmp_path):
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / ".git").mkdir()
    (docs / ".git" / "config").write_text("hidden\n")
    (docs / ".DS_Store").write_bytes(b"\0\0")
    (docs / "notes.txt").write_text(f"{LICENCE}\nThe cute dog walks in the green park.\n")
    (docs / "sub" / "more.md").write_text(f"# More\n\n{LICENCE}\nParis is the capital of France.\n")
    (docs / "sub" / "copy.txt").write_text(f"{LICENCE}\nThe cute dog walks in the green park.\n")  # = notes.txt
    (docs / "page.html").write_text(HTML_PAGE)
    make_pdf(docs / "manual.pdf")
    make_scanned_pdf(docs / "scan.pdf")
    make_docx(docs / "report.docx")
    write_jsonl(docs / "records.jsonl", [{"text": "Berlin is the capital of Germany."}])
    (docs / "script.py").write_text("print('a source file is text too')\n")
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0")
    (docs / "sheet.xlsx").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    (docs / "empty.txt").write_text("")
    (docs / "only-licence.txt").write_text(LICENCE + "\n")
    return docs


def test_every_file_is_used_or_skipped_with_its_reason(tmp_path):
    docs = _folder(tmp_path)
    c = collect([docs], cache_root=tmp_path / "cache")
    used = {d.path.name: d.format for d in c.documents}
    assert used == {"notes.txt": "text", "more.md": "text", "page.html": "html", "manual.pdf": "pdf",
                    "report.docx": "docx", "records.jsonl": "jsonl", "script.py": "text"}
    skipped = {s.path.name: s.reason for s in c.skipped}
    assert skipped == {"copy.txt": "duplicate", "scan.pdf": "no-text-layer", "photo.jpg": "binary",
                       "sheet.xlsx": "unsupported", "empty.txt": "empty", "only-licence.txt": "only-repeats"}
    files = {p.name for p in docs.rglob("*") if p.is_file() and ".git" not in p.parts and p.name != ".DS_Store"}
    assert set(used) | set(skipped) == files  # nothing silent
    assert c.hidden == 2  # the .git folder and .DS_Store, counted
    assert "duplicate of" in next(s.message for s in c.skipped if s.reason == "duplicate")


def test_repeated_lines_and_duplicate_files_are_counted_and_dropped(tmp_path):
    docs = _folder(tmp_path)
    c = collect([docs], cache_root=tmp_path / "cache")
    by_name = {d.path.name: d for d in c.documents}
    assert LICENCE in by_name["notes.txt"].text()  # its first occurrence, in path order
    assert LICENCE not in by_name["more.md"].text() and "Paris is the capital" in by_name["more.md"].text()
    assert c.repeats.lines_dropped == 2 and c.repeats.distinct == 1  # more.md's and only-licence.txt's copies
    assert c.repeat_examples == [(3, LICENCE)] and c.duplicate_files == 1
    kept = collect([docs], cache_root=tmp_path / "cache", keep_duplicates=True)
    assert {s.path.name for s in kept.skipped} == {"scan.pdf", "photo.jpg", "sheet.xlsx", "empty.txt"}
    assert all(LICENCE in d.text() for d in kept.documents if d.path.suffix == ".txt")
    assert kept.repeats.lines_dropped == 0


def test_nothing_usable_says_why_in_one_line(tmp_path):
    make_scanned_pdf(tmp_path / "a.pdf")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\0\0")
    with pytest.raises(InputError, match=r"2 file\(s\) skipped \(1 binary, 1 no text layer \(scanned\)\)"):
        require_documents(collect([tmp_path], cache_root=tmp_path / "cache"), [tmp_path])
    with pytest.raises(InputError, match="no such file"):
        collect([tmp_path / "missing"])
    (tmp_path / "e").mkdir()
    with pytest.raises(InputError, match="no files to train on"):
        require_documents(collect([tmp_path / "e"]), [tmp_path / "e"])


def test_text_field_reaches_jsonl_and_csv(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"body": "First body text here."}, {"body": "Second body text here."}])
    (tmp_path / "b.csv").write_text("id,body\n1,Third body text here.\n")
    assert {s.reason for s in collect([tmp_path]).skipped} == {"no-text-field"}
    c = collect([tmp_path], options=ReadOptions(text_field="body"))
    assert [d.text() for d in c.documents] == ["First body text here.\n\nSecond body text here.\n\n",
                                                "Third body text here.\n\n"]


def test_second_run_reads_from_both_caches(tmp_path, bert_tok, monkeypatch):
    docs = _folder(tmp_path)
    cache = tmp_path / "cache"
    first = collect([docs], cache_root=cache)
    tokens = token_cache.tokenise_documents(first.documents, bert_tok, cache_root=cache)
    assert not any(d.cache_hit for d in first.documents) and not any(t.cache_hit for t in tokens)
    pdf_text = next(d for d in first.documents if d.format == "pdf").text()
    expected = bert_tok(" ".join(pdf_text.split()), add_special_tokens=False)["input_ids"]
    assert next(t for t in tokens if t.path.suffix == ".pdf").ids.tolist() == expected

    def refuse(*a, **k):
        raise AssertionError("extracted again")
    for name in ("PDF", "HTML", "DOCX", "JSONL"):  # the cached formats are not read again...
        monkeypatch.setattr(registry, name, registry.Reader(getattr(registry, name).name, getattr(registry, name).version,
                                                            True, refuse))
    monkeypatch.setattr(registry, "BY_SUFFIX", {**registry.BY_SUFFIX, ".pdf": registry.PDF, ".html": registry.HTML,
                                                ".docx": registry.DOCX, ".jsonl": registry.JSONL})
    monkeypatch.setattr(pdf, "read", refuse)  # ...the scanned PDF's refusal is cached too
    monkeypatch.setattr(token_cache, "_tokenise", lambda *a: pytest.fail("tokenised again"))
    second = collect([docs], cache_root=cache)
    assert all(d.cache_hit for d in second.documents)
    assert {s.path.name: s.reason for s in second.skipped} == {s.path.name: s.reason for s in first.skipped}
    again = token_cache.tokenise_documents(second.documents, bert_tok, cache_root=cache)
    assert all(t.cache_hit for t in again)
    assert all(np.array_equal(a.ids, b.ids) for a, b in zip(tokens, again))


def test_an_edited_file_or_another_field_extracts_again(tmp_path):
    cache = tmp_path / "cache"
    write_jsonl(tmp_path / "a.jsonl", [{"text": "One text.", "other": "Other text."}])
    assert not collect([tmp_path], cache_root=cache).documents[0].cache_hit
    assert collect([tmp_path], cache_root=cache).documents[0].cache_hit
    c = collect([tmp_path], cache_root=cache, options=ReadOptions(text_field="other"))
    assert not c.documents[0].cache_hit and c.documents[0].text() == "Other text.\n\n"
    write_jsonl(tmp_path / "a.jsonl", [{"text": "One edited text."}])
    c = collect([tmp_path], cache_root=cache)
    assert not c.documents[0].cache_hit and c.documents[0].text() == "One edited text.\n\n"


def test_a_large_file_streams_in_pieces(tmp_path, bert_tok):
    line = "The quick brown fox jumps over the lazy dog number {}.\n"
    (tmp_path / "big.txt").write_text("".join(line.format(i) for i in range(30000)))  # ~1.7 MB
    doc = collect([tmp_path], cache_root=tmp_path / "cache").documents[0]
    pieces = list(doc.chunks(size=64 * 1024))
    assert len(pieces) > 20 and all(p.endswith("\n") for p in pieces) and max(map(len, pieces)) < 70 * 1024
    assert len(doc.line_hashes) == 30000
