"""The CLI's first five minutes (issue 19): `runs` in an 80-column pipe keeps every identifier whole,
the plain `mask` says which tokens were kept, the `--json` model block is what a script needs, and
`train` says "resumed from step N"."""

from __future__ import annotations

import json
import time

import pytest


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """`mlm-explorer` in this process, printing to an 80-column pipe; runs under tmp_path."""
    from mlm_explorer.cli import render
    from mlm_explorer.cli.main import main

    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(render.console, "width", 80)

    def call(*args: str):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def _run(root, name: str, **record) -> None:
    run = root / "runs" / name
    run.mkdir(parents=True)
    data = {"name": name, "status": "finished", "model": "bundled", "objective": "mlm", "step": 20,
            "updated": time.time(), **record}
    (run / "run.json").write_text(json.dumps(data))


@pytest.mark.parametrize("model", ["bundled", "/home/someone/models/google-bert-bert-base-multilingual-cased"])
def test_runs_never_cut_a_run_name_or_a_model(cli, tmp_path, model):
    names = ["20261203-154611-bundled", "20261203-160102-" + "a-long-model-directory-name-x" + "-2"]
    for name in names:
        _run(tmp_path / "data", name, model=model, status="cancelled")
    code, out, _ = cli("runs")
    assert code == 0
    for name in names:
        assert any(name in line for line in out.splitlines()), out  # whole, on one line
    assert model in out and "…" not in out
    assert str(tmp_path / "data" / "runs") in out  # where they live (the paths: --json)


def test_runs_table_when_it_fits(cli, tmp_path):
    _run(tmp_path / "data", "20261203-154611-bundled", best={"loss": 4.6849})
    code, out, _ = cli("runs")
    header = out.splitlines()[0]
    assert "run" in header and "status" in header and "best loss" in header
    assert "20261203-154611-bundled" in out and "4.6849" in out and "…" not in out


def test_plain_mask_says_which_tokens_were_kept(cli, tiny_bert_dir):
    text = "The quick brown fox jumps over the lazy dog and the cute dog walks in the green park."
    for seed in range(40):  # a seed whose picks include a kept token
        code, out, _ = cli("mask", text, "--model", str(tiny_bert_dir), "--rate", "0.6", "--seed", str(seed), "--json")
        tokens = json.loads(out)["tokens"]
        kept = [t["token"] for t in tokens if t["decision"] == "keep"]
        if kept:
            break
    else:
        pytest.fail("no seed kept a token")
    code, out, _ = cli("mask", text, "--model", str(tiny_bert_dir), "--rate", "0.6", "--seed", str(seed))
    assert code == 0
    for word in kept:
        assert f"[kept:{word}]" in out.replace("\n", "")
    assert f"{len(kept)} kept ({', '.join(kept)})" in out.replace("\n", " ")


def test_json_model_block_is_what_a_script_needs(cli, tiny_bert_dir):
    code, out, _ = cli("predict", "The cute [MASK] walks.", "--model", str(tiny_bert_dir), "--json")
    model = json.loads(out)["model"]
    for key in ("name", "kind", "family", "vocab_size", "max_length", "device", "mask_token", "path"):
        assert key in model, key
    assert model["kind"] == "mlm" and model["mask_token"] == "[MASK]" and model["vocab_size"] > 0
    assert len(json.dumps(model)) < 1000  # was ~9 KB for the bundled model (its head's manifest)


def test_train_progress_says_resumed_from_step(capsys, monkeypatch):
    from mlm_explorer.cli import render
    from mlm_explorer.cli.render_runs import TrainProgress

    monkeypatch.setattr(render.console, "width", 100)
    view = TrainProgress()
    view({"event": "started", "run_dir": "R", "resumed_from": "R/checkpoint-12", "step": 12, "max_steps": 30})
    view.close()
    out = capsys.readouterr().out
    assert "resumed from step 12 (R/checkpoint-12)" in out
    assert view.progress.tasks[0].completed == 12
