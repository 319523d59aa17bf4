"""The Train screen's preview: before Start, the files, their tokens, the skipped ones with their
reasons, the hold-out, the estimated time and step 1's masked blocks; nothing is trained."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, screen_text, sync, wait_for, wait_ready  # noqa: F401
from doc_files import HTML_PAGE, make_pdf, make_scanned_pdf

pytestmark = pytest.mark.timeout(240)


@sync
async def test_preview_lists_files_reasons_time_and_masked_blocks(app_env, tiny_bert_dir, tmp_path, monkeypatch):
    from tiny import CORPUS

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("\n".join(CORPUS[:12]) + "\n")
    (docs / "page.html").write_text(HTML_PAGE)
    make_pdf(docs / "manual.pdf")
    make_scanned_pdf(docs / "scan.pdf")
    (docs / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_bert_dir)
    async with app.run_test(size=(160, 60)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f4")
        await pilot.pause(0.2)
        screen = app.screen
        panel = screen.query_one("#train-data")
        assert panel.has_class("hidden")  # nothing to show before a preview
        for wid, value in (("train-path", docs), ("train-model", tiny_bert_dir), ("train-steps", "8"),
                           ("train-batch", "4"), ("train-precision", "fp32")):
            screen.query_one(f"#{wid}").value = str(value) if wid != "train-precision" else value
        await pilot.click("#train-preview")
        await wait_for(pilot, lambda: screen.job_state in ("previewed", "error"), timeout=180, what="the preview")
        assert screen.job_state == "previewed", [line.text for line in screen.query_one("#train-log").lines]
        await pilot.pause(0.2)
        body = panel.plain
        for needle in ("3 files used", "manual.pdf", "pdf", "4 page(s)", "html", "page.html", "skipped:",
                       "no text layer (scanned) (1):", "scan.pdf", "OCR", "binary (1):", "photo.png",
                       "held out for evaluation", "estimated time on cpu", "for 8 steps", "[MASK:"):
            assert needle in body, needle
        shown = screen_text(app)
        assert "Preview (nothing trained yet)" in shown and "preview ready" in shown
        assert not screen.losses and screen.run_dir is None  # nothing trained
        assert not (app_env / "data" / "runs").exists()  # nothing written
        assert not screen.query_one("#train-start").disabled  # Start is the next step
