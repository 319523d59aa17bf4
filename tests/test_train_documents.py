"""The job on a folder of real documents: the started event and run.json account for every
file, `--dry-run` previews the data, step 1's masked blocks and the time, and writes nothing."""

from __future__ import annotations

import json

import pytest
import torch

from doc_files import HTML_PAGE, make_docx, make_pdf, make_scanned_pdf, write_jsonl
from train_helpers import FAST, of, run_job


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def documents(folder):
    """What a new user has: a text file, a saved web page, a PDF manual, a scan, a report, a copy, an export."""
    from tiny import CORPUS

    folder.mkdir()
    (folder / "notes.txt").write_text("\n".join(CORPUS[:12]) + "\n")
    (folder / "copy of notes.txt").write_text("\n".join(CORPUS[:12]) + "\n")
    (folder / "page.html").write_text(HTML_PAGE)
    make_pdf(folder / "manual.pdf")
    make_scanned_pdf(folder / "scan.pdf")
    make_docx(folder / "report.docx")
    new = ["The garden hose is coiled beside the shed.", "Our team ships a release every second week.",
           "Fresh bread smells best early in the morning."]
    write_jsonl(folder / "export.jsonl", [{"body": line} for line in CORPUS[:3] + new])  # three lines repeat notes
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    return folder


def test_started_and_run_json_account_for_every_file(tmp_path, tiny_bert_dir):
    docs = documents(tmp_path / "docs")
    run = tmp_path / "run"
    rc, events = run_job([docs, "--model", tiny_bert_dir, "--max-steps", 2, "--batch-size", 4, "--text-field", "body",
                          "--output", run, *FAST])
    assert rc == 0, events
    data = of(events, "started")[0]["data"]
    used = {u["path"].rsplit("/", 1)[-1]: u for u in data["used"]}
    assert set(used) == {"copy of notes.txt", "page.html", "manual.pdf", "report.docx", "export.jsonl"}
    assert all(u["tokens"] >= 5 for u in used.values()) and used["manual.pdf"]["format"] == "pdf"
    assert "4 page(s)" in used["manual.pdf"]["notes"] and used["export.jsonl"]["notes"][0] == "6 record(s)"
    skipped = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in data["skipped"]}
    assert skipped == {"notes.txt": "duplicate", "scan.pdf": "no-text-layer", "photo.png": "binary"}
    # export.jsonl repeats three lines of "copy of notes.txt" (the first in path order): dropped and counted
    assert data["duplicates"]["files"] == 1 and data["duplicates"]["lines"] == 3
    assert data["files"] == 5 and data["tokens"] == sum(u["tokens"] for u in used.values())
    assert json.loads((run / "run.json").read_text())["data"]["skipped"] == data["skipped"]
    assert any(e.get("topic") == "data" and "no text layer" in e["message"] for e in of(events, "log"))


def test_dry_run_previews_and_writes_nothing(tmp_path, tiny_bert_dir):
    docs = documents(tmp_path / "docs")
    rc, events = run_job([docs, "--model", tiny_bert_dir, "--max-steps", 40, "--batch-size", 4, "--eval-every", 20,
                          "--dry-run", *FAST])
    assert rc == 0, events
    assert not of(events, "started") and not (tmp_path / "data").exists()  # no run directory, no run.json
    [preview] = of(events, "preview")
    assert {s["reason"] for s in preview["data"]["skipped"]} == {"duplicate", "no-text-layer", "binary", "no-text-field"}
    assert preview["data"]["holdout"] in ("files", "blocks") and preview["data"]["eval_blocks"] >= 1
    est = preview["estimate"]
    assert est["steps"] == 40 and est["step_s"] > 0 and est["evaluations"] == 2
    assert est["total_s"] == pytest.approx(40 * est["step_s"] + est["eval_s"])
    assert len(preview["samples"]) == 3
    for sample in preview["samples"]:
        decisions = [t["decision"] for t in sample["tokens"]]
        assert sample["tokens"][0] == {"text": "[CLS]", "decision": "none", "joins": False, "special": True}
        assert sample["counts"]["mask"] == decisions.count("mask") and "random" not in decisions[:1]
    assert sum(s["counts"]["mask"] for s in preview["samples"]) > 0


def test_the_samples_are_step_one_as_the_loop_corrupts_it(tmp_path, tiny_bert_dir):
    """The preview's masks are the masks of the first training step, not a look-alike."""
    from train_helpers import small_corpus

    from mlm_explorer.core.mask.decision import label
    from mlm_explorer.train.config import parse_args
    from mlm_explorer.train.data.dataset import prepare
    from mlm_explorer.train.data.extract.collect import collect
    from mlm_explorer.train.loop import Loop
    from mlm_explorer.train.model_setup import load_for_training
    from mlm_explorer.train.preview import samples
    from mlm_explorer.train.run.events import Events
    from mlm_explorer.train.run.runs import RunRecord
    from mlm_explorer.train.runtime import setup

    args, _ = parse_args([str(small_corpus(tmp_path / "c")), "--model", str(tiny_bert_dir), "--batch-size", "4",
                          "--seed", "3", "--max-steps", "5", "--threads", "1"])
    rt = setup("cpu", 1, "fp32")
    tm = load_for_training(args.model, "auto", device=rt.device)
    events = Events(open("/dev/null", "w"))
    data = prepare(args, tm, rt, events, collect(args.paths, cache_root=tmp_path / "cache"))
    loop = Loop(args=args, model=tm.model, tokenizer=tm.tokenizer, objective=data.objective, data=data, rt=rt,
                events=events, record=RunRecord(tmp_path, enabled=False))
    shown = samples(loop, tm.tokenizer, data.objective, args.seed)
    step1 = data.objective.corrupt(loop.step_blocks(loop.step), loop.gen, decisions=True)  # what train_step does
    for r, sample in enumerate(shown):
        expected = [label(d) for d in step1["decisions"][r, :len(sample["tokens"])].tolist()]
        assert [t["decision"] for t in sample["tokens"]] == expected
    assert torch.equal(step1["labels"], data.objective.corrupt(loop.step_blocks(0),
                       torch.Generator().manual_seed(args.seed), decisions=True)["labels"])


def test_cli_dry_run_prints_files_reasons_estimate_and_masks(tmp_path, tiny_bert_dir):
    from test_cli import run_cli

    docs = documents(tmp_path / "docs")
    env = {"MLM_EXPLORER_DATA_DIR": str(tmp_path / "data"), "MLM_EXPLORER_CACHE_DIR": str(tmp_path / "cache"),
           "COLUMNS": "400"}  # long temporary paths: one file a line
    proc = run_cli("train", str(docs), "--model", str(tiny_bert_dir), "--max-steps", "10", "--batch-size", "4",
                   "--threads", "1", "--dry-run", env_extra=env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for needle in ("manual.pdf", "4 page(s)", "no text layer (scanned) (1):", "scan.pdf", "OCR", "duplicate file (1):",
                   "no text field (1):", "--text-field", "held out for evaluation", "estimated time on cpu",
                   "for 10 steps", "[MASK:", "dry run: nothing was trained"):
        assert needle in out, needle
    assert not (tmp_path / "data").exists()


def test_cli_summary_at_start_lists_used_and_skipped(monkeypatch):
    """`mlm-explorer train` (no --json) prints the data report when the job starts, and not
    the job's data `log` lines a second time."""
    from rich.console import Console

    from mlm_explorer.cli import render, render_runs, train_report

    out = Console(record=True, width=200)
    for module in (train_report, render, render_runs):  # each holds the shared console by name
        monkeypatch.setattr(module, "console", out)
    data = {"used": [{"path": "/d/manual.pdf", "format": "pdf", "tokens": 1234, "notes": ["12 page(s)"]}],
            "skipped": [{"path": "/d/scan.pdf", "reason": "no-text-layer", "message": "scanned, no text layer"}],
            "duplicates": {"files": 1, "lines": 4, "distinct_lines": 2, "examples": [{"count": 3, "line": "Licence"}],
                           "kept": False}, "hidden": 1, "train_blocks": 9, "eval_blocks": 1}
    view = train_report.TrainView()
    view({"event": "log", "topic": "data", "message": "1 file used"})
    view({"event": "started", "data": data, "max_steps": 3})
    view.close()
    text = out.export_text()
    assert "1 file used (1,234 tokens) · 1 skipped · 1 duplicate file and 4 repeated lines dropped" in text
    assert "1,234  pdf    /d/manual.pdf  (12 page(s))" in text
    assert "no text layer (scanned) (1):\n  /d/scan.pdf: scanned, no text layer" in text
    assert "×3  Licence" in text and "1 hidden file(s) or folder(s)" in text and "9 train / 1 eval blocks" in text
    assert text.count("1 file used") == 1
