"""The command line's options: the app's --model / --t5 / --device also work before a subcommand.

`mlm-explorer --model DIR predict ...` used to drop the global --model without a word (the
global and the subcommand option shared one destination, and the subcommand's default won).
Both positions must work, and the subcommand's own option wins when both are given.
"""

from __future__ import annotations

import json

from test_cli import assert_one_line_error, cli  # noqa: F401 - the in-process CLI fixture

TEXT = "The cute [MASK] walks in the park."


def test_global_model_before_the_subcommand_is_used(cli, tiny_bert_dir):
    proc = cli("--model", str(tiny_bert_dir), "predict", TEXT, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["path"] == str(tiny_bert_dir)


def test_the_subcommands_option_wins_over_the_global_one(cli, tiny_bert_dir):
    proc = cli("--model", "no-such-org/no-such-model-xyz", "predict", TEXT, "--model", str(tiny_bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["path"] == str(tiny_bert_dir)
    proc = cli("--device", "nonsense", "score", "The cute dog.", "--model", str(tiny_bert_dir), "--device", "cpu",
               "--json")
    assert proc.returncode == 0, proc.stderr


def test_global_device_is_used(cli, tiny_bert_dir):
    assert_one_line_error(cli("--device", "nonsense", "predict", TEXT, "--model", str(tiny_bert_dir)), "nonsense")
    proc = cli("--device", "cpu", "predict", TEXT, "--model", str(tiny_bert_dir), "--json")
    assert json.loads(proc.stdout)["model"]["device"] == "cpu"


def test_global_t5_fills_compare_and_infill(cli, tiny_bert_dir, tiny_t5_dir):
    proc = cli("--t5", str(tiny_t5_dir), "--model", str(tiny_bert_dir), "compare", TEXT, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["t5"]["model"]["path"] == str(tiny_t5_dir) and out["bert"]["model"]["path"] == str(tiny_bert_dir)
    proc = cli("--t5", str(tiny_t5_dir), "infill", TEXT, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["path"] == str(tiny_t5_dir)
    # without --t5, compare uses the bundled span infiller: test_cli.py::test_compare_offline_uses_the_bundled_infiller


def test_a_global_option_that_means_nothing_to_the_subcommand_is_an_error(cli):
    assert_one_line_error(cli("--device", "cpu", "models"), "--device", "models")
    assert_one_line_error(cli("--t5", "x", "predict", TEXT), "--t5", "predict")


def test_train_forwards_global_options_before_its_own():
    from mlm_explorer.cli.parser import parse
    from mlm_explorer.train.config import parse_args

    args = parse(["--model", "org/base", "--device", "cpu", "train", "notes.txt", "--max-steps", "3"])
    job, given = parse_args(args.job_argv)
    assert (job.model, job.device, job.max_steps, job.paths) == ("org/base", "cpu", 3, ["notes.txt"])
    assert {"model", "device", "max_steps"} <= given  # a resumed run takes them as given
    args = parse(["--model", "org/base", "train", "notes.txt", "--model", "org/other"])
    assert parse_args(args.job_argv)[0].model == "org/other"


def test_train_end_to_end_with_the_global_model(cli, tiny_bert_dir, tmp_path, monkeypatch):
    """`mlm-explorer --model DIR train ...` trains DIR (the job gets the global option), then a resume
    with the progress view."""
    from train_helpers import FAST, small_corpus

    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    corpus, run = small_corpus(tmp_path / "corpus"), tmp_path / "run"
    proc = cli("--model", str(tiny_bert_dir), "train", str(corpus), "--max-steps", "2", "--batch-size", "2",
               *FAST, "--output", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[-1]["event"] == "finished"
    assert json.loads((run / "run.json").read_text())["model"] == str(tiny_bert_dir)
    proc = cli("train", "--resume", str(run), "--max-steps", "3")
    assert proc.returncode == 0, proc.stderr
    assert "finished" in proc.stdout and "Traceback" not in proc.stderr
