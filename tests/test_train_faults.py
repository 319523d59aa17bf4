"""Fault injection: the job is killed (SIGKILL, in a process of its own) or fails (an exception,
in this process) at each step of every save - the temporary write, the trainer state, the
rename, best/ moved aside, the `latest` pointer and its temporary file, the prune, run.json -
and each time the run directory must load: run.json parses, the checkpoint `latest` names
loads (weights and trainer state), the run loads as a model, and --resume continues from the
newest complete checkpoint (step 0 when there is none yet) to the end, leaving no temporary.

One run: --max-steps 4, an evaluation and a checkpoint every 2 steps, --keep 1. Its saves, in
order: step 2: best/ (weights #1, rename #1), checkpoint-2 (weights #2, trainer state #1,
rename #2, pointer #1); step 4: best/ (weights #3, best moved aside #1, rename #3),
checkpoint-4 (weights #4, trainer state #2, rename #4, pointer #2, prune #1); run.json: #1 at
the start, #2-#4 at step 2 (eval, best, checkpoint), #5-#7 at step 4, #8 the end.
"""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from faults import install
from mlm_explorer import rundir
from train_helpers import FAST, of, run_job, small_corpus, subprocess_env

pytestmark = [pytest.mark.timeout(600),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="faults.py reads /proc/self/fd")]

# --keep-duplicates: the small corpus repeats its lines; kept, the held-out loss falls at each evaluation,
# so every evaluation writes best/ (the saves this test counts)
RUN_ARGS = ["--max-steps", 4, "--batch-size", 4, "--lr", 3e-3, "--save-every", 2, "--eval-every", 2, "--keep", 1,
            "--keep-duplicates"]

# (point, nth) -> the step --resume must continue from (the newest complete checkpoint)
KILLS = {
    ("weights", 1): 0,        # the very first save (best/ at step 2): no checkpoint yet
    ("trainer-state", 1): 0,  # checkpoint-2 half written
    ("rename", 2): 0,         # checkpoint-2 complete under its temporary name
    ("pointer", 1): 2,        # checkpoint-2 in place, `latest` not written: the newest complete one
    ("run.json", 4): 2,       # run.json half written after checkpoint-2
    ("best-aside", 1): 2,     # step 4: the old best/ moved aside, the new one not in place
    ("weights", 4): 2,        # checkpoint-4's weights written, no trainer state
    ("trainer-state", 2): 2,  # checkpoint-4's trainer state half written
    ("pointer-temp", 2): 2,   # `latest` -> checkpoint-4 written to its temporary file only
    ("prune", 1): 4,          # checkpoint-2 half deleted
    ("run.json", 8): 4,       # the final run.json half written: still "running"
}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return small_corpus(tmp_path_factory.mktemp("faults") / "corpus")


def _leftovers(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith((".tmp-", ".old-")))


def assert_state_loads(run: Path, resume_step: int) -> None:
    """What a user can do with the run right now: read it, load it, see where it would resume."""
    from mlm_explorer.core.load.models import load_mlm
    from mlm_explorer.train.run.checkpoint import load_trainer_state

    record = rundir.read_record(run)  # parses: never half a run.json
    assert record["config"]["max_steps"] == 4
    latest = rundir.latest_checkpoint(run)
    if resume_step == 0:
        assert latest is None
    else:
        assert latest == rundir.checkpoint_dir(run, resume_step)
        assert load_trainer_state(latest)["step"] == resume_step
        assert load_mlm(str(latest), device="cpu").model is not None
    if rundir.model_checkpoint(run) is not None:
        lm = load_mlm(str(run), device="cpu")
        assert lm.source == "run" and Path(lm.path) == rundir.model_checkpoint(run)


def assert_resumes(run: Path, resume_step: int) -> None:
    rc, events = run_job(["--resume", run, "--max-steps", 6, *FAST])
    assert rc == 0, of(events, "error")
    assert of(events, "started")[0]["step"] == resume_step
    assert of(events, "finished")[0]["step"] == 6
    assert rundir.latest_checkpoint(run) == rundir.checkpoint_dir(run, 6)
    assert _leftovers(run) == []
    assert rundir.read_record(run)["status"] == "finished"


@pytest.mark.parametrize("point, nth", list(KILLS), ids=[f"{p}#{n}" for p, n in KILLS])
def test_a_kill_at_each_step_of_a_save_leaves_a_run_that_loads_and_resumes(point, nth, corpus, tiny_bert_dir, tmp_path):
    run = tmp_path / "run"
    faults = Path(__file__).with_name("faults.py")
    proc = subprocess.run([sys.executable, str(faults), point, str(nth), str(corpus), "--model", str(tiny_bert_dir),
                           *map(str, RUN_ARGS), "--output", str(run), *FAST],
                          env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]  # it died at that point, not elsewhere
    assert rundir.read_run(run).status == "interrupted"
    assert_state_loads(run, KILLS[point, nth])
    assert_resumes(run, KILLS[point, nth])


def _disk_full():
    raise OSError(errno.ENOSPC, "No space left on device")


def _safetensors_full():
    from safetensors import SafetensorError

    raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def _torch_short_write():
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")


# (point, nth, what fails) -> what the job does: the step of the checkpoint it keeps, and whether
# it stops (exit 2, one line) or goes on (housekeeping and run.json failures cost nothing)
FAILS = {
    ("weights", 2, _safetensors_full): (0, "disk full while writing checkpoint-2"),
    ("trainer-state", 2, _torch_short_write): (2, "could not write checkpoint-4"),
    ("rename", 3, _disk_full): (2, "disk full while writing best/"),
    ("best-aside", 1, _disk_full): (2, "disk full while writing best/"),
    ("pointer", 2, _disk_full): (2, "disk full while writing checkpoint-4"),
    ("prune", 1, _disk_full): (4, None),
    ("run.json", 3, _disk_full): (4, None),
}


@pytest.mark.parametrize("point, nth, fail", list(FAILS), ids=[f"{p}#{n}-{f.__name__[1:]}" for p, n, f in FAILS])
def test_a_failure_at_each_step_of_a_save_is_one_line_and_leaves_no_temporary(point, nth, fail, corpus, tiny_bert_dir,
                                                                              tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.MonkeyPatch.context() as faulty:
        install(point, nth, fail, faulty.setattr)
        rc, events = run_job([corpus, "--model", tiny_bert_dir, *RUN_ARGS, "--output", run, *FAST])
    kept, message = FAILS[point, nth, fail]
    if message is None:
        assert rc == 0 and of(events, "finished")
    else:
        assert rc == 2
        [error] = of(events, "error")
        assert error["message"].startswith(f"{message} in {run}")
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: {error['message']}"
        assert rundir.read_record(run)["status"] == "failed"
    assert [p for p in _leftovers(run) if not p.startswith(".old-checkpoint-")] == []
    assert_state_loads(run, kept)
    if message is not None:
        assert_resumes(run, kept)
