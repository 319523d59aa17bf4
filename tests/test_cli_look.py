"""The command line for "look deeper": `predict --candidates` and `score`, --json and errors."""

from __future__ import annotations

import json

import pytest

from test_cli import assert_one_line_error, cli, run_cli  # noqa: F401  (cli is a fixture)

SINGLE = "The cute dog [MASK] in the green park."


def test_predict_candidates_json(cli, tiny_bert_dir):
    proc = cli("predict", SINGLE, "--model", str(tiny_bert_dir), "--candidates", "walks,tokenizers",
               "--top-k", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["predictions"]) == 1                     # the usual predict output is still there
    scores = out["candidate_scores"]
    assert scores["mask"] == 1 and scores["position"] == out["predictions"][0]["position"]
    walks, tokenizers = scores["candidates"]
    assert walks["method"] == "single" and walks["rank"] >= 1
    assert tokenizers["pieces"] == ["token", "##izer", "##s"] and tokenizers["rank"] is None
    assert tokenizers["method"] == "joint, most confident first, 3 passes" and len(tokenizers["steps"]) == 3
    assert sorted({f["n_pieces"] for f in scores["fills"]}) == [1, 2, 3] and len(scores["fills"]) == 9
    keys = [f["normalized_logprob"] for f in scores["fills"]]
    assert keys == sorted(keys, reverse=True)
    top = out["predictions"][0]["candidates"][0]
    assert any(f["token_ids"] == [top["token_id"]] for f in scores["fills"])


def test_predict_candidates_for_the_second_blank(cli, tiny_bert_dir):
    proc = cli("predict", "The [MASK] dog walks in the [MASK] park.", "--model", str(tiny_bert_dir),
               "--candidates", "green", "--mask", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["candidate_scores"]["position"] == out["predictions"][1]["position"]


def test_predict_candidates_for_people(cli, tiny_bert_dir):
    proc = cli("predict", SINGLE, "--model", str(tiny_bert_dir), "--candidates", "walks,playground")
    assert proc.returncode == 0, proc.stderr
    assert "candidates for blank 1" in proc.stdout and "best fills of 1-3 subwords" in proc.stdout
    assert "joint" in proc.stdout and "filled most confident first" in proc.stdout and "→" in proc.stdout


def test_score_json(cli, tiny_bert_dir):
    proc = cli("score", "Unbelievable tokenizers split words.", "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["model"]["name"] == str(tiny_bert_dir)
    assert out["n_tokens"] == len(out["tokens"]) == 9      # un ##believ ##able token ##izer ##s split words .
    assert out["pll"] == pytest.approx(sum(t["logprob"] for t in out["tokens"]), abs=1e-6)
    assert set(out["tokens"][0]) >= {"position", "text", "surprisal", "surprisal_bits", "rank", "probability"}
    again = json.loads(cli("score", "Unbelievable tokenizers split words.", "--model", str(tiny_bert_dir),
                           "--batch-size", "3", "--json").stdout)
    assert again["forward_passes"] == 3 and again["pll"] == pytest.approx(out["pll"], abs=1e-4)


def test_score_for_people(cli, tiny_bert_dir):
    proc = cli("score", "The cute dog walks in the green park.", "--model", str(tiny_bert_dir))
    assert proc.returncode == 0, proc.stderr
    assert "surprisal" in proc.stdout and "PLL" in proc.stdout and "pseudo-perplexity" in proc.stdout


@pytest.mark.parametrize("args, needles", [
    (("predict", "The [MASK] dog [MASK].", "--candidates", "cat"), ("--mask N",)),
    (("predict", SINGLE, "--candidates", "cat,,dog"), ("empty candidate",)),
    (("predict", SINGLE, "--mask", "1"), ("--candidates",)),
    (("predict", SINGLE, "--candidates", "cat", "--mask", "2"), ("--mask 2",)),
    (("predict", "No blank here.", "--candidates", "cat"), ("no mask",)),
    (("score", "  "), ("empty",)),
    (("score", "[MASK]"), ("nothing to score",)),
    (("score", "dog", "--batch-size", "0"), ("--batch-size",)),
])
def test_bad_input_is_one_line(cli, tiny_bert_dir, args, needles):
    assert_one_line_error(cli(*args, "--model", str(tiny_bert_dir)), *needles)


def test_score_through_the_real_command(tiny_bert_dir):
    proc = run_cli("score", "The cute dog walks.", "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_tokens"] == 5
