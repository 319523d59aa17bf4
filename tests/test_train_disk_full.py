"""A full disk while saving: one clear message, the previous checkpoint intact, no temporary
files left, and the run continues with --resume once there is space again.

On a real small file system (a tmpfs mounted here when the tests run as root): safetensors
then raises SafetensorError and torch.save a RuntimeError ("unexpected pos ..."), which is
what happens on a user's full disk. Without root the writers are patched to raise the same.
"""

from __future__ import annotations

import json

import pytest
import torch

from mlm_explorer import rundir
from mlm_explorer.train.run import checkpoint as ckpt
from train_helpers import FAST, fill_disk, of, run_job, small_corpus, small_filesystem

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def trained(tiny_bert_dir):
    """(model, tokenizer, trainer state) after one AdamW step, as the loop saves them."""
    from mlm_explorer.core.load.models import load_mlm

    lm = load_mlm(str(tiny_bert_dir), device="cpu")
    opt = torch.optim.AdamW(lm.model.parameters())
    lm.model(torch.tensor([[2, 10, 11, 3]])).logits.sum().backward()
    opt.step()
    return lm.model, lm.tokenizer, {"step": 1, "optimizer": opt.state_dict()}


def _names(run):
    return sorted(p.name for p in run.iterdir())


@pytest.mark.parametrize("fails_in", ["weights", "trainer-state"])
def test_a_write_that_hits_a_full_disk_says_so_and_leaves_no_temporary(tmp_path, trained, monkeypatch, fails_in):
    model, tokenizer, state = trained
    with small_filesystem(tmp_path / "fs") as fs:
        run = (fs or tmp_path) / "run"
        ckpt.save_checkpoint(run, 1, model, tokenizer, state)  # the previous checkpoint
        seen = []
        real_fail = ckpt._fail
        monkeypatch.setattr(ckpt, "_fail", lambda exc, *a: seen.append(exc) or real_fail(exc, *a))
        monkeypatch.setattr(ckpt, "check_free_space", lambda *a: None)  # the disk fills up during the write
        weights = (run / "checkpoint-1" / "model.safetensors").stat().st_size
        if fs is not None:
            fill_disk(fs, weights // 3 if fails_in == "weights" else weights + 40_000)
        else:
            from safetensors import SafetensorError
            from transformers import PreTrainedModel

            if fails_in == "weights":
                def save_pretrained(self, path, *a, **k):
                    (path / "model.safetensors").write_bytes(b"partial")
                    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
                monkeypatch.setattr(PreTrainedModel, "save_pretrained", save_pretrained)
            else:
                def torch_save(obj, path, *a, **k):
                    open(path, "wb").write(b"partial")
                    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
                monkeypatch.setattr(ckpt.torch, "save", torch_save)
                monkeypatch.setattr(ckpt, "_free_bytes", lambda run_dir: 4096)
        with pytest.raises(ckpt.CheckpointError) as err:
            ckpt.save_checkpoint(run, 2, model, tokenizer, state)
        message = str(err.value)
        assert message.startswith(f"disk full while writing checkpoint-2 in {run}")
        assert "the previous checkpoint (checkpoint-1) is intact" in message and f"--resume {run}" in message
        assert type(seen[0]).__name__ == {"weights": "SafetensorError", "trainer-state": "RuntimeError"}[fails_in]
        assert _names(run) == ["checkpoint-1", "latest"]  # no .tmp-checkpoint-2-*
        assert ckpt.load_trainer_state(rundir.latest_checkpoint(run))["step"] == 1


def test_a_save_the_disk_cannot_hold_is_refused_before_writing(tmp_path, trained, monkeypatch):
    model, tokenizer, state = trained
    with small_filesystem(tmp_path / "fs") as fs:
        run = (fs or tmp_path) / "run"
        run.mkdir()
        if fs is not None:
            fill_disk(fs, 50_000)
        else:
            monkeypatch.setattr(ckpt, "_free_bytes", lambda run_dir: 50_000)
        with pytest.raises(ckpt.CheckpointError, match=r"disk full while writing checkpoint-1 in .* \(about 1\.\d MB needed, \d+ kB free\); "
                                                        r"no earlier checkpoint exists; free some space"):
            ckpt.save_checkpoint(run, 1, model, tokenizer, state)
        assert _names(run) == []


def test_run_json_on_a_full_disk_keeps_the_old_one_and_no_empty_temporary(tmp_path):
    from mlm_explorer.train.run.runs import RunRecord

    with small_filesystem(tmp_path / "fs", size="64k") as fs:
        if fs is None:
            pytest.skip("needs a small file system (root, mount)")
        record = RunRecord(fs / "run")
        record.update(status="running", config={"lr": 1e-3})
        fill_disk(fs, 0)
        record.update(status="finished", history={"step": [{"step": i, "loss": 1.0} for i in range(2000)]})
        assert _names(fs / "run") == ["run.json"]  # no 0-byte .tmp-run.json-*
        assert rundir.read_record(fs / "run")["status"] == "running"


def test_the_job_on_a_full_disk_stops_with_the_message_then_resumes(tmp_path, tiny_bert_dir, monkeypatch, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    with small_filesystem(tmp_path / "fs", size="8m") as fs:
        run = (fs or tmp_path) / "run"
        real_prune, real_free, filled = rundir.prune, ckpt._free_bytes, []

        def prune_then_fill(run_dir, keep):  # after the first checkpoint the disk is full
            real_prune(run_dir, keep)
            if not filled:
                if fs is not None:
                    filled.append(fill_disk(fs, 60_000))
                else:
                    filled.append(monkeypatch.setattr(ckpt, "_free_bytes", lambda run_dir: 60_000))

        monkeypatch.setattr(rundir, "prune", prune_then_fill)
        args = [corpus, "--model", tiny_bert_dir, "--max-steps", 6, "--batch-size", 4, "--save-every", 3,
                "--eval-every", 100, "--output", run, *FAST]
        rc, events = run_job(args)
        assert rc == 2
        [error] = of(events, "error")
        assert "disk full while writing" in error["message"] and "(checkpoint-3) is intact" in error["message"]
        assert error["message"].endswith(f"free some space, then continue with --resume {run}")
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {error['message']}"
        assert not [p for p in run.iterdir() if p.name.startswith((".tmp-", ".old-"))]
        assert json.loads((run / "run.json").read_text())["status"] == "failed"
        # space again: the run continues from checkpoint-3 and finishes
        if fs is not None:
            filled[0].unlink()
        monkeypatch.setattr(rundir, "prune", real_prune)
        monkeypatch.setattr(ckpt, "_free_bytes", real_free)
        rc, resumed = run_job(["--resume", run, *FAST])
        assert rc == 0, of(resumed, "error")
        assert of(resumed, "started")[0]["resumed_from"] == str(run / "checkpoint-3")
        assert of(resumed, "finished")[0]["step"] == 6 and rundir.latest_checkpoint(run) == run / "checkpoint-6"
