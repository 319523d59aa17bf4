"""Before / after: core/diff.py against fill_masks of each model, and `mlm-explorer diff`."""

from __future__ import annotations

import json

import pytest
import torch

from test_cli import assert_one_line_error, cli, run_cli  # noqa: F401  (the `cli` fixture)
from train_helpers import FAST, run_job, small_corpus

TEXT = "The cute [MASK] walks in the green ___."


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def other_seed_dir(tmp_path_factory):
    from tiny import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert-seed1"), seed=1)  # same vocabulary


@pytest.fixture(scope="module")
def other_vocab_dir(tmp_path_factory):
    from tiny import CORPUS, build_tiny_bert, make_bert_tokenizer

    tok = make_bert_tokenizer(CORPUS + ["Zebras and giraffes graze on the savanna."])
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert-vocab"), with_tokenizer=tok)


@pytest.fixture(scope="module")
def models(tiny_bert_dir, other_seed_dir):
    from mlm_explorer.core.load.models import load_mlm

    return load_mlm(str(tiny_bert_dir), device="cpu"), load_mlm(str(other_seed_dir), device="cpu")


def _full(lm, text):
    """{position: probabilities (V,)} from fill_masks with every candidate listed."""
    from mlm_explorer.core.infer.fill import predict

    result = predict(lm, text, top_k=len(lm.tokenizer))
    return {p.position: {c.token_id: c.probability for c in p.candidates} for p in result.predictions}


def test_probabilities_are_fill_masks_and_deltas_add_up(models):
    from mlm_explorer.core.infer.diff import diff_text

    base, tuned = models
    result = diff_text(base, tuned, TEXT, top_k=4)
    p_base, p_tuned = _full(base, TEXT), _full(tuned, TEXT)
    assert [m.position for m in result.masks] == sorted(p_base) and len(result.masks) == 2
    for m in result.masks:
        pb, pt = p_base[m.position], p_tuned[m.position]
        top = lambda d: sorted(d, key=d.get, reverse=True)  # noqa: E731
        ids = [c.token_id for c in m.candidates]
        assert set(ids) == set(top(pb)[:4]) | set(top(pt)[:4]) and len(ids) == len(set(ids))
        for c in m.candidates:
            assert c.p_base == pytest.approx(pb[c.token_id], rel=1e-6, abs=1e-9)
            assert c.p_tuned == pytest.approx(pt[c.token_id], rel=1e-6, abs=1e-9)
            assert c.delta == pytest.approx(c.p_tuned - c.p_base, abs=1e-9)
            assert c.log_ratio == pytest.approx(float(torch.tensor(c.p_tuned / c.p_base).log()), abs=1e-4)
            assert c.rank_base == top(pb).index(c.token_id) + 1 and c.rank_tuned == top(pt).index(c.token_id) + 1
        assert [abs(c.delta) for c in m.candidates] == sorted((abs(c.delta) for c in m.candidates), reverse=True)
        assert sum(c.delta for c in m.candidates) == pytest.approx(m.mass_outside_base - m.mass_outside_tuned, abs=1e-5)
        assert sum(pt[c.token_id] for c in m.candidates) + m.mass_outside_tuned == pytest.approx(1.0, abs=1e-5)
        assert m.base_top1.token_id == top(pb)[0] and m.tuned_top1.token_id == top(pt)[0]
        kl = sum(p * (torch.tensor(p).log() - torch.tensor(pb[i]).log()) for i, p in pt.items())
        assert m.kl == pytest.approx(float(kl), rel=1e-3) and m.kl > 0
    data = json.loads(json.dumps(result.to_dict()))
    assert data["base"] == base.name and data["masks"][0]["candidates"][0]["delta"] == result.masks[0].candidates[0].delta


def test_sort_orders_and_a_model_against_itself(models):
    from mlm_explorer.core.infer.diff import diff_text

    base, tuned = models
    by_tuned = diff_text(base, tuned, TEXT, top_k=3, sort="tuned").masks[0].candidates
    assert [c.p_tuned for c in by_tuned] == sorted((c.p_tuned for c in by_tuned), reverse=True)
    by_base = diff_text(base, tuned, TEXT, top_k=3, sort="base").masks[0].candidates
    assert [c.p_base for c in by_base] == sorted((c.p_base for c in by_base), reverse=True)
    same = diff_text(base, base, TEXT, top_k=3).masks[0]
    assert len(same.candidates) == 3 and all(c.delta == 0 and c.log_ratio == 0 for c in same.candidates)
    assert same.kl == pytest.approx(0.0, abs=1e-6)


def test_different_vocabularies_are_refused(models, other_vocab_dir):
    from mlm_explorer.core.infer.diff import diff_text
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.errors import ModelError

    with pytest.raises(ModelError, match="different vocabularies"):
        diff_text(models[0], load_mlm(str(other_vocab_dir), device="cpu"), TEXT)


@pytest.fixture
def tuned_run(tmp_path, tiny_bert_dir):
    """A short fine-tune of the tiny BERT, under the data dir's runs/ (so it has a name)."""
    from mlm_explorer.paths import runs_dir

    run = runs_dir() / "tuned"
    rc, events = run_job([small_corpus(tmp_path / "corpus"), "--model", tiny_bert_dir, "--max-steps", 4,
                          "--batch-size", 4, "--lr", 1e-2, "--eval-every", 4, "--output", run, *FAST])
    assert rc == 0, events
    return run


def test_run_base_model(tuned_run, tiny_bert_dir):
    from mlm_explorer.core.infer.diff import run_base_model

    for name in (str(tuned_run), str(tuned_run / "best"), str(tuned_run / "checkpoint-4"), "run:tuned"):
        assert run_base_model(name) == str(tiny_bert_dir)
    assert run_base_model(str(tiny_bert_dir)) is None and run_base_model("bundled") is None


def test_diff_cli_on_a_run_and_its_base(cli, tuned_run, tiny_bert_dir, other_vocab_dir):  # noqa: F811
    out = cli("diff", TEXT, "--model", "tuned", "--top-k", "3", "--json")  # a bare run name
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["base_model"]["path"] == str(tiny_bert_dir)  # from the run's run.json
    assert payload["tuned_model"]["path"] == str(tuned_run / "best") and payload["tuned_model"]["source"] == "run"
    assert len(payload["masks"]) == 2 and payload["sort"] == "delta" and payload["top_k"] == 3
    assert any(c["delta"] != 0 for c in payload["masks"][0]["candidates"])
    human = cli("diff", TEXT, "--model", str(tuned_run), "--sort", "tuned")
    assert human.returncode == 0, human.stderr
    assert "Δ p" in human.stdout and "KL" in human.stdout and "mask 2" in human.stdout
    assert_one_line_error(cli("diff", TEXT, "--model", str(tiny_bert_dir)), "--base")
    assert_one_line_error(cli("diff", TEXT, "--model", str(tiny_bert_dir), "--base", str(other_vocab_dir)),
                          "different vocabularies")
    assert_one_line_error(cli("diff", "No blank.", "--model", "tuned"), "no mask")


def test_diff_cli_two_seeds_in_a_real_process(tiny_bert_dir, other_seed_dir):
    proc = run_cli("diff", TEXT, "--model", str(other_seed_dir), "--base", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    masks = json.loads(proc.stdout)["masks"]
    assert len(masks) == 2 and all(m["kl"] > 0 for m in masks)
