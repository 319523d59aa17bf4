"""train/audit.py: the masking audit runs the job's own data preparation and masking options."""

from __future__ import annotations

import io
import json
import math

import pytest

from train_helpers import FAST, of, run_job, small_corpus


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def run_audit(args) -> tuple[int, list[dict]]:
    from mlm_explorer.train.audit import main

    buf = io.StringIO()
    rc = main([str(a) for a in args], stdout=buf)
    return rc, [json.loads(line) for line in buf.getvalue().splitlines()]


def test_mlm_audit_uses_the_jobs_data_and_options(tmp_path, tiny_bert_dir):
    corpus = small_corpus(tmp_path / "corpus")
    options = [corpus, "--model", tiny_bert_dir, "--mask-rate", 0.3, "--whole-word", "--block-size", 16, "--seed", 3,
               "--keep-duplicates"]  # the small corpus repeats lines: kept, it gives more than 10 blocks
    rc, events = run_audit(options)
    assert rc == 0, events
    audit = of(events, "audit")[0]
    ours, ref = audit["ours"], audit["reference"]
    assert audit["objective"] == "mlm" and audit["blocks"] == audit["total_blocks"] > 10
    assert ours["policy"]["rate"] == 0.3 and ours["policy"]["whole_word"] is True
    assert ours["special_touched"] == ours["padding_touched"] == ours["random_drew_special"] == 0
    words = ours["words"]
    assert words["partly_selected"] == 0 and words["mixed_decisions"] == 0
    assert abs(words["selected_rate"] - 0.3) < 4 * math.sqrt(0.3 * 0.7 / words["words"])
    assert ref["engine"] == "DataCollatorForLanguageModeling" and ref["overall"]["mask_share"] == 1.0
    assert any("whole-word mode puts [MASK]" in line for line in audit["differences"])
    # the same data the job prepares with the same options (its `started` event)
    rc, job = run_job([*options, "--max-steps", 1, "--output", tmp_path / "run", *FAST])
    assert rc == 0, job
    started = of(job, "started")[0]["data"]
    for key in ("files", "tokens", "train_blocks", "eval_blocks", "train_tokens", "block_size", "holdout"):
        assert audit["data"][key] == started[key], key
    assert audit["blocks"] == started["train_blocks"]


def test_span_audit_and_the_recipe(tmp_path, tiny_t5_dir):
    corpus = small_corpus(tmp_path / "corpus")
    rc, events = run_audit([corpus, "--model", tiny_t5_dir, "--block-size", 32, "--max-blocks", 5])
    assert rc == 0, events
    audit = of(events, "audit")[0]
    ours, ref = audit["ours"], audit["reference"]
    assert audit["objective"] == "span" and audit["blocks"] == 5 <= audit["total_blocks"]
    raw = audit["data"]["raw_block_size"]
    assert ours["noise_density"] == pytest.approx(round(raw * 0.15) / raw)   # rounding, not 0.15
    assert ours["sentinels_per_row"]["max"] == round(round(raw * 0.15) / 3)
    assert ref["rows"] <= ours["rows"] and ours["truncated_tokens"] == 0


def test_bad_input_is_one_error_event(tmp_path, tiny_bert_dir):
    rc, events = run_audit([tmp_path / "nothing-here", "--model", tiny_bert_dir])
    assert rc == 2 and of(events, "error")[0]["message"].startswith("no such file or folder")
    rc, events = run_audit([tmp_path, "--max-blocks", 0])
    assert rc == 2 and "--max-blocks" in of(events, "error")[0]["message"]
