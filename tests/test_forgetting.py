"""The forgetting meter: the shipped probe set, its summary, and a training run that keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from train_helpers import FAST, of, run_job, small_corpus

CLOZE = Path(__file__).parent / "data" / "cloze.tsv"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def test_the_shipped_set_is_general_and_apart_from_the_eval_sets(bundled_lm):
    from mlm_explorer.core.explain.forgetting import GENERAL_PROBES, meter_probes, prepare_meter

    probes = meter_probes()
    assert GENERAL_PROBES.is_file() and 30 <= len(probes) <= 60
    cloze = {line.split("\t")[0] for line in CLOZE.read_text().splitlines() if not line.startswith("#")}
    assert not cloze & {p.text for p in probes}
    assert len({p.text for p in probes}) == len(probes)
    prepared, skipped = prepare_meter(bundled_lm.tokenizer, probes, max_length=bundled_lm.max_length)
    assert skipped == [] and len(prepared) == len(probes)   # every answer is one bert-base-uncased piece


def test_summary_and_change():
    from mlm_explorer.core.explain.forgetting import meter_change, meter_summary

    results = [{"rank": r, "probability": p} for r, p in ((1, 0.5), (3, 0.2), (40, 0.01), (2, 0.3))]
    s = meter_summary(results)
    assert s == {"n": 4, "top1": 0.25, "top5": 0.75, "mean_rank": 11.5, "median_rank": 2.5,
                 "mean_probability": pytest.approx(0.2525), "ranks": [1, 3, 40, 2]}
    assert meter_summary([])["top1"] is None
    later = {**meter_summary(results[:2]), "step": 10}
    change = meter_change([{**s, "step": 0}, later])
    assert change["from_step"] == 0 and change["to_step"] == 10
    assert change["top1"] == pytest.approx(0.25) and change["mean_rank"] == pytest.approx(2 - 11.5)


def test_a_training_run_keeps_the_meter_at_every_evaluation(tmp_path, tiny_bert_dir):
    from mlm_explorer.core.explain.forgetting import meter_probes, meter_summary
    from mlm_explorer.core.explain.probes import evaluate_probes
    from mlm_explorer.core.load.models import load_mlm

    probes = tmp_path / "general.tsv"   # probes the tiny vocabulary can answer in one piece
    probes.write_text("The cute dog walks in the green [MASK].\tpark\nParis is the [MASK] of France.\tcapital\n"
                      "A cat sat on the [MASK].\tmat\nShe reads a [MASK] every evening.\tbook\n")
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 6, "--eval-every", 2, "--batch-size", 4,
                          "--lr", 5e-3, "--forgetting-probes", probes, "--output", run, *FAST])
    assert rc == 0, events
    readings = of(events, "forgetting")
    evals = [e["step"] for e in of(events, "eval")]
    assert evals == [2, 4, 6] and [r["step"] for r in readings] == [0, *evals]
    record = json.loads((run / "run.json").read_text())
    history = record["forgetting_history"]
    assert [h["step"] for h in history] == [0, 2, 4, 6]
    assert record["forgetting"]["n"] == 4 and record["forgetting"]["skipped"] == []
    assert of(events, "started")[0]["forgetting_probes"] == 4
    for h in history:
        assert h["n"] == 4 and 0 <= h["top1"] <= h["top5"] <= 1 and h["mean_rank"] >= 1
    # the last reading is the meter of the saved model
    final = load_mlm(str(run / "checkpoint-6"), device="cpu")
    again = meter_summary(evaluate_probes(final, meter_probes(probes)))
    assert again["ranks"] == history[-1]["ranks"]
    assert again["mean_probability"] == pytest.approx(history[-1]["mean_probability"], rel=1e-4)
    assert history[0]["ranks"] != history[-1]["ranks"] or history[0]["mean_probability"] != pytest.approx(
        history[-1]["mean_probability"], rel=1e-6)   # training moved it


def test_the_meter_can_be_off(tmp_path, tiny_bert_dir, tiny_t5_dir):
    corpus = small_corpus(tmp_path / "corpus")
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 2, "--eval-every", 2, "--no-forgetting",
                          "--output", tmp_path / "off", *FAST])
    assert rc == 0 and not of(events, "forgetting")
    assert "forgetting_history" not in json.loads((tmp_path / "off" / "run.json").read_text())
    # the shipped set on the tiny vocabulary: the probes it cannot answer in one piece are left out, and said so
    rc, events = run_job([corpus, "--model", tiny_bert_dir, "--max-steps", 1, "--output", tmp_path / "tiny", *FAST])
    assert rc == 0
    assert any("forgetting meter" in e["message"] for e in of(events, "log"))
    rc, events = run_job([corpus, "--model", tiny_t5_dir, "--max-steps", 1, "--output", tmp_path / "t5", *FAST])
    assert rc == 0 and not of(events, "forgetting")
    assert any("span corruption" in e["message"] for e in of(events, "log"))
