"""`mlm-explorer attention` and `mlm-explorer saliency`: --json shapes, human output, one-line errors."""

from __future__ import annotations

import json

import pytest

from test_cli import assert_one_line_error, cli, run_cli  # noqa: F401  (cli is a fixture)

TEXT = "The cute dog [MASK] in the green park."


def test_attention_json(cli, tiny_bert_dir):
    proc = cli("attention", TEXT, "--token", "4", "--layer", "-1", "--head", "0", "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["token_index"], out["layer"], out["head"]) == (4, 1, 0)
    assert (out["num_layers"], out["num_heads"]) == (2, 2)
    assert len(out["weights"]) == len(out["tokens"]) == 11
    assert sum(out["weights"]) == pytest.approx(1.0, abs=1e-5)
    assert out["label"] == "layer 2/2 · head 1/2"
    assert out["model"]["path"] == str(tiny_bert_dir)


def test_attention_mean_by_default_and_human_output(cli, tiny_bert_dir):
    proc = cli("attention", TEXT, "--token", "2", "--model", str(tiny_bert_dir))
    assert proc.returncode == 0, proc.stderr
    assert "attention from token 2 'cute' · mean over layers · mean over heads" in proc.stdout
    assert "[MASK]" in proc.stdout and "2 layers x 2 heads" in proc.stdout


@pytest.mark.parametrize("extra, needles", [
    (["--token", "11"], ["token 11 is outside the text", "(0-10)"]),
    (["--token", "1", "--layer", "2"], ["layer 2 does not exist", "0-1"]),
    (["--token", "1", "--head", "-3"], ["head -3 does not exist"]),
])
def test_attention_errors_are_one_line(cli, tiny_bert_dir, extra, needles):
    assert_one_line_error(cli("attention", TEXT, *extra, "--model", str(tiny_bert_dir)), *needles)


def test_saliency_json(cli, tiny_bert_dir):
    proc = cli("saliency", TEXT, "--model", str(tiny_bert_dir), "--steps", "32", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    n = len(out["tokens"])
    assert out["position"] == 4 and out["mask"] == 1 and out["method"] == "both" and out["steps"] == 32
    assert len(out["integrated_gradients"]) == len(out["grad_x_input"]) == len(out["gradient_norm"]) == n
    assert out["target_rank"] == 1 and out["score"] == "logprob" and out["baseline"] == "mask"
    assert out["completeness_gap"] < 0.05


def test_saliency_target_and_method(cli, tiny_bert_dir):
    proc = cli("saliency", "The [MASK] dog [MASK] in the park.", "--mask", "2", "--target", "walks",
               "--method", "grad-x-input", "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["position"] == 4 and out["target"] == "walks"
    assert out["integrated_gradients"] is None and out["steps"] is None and len(out["grad_x_input"]) == len(out["tokens"])


def test_saliency_human_output(cli, tiny_bert_dir):
    proc = cli("saliency", TEXT, "--model", str(tiny_bert_dir), "--steps", "8")
    assert proc.returncode == 0, proc.stderr
    assert "explaining" in proc.stdout and "grad x input" in proc.stdout
    assert "IG (8 steps, baseline: mask)" in proc.stdout and "completeness gap" in proc.stdout


@pytest.mark.parametrize("text, extra, needles", [
    ("The cute dog walks.", [], ["no mask in the text"]),
    (TEXT, ["--mask", "3"], ["--mask 3", "1 blank"]),
    (TEXT, ["--target", "unbelievable"], ["3 pieces", "un ##believ ##able"]),
    (TEXT, ["--method", "lime"], ["invalid choice"]),
])
def test_saliency_errors_are_one_line(cli, tiny_bert_dir, text, extra, needles):
    assert_one_line_error(cli("saliency", text, *extra, "--model", str(tiny_bert_dir)), *needles)


def test_attention_end_to_end_in_a_subprocess(tiny_bert_dir):
    proc = run_cli("attention", TEXT, "--token", "0", "--layer", "0", "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["head"] is None and sum(out["weights"]) == pytest.approx(1.0, abs=1e-5)
