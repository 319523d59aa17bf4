"""The command line of issue 18: predict --k-best, score --pll, mask --audit (real commands)."""

from __future__ import annotations

import json

from test_cli import assert_one_line_error, cli, run_cli  # noqa: F401
from train_helpers import small_corpus


def test_predict_k_best_json(cli, tiny_bert_dir):
    proc = cli("predict", "The [MASK] dog walks in the [MASK] park.", "--model", str(tiny_bert_dir),
               "--k-best", "3", "--top-n", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    kb = json.loads(proc.stdout)["k_best"]
    assert kb["method"] == "exact" and kb["top_n"] == 6 and len(kb["fills"]) == 3
    plls = [f["pll"] for f in kb["fills"]]
    assert plls == sorted(plls, reverse=True)
    assert all(abs(f["pll"] - sum(f["logprobs"])) < 1e-5 for f in kb["fills"])
    assert kb["greedy"]["rank"] >= 1 and kb["agrees"] == (kb["greedy"]["rank"] == 1)


def test_predict_k_best_for_people(cli, tiny_bert_dir):
    proc = cli("predict", "[MASK] cute [MASK] walks in the [MASK] park [MASK]", "--model", str(tiny_bert_dir),
               "--k-best", "2", "--beam", "3")
    assert proc.returncode == 0, proc.stderr
    assert "best joint fills" in proc.stdout and "beam 3" in proc.stdout
    assert "most confident first" in proc.stdout
    assert_one_line_error(cli("predict", "a [MASK]", "--model", str(tiny_bert_dir), "--beam", "2"), "--k-best")


def test_score_names_the_variant(cli, tiny_bert_dir):
    text = "Unbelievable tokenizers split words."
    default = json.loads(cli("score", text, "--model", str(tiny_bert_dir), "--json").stdout)
    original = json.loads(cli("score", text, "--model", str(tiny_bert_dir), "--pll", "original", "--json").stdout)
    assert default["pll_variant"] == "word-l2r" and original["pll_variant"] == "original"
    assert default["pll"] != original["pll"]
    people = cli("score", text, "--model", str(tiny_bert_dir))
    assert "PLL-word-l2r" in people.stdout
    assert_one_line_error(cli("score", text, "--pll", "sideways"), "--pll")


def test_mask_audit_through_the_real_command(cli, tmp_path, tiny_bert_dir, monkeypatch):
    corpus = small_corpus(tmp_path / "corpus")
    env = {"MLM_EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "MLM_EXPLORER_DATA_DIR": str(tmp_path / "data")}
    proc = run_cli("mask", "--audit", str(corpus), "--model", str(tiny_bert_dir), "--rate", "0.2",
                   "--block-size", "16", "--json", env_extra=env)
    assert proc.returncode == 0, proc.stderr
    audit = json.loads(proc.stdout)
    assert audit["event"] == "audit" and audit["ours"]["policy"]["rate"] == 0.2
    assert audit["ours"]["special_touched"] == 0 and audit["ours"]["padding_touched"] == 0
    people = cli("mask", "--audit", str(corpus), "--model", str(tiny_bert_dir), env_extra=env)
    assert people.returncode == 0, people.stderr
    assert "special tokens selected" in people.stdout and "HF collator" in people.stdout
    assert_one_line_error(cli("mask", "--audit", str(tmp_path / "missing"), "--model", str(tiny_bert_dir),
                              env_extra=env), "no such file")
    assert_one_line_error(cli("mask", "a text", "--audit", str(corpus)), "not both")
    assert_one_line_error(cli("mask", "--audit", str(corpus), "--count", "2"), "--count")


def test_compare_takes_two_to_four_models(cli, tiny_bert_dir, tiny_t5_dir, family_dir, tmp_path):
    tiny_bart_dir = family_dir("BART")
    text = "The cute [MASK] walks in the [MASK] park."
    proc = cli("compare", text, "--model", str(tiny_bert_dir), "--model", str(tiny_t5_dir), "--model",
               str(tiny_bart_dir), "--json", "--html", str(tmp_path / "c.html"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [c["family"] for c in out["columns"]] == ["encoder", "t5", "bart"] and out["n_blanks"] == 2
    assert all(len(c["blanks"]) == 2 for c in out["columns"])
    assert "bert" not in out and (tmp_path / "c.html").read_text().count('class="column"') == 3
    people = cli("compare", text, "--model", str(tiny_bert_dir), "--model", str(tiny_bart_dir))
    assert people.returncode == 0 and "BART: rewrites the text" in people.stdout and "MLM" in people.stdout
    named = json.loads(cli("compare", text, "--bert", str(tiny_bert_dir), "--bart", str(tiny_bart_dir),
                           "--model", str(tiny_t5_dir), "--json").stdout)
    assert [c["family"] for c in named["columns"]] == ["encoder", "t5", "bart"]
    assert named["bart"]["style"] == "mask" and named["bert"]["predictions"] and "t5" not in named
    assert_one_line_error(cli("compare", text, "--model", str(tiny_bert_dir)), "2 to 4 models")
    assert_one_line_error(cli("compare", text, *["--model", str(tiny_bert_dir)] * 5), "2 to 4 models")
