"""The run directory (mlm_explorer/rundir.py) and the file helpers (mlm_explorer/files.py):
layout, pointers, pruning, atomic writes, file modes, hashes. Torch only where a real
checkpoint is written."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from mlm_explorer import rundir
from mlm_explorer.files import atomic_write, atomic_write_text, sha256_file


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _checkpoint(run, step, *, complete=True, model=True):
    d = rundir.checkpoint_dir(run, step)
    d.mkdir(parents=True)
    if model:
        (d / rundir.MODEL_CONFIG).write_text("{}")
    if complete:
        (d / rundir.TRAINER_STATE).write_bytes(b"state")
    return d


# -- files.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_write_gives_the_umask_mode(tmp_path, mask, expected):
    old = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with atomic_write(tmp_path / "b.npz") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == expected and _mode(tmp_path / "b.npz") == expected


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "run.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w", encoding="utf-8") as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_sha256_file_is_hashlib_over_prefix_and_bytes(tmp_path):
    data = os.urandom(3 * (1 << 20) + 17)  # several read blocks
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "f", prefix=b"v1:") == hashlib.sha256(b"v1:" + data).hexdigest()


def test_token_cache_key_names_the_extracted_text_and_the_tokenizer(tmp_path):
    """The token cache's key (v2, issue 21): sha256("v2:<fingerprint>:" + the document's token_key),
    and the token_key changes with the file's bytes and with the lines dropped as repeats."""
    import numpy as np

    from mlm_explorer.train.data.extract.collect import collect
    from mlm_explorer.train.data.token_cache import CACHE_VERSION, document_key

    (tmp_path / "doc.txt").write_bytes(b"Some text that is long enough to compare.\n")
    doc = collect([tmp_path / "doc.txt"], cache_root=tmp_path / "cache").documents[0]
    assert CACHE_VERSION == 2
    assert document_key(doc, "abc") == hashlib.sha256(f"v2:abc:{doc.token_key}".encode()).hexdigest()
    before = doc.token_key
    doc.dropped = np.array([0])
    assert doc.token_key != before


# -- rundir.py: reading ----------------------------------------------------------------------


def test_latest_and_model_checkpoint_follow_the_layout(tmp_path):
    run = tmp_path / "run"
    assert rundir.latest_checkpoint(run) is None and rundir.model_checkpoint(run) is None
    _checkpoint(run, 4)
    _checkpoint(run, 12)
    _checkpoint(run, 20, complete=False)  # killed before its trainer state: not a checkpoint yet
    assert rundir.checkpoints(run) == [run / "checkpoint-4", run / "checkpoint-12"]
    assert rundir.latest_checkpoint(run) == run / "checkpoint-12"
    rundir.write_latest(run, run / "checkpoint-4")
    assert (run / rundir.LATEST).read_text() == "checkpoint-4\n"
    assert rundir.latest_checkpoint(run) == run / "checkpoint-4"
    assert rundir.model_checkpoint(run) == run / "checkpoint-4"
    (run / rundir.BEST).mkdir()
    (run / rundir.BEST / rundir.MODEL_CONFIG).write_text("{}")
    assert rundir.model_checkpoint(run) == run / rundir.BEST
    assert rundir.split_checkpoint(run / "checkpoint-12") == (run, run / "checkpoint-12")
    assert rundir.split_checkpoint(run) == (run, run / "checkpoint-4")
    assert rundir.is_run_dir(run) and not rundir.is_run_dir(tmp_path / "elsewhere")


def test_a_run_with_only_checkpoints_loads_and_is_listed(tmp_path, tiny_bert_dir):
    """The job's layout (no best/ yet, no `last/`) is what the model loader and the catalog read."""
    import shutil

    from mlm_explorer.core.load.catalog import list_models
    from mlm_explorer.core.load.sources import resolve_source

    run = rundir.runs_dir() / "r1"
    shutil.copytree(tiny_bert_dir, run / "checkpoint-3")
    (run / "checkpoint-3" / rundir.TRAINER_STATE).write_bytes(b"state")
    rundir.write_latest(run, run / "checkpoint-3")
    rundir.write_record(run, {"model": "tiny", "status": "finished"})
    assert resolve_source(str(run)).path == run / "checkpoint-3"
    assert resolve_source("run:r1").path == run / "checkpoint-3"
    [entry] = [e for e in list_models() if e.source == "run"]
    assert entry.name == "run:r1" and entry.detail == "checkpoint: checkpoint-3"
    assert rundir.base_model(run / "checkpoint-3") == "tiny"


def test_resolve_run_by_path_name_and_prefix(tmp_path):
    run = rundir.runs_dir() / "20250101-bert"
    run.mkdir(parents=True)
    assert rundir.resolve_run(str(run)) == run
    assert rundir.resolve_run("20250101-bert") == run == rundir.resolve_run("run:20250101-bert")
    with pytest.raises(rundir.InputError, match="--resume nope: no such run"):
        rundir.resolve_run("nope")
    assert rundir.new_run_dir("org/My Model!").name.endswith("-My-Model")


def test_list_runs_reports_a_dead_running_job_as_interrupted(tmp_path):
    root = tmp_path / "runs"
    for name, status, pid in (("a", "finished", None), ("b", "running", 2 ** 22 + 12345), ("c", "running", os.getpid())):
        (root / name).mkdir(parents=True)
        rundir.write_record(root / name, {"status": status, "pid": pid, "updated": ord(name)})
    (root / "d").mkdir()
    (root / "d" / rundir.RUN_JSON).write_text("{broken")  # unreadable: listed as damaged, never a crash
    _checkpoint(root / "d", 5)
    runs = rundir.list_runs(root)
    assert [(r.name, r.status) for r in runs] == [("d", "damaged"), ("c", "running"), ("b", "interrupted"),
                                                  ("a", "finished")]
    assert runs[0].note.startswith(f"{root / 'd' / 'run.json'} cannot be read (Expecting property name")
    assert f"its model still loads with --model {root / 'd' / 'checkpoint-5'}" in runs[0].note


# -- rundir.py: writing ------------------------------------------------------------------------


def test_prune_keeps_the_newest_puts_best_back_and_removes_dead_temporaries(tmp_path):
    run = tmp_path / "run"
    for step in (2, 4, 6):
        _checkpoint(run, step)
    (run / ".old-best-99999").mkdir()  # killed between the two renames of a best/ save
    (run / ".old-best-99999" / "config.json").write_text("{}")
    (run / ".tmp-checkpoint-8-abcd-99999").mkdir()  # a dead process's half-written save
    (run / ".tmp-run.json-abcd-99999").write_text("")
    mine = run / f".tmp-checkpoint-8-abcd-{os.getpid()}"  # this process's save under way
    mine.mkdir()
    rundir.prune(run, keep=2)
    assert sorted(p.name for p in run.iterdir()) == sorted(["best", "checkpoint-4", "checkpoint-6", mine.name])
    assert (run / "best" / "config.json").is_file()


def test_swap_into_place_replaces_a_directory(tmp_path):
    final = tmp_path / "best"
    final.mkdir()
    (final / "old").write_text("")
    tmp = rundir.temp_dir(final)
    (tmp / "new").write_text("")
    rundir.swap_into_place(tmp, final)
    assert [p.name for p in final.iterdir()] == ["new"] and sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_saved_checkpoint_files_get_the_umask_mode(tmp_path, tiny_bert_dir):
    """safetensors writes model.safetensors 0600; a saved run is as readable as any other file."""
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.train.run.checkpoint import save_best, save_checkpoint

    lm = load_mlm(str(tiny_bert_dir), device="cpu")
    old = os.umask(0o022)
    try:
        ck = save_checkpoint(tmp_path, 1, lm.model, lm.tokenizer, {"step": 1})
        best = save_best(tmp_path, lm.model, lm.tokenizer)
    finally:
        os.umask(old)
    files = [p for d in (ck, best) for p in d.iterdir()] + [tmp_path / rundir.LATEST]
    assert {p.name for p in files} >= {"model.safetensors", "config.json", rundir.TRAINER_STATE}
    assert {p.name: oct(_mode(p)) for p in files} == {p.name: oct(0o644) for p in files}
    assert json.loads((ck / "config.json").read_text())["model_type"] == "bert"
