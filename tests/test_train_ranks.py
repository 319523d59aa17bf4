"""Several processes under torchrun on the CPU (gloo): two, three, and two "machines" on this
host; what each rank does is recorded or broken by tests/rank_job.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from train_helpers import REPO, of, run_job, small_corpus, subprocess_env

pytestmark = pytest.mark.timeout(400)
RANK_JOB = str(REPO / "tests" / "rank_job.py")
TINY = ["--device", "cpu", "--threads", "1", "--log-every", "1", "--eval-every", "100", "--save-every", "100"]


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLM_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))


def torchrun(tmp_path, nproc: int, *args, env: dict | None = None, launcher: list[str] | None = None,
             timeout: float = 300) -> tuple[subprocess.CompletedProcess, list[dict]]:
    cmd = [sys.executable, "-m", "torch.distributed.run", *(launcher or ["--standalone"]),
           "--nproc_per_node", str(nproc), RANK_JOB, *map(str, args)]
    proc = subprocess.run(cmd, env={**subprocess_env(tmp_path), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, events


def _tail(stderr: str) -> str:
    """A failed run's stderr, without torchrun's own report after the job's lines."""
    return stderr.split("Traceback (most recent call last):\n  File \"<frozen runpy>\"")[0][-4000:]


def ranks(record: Path, n: int) -> list[dict]:
    return [json.loads((record / f"rank-{r}.json").read_text()) for r in range(n)]


def test_batch_smaller_than_the_world_is_one_line(tmp_path):
    corpus = small_corpus(tmp_path / "corpus")
    proc, events = torchrun(tmp_path, 3, corpus, "--batch-size", 2, "--output", tmp_path / "run", *TINY)
    assert proc.returncode != 0
    assert proc.stdout.strip().count("\n") == 0 and [e["event"] for e in events] == ["error"]  # rank 0 only
    message = events[0]["message"]
    assert "--batch-size 2 is smaller than the 3 processes" in message and "--batch-size 3 or more" in message
    ours = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert ours == [f"error: {message}"]  # the other ranks stay quiet: same options, same answer
    assert not (tmp_path / "run").exists()


def test_three_ranks_share_the_step_like_one_process(tmp_path, tiny_bert_dir):
    """mlm+nsp on 3 ranks, a batch of 7 split 3/2/2 and micro-batches of 2: the data order and
    token counts of one process, each rank its own masks and dropout, one writer."""
    corpus = small_corpus(tmp_path / "corpus")
    common = [corpus, "--model", tiny_bert_dir, "--objective", "mlm+nsp", "--max-steps", 3, "--batch-size", 7,
              "--micro-batch-size", 2, *TINY]
    record = tmp_path / "record"
    proc, events = torchrun(tmp_path, 3, *common, "--output", tmp_path / "run", env={"RANK_JOB_RECORD": str(record)})
    assert proc.returncode == 0, _tail(proc.stderr)
    rc, single = run_job([*common, "--output", tmp_path / "single"])
    assert rc == 0, single
    assert len(of(events, "started")) == 1 and of(events, "started")[0]["world_size"] == 3
    assert [e["step"] for e in of(events, "step")] == [1, 2, 3]
    # every rank counts the whole step's tokens: the same as one process with the same data order
    assert [e["tokens"] for e in of(events, "step")] == [e["tokens"] for e in of(single, "step")]
    assert of(events, "finished")[0]["tokens"] == of(single, "finished")[0]["tokens"]
    seen = ranks(record, 3)
    assert all(r["world"] == 3 for r in seen)
    assert len({r["masks"]["1"] for r in seen}) == 3  # own masking generator per rank
    assert len({r["dropout"] for r in seen}) == 3  # own dropout per rank (NSP head set up without reseeding)
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.is_dir()) == ["best", "checkpoint-3"]


def test_a_failure_on_rank_1_reaches_rank_0s_stream_even_when_rank_0_is_stuck(tmp_path, tiny_bert_dir):
    """CUDA runs out of memory on rank 1 while rank 0 waits (as in an NCCL collective, which no
    signal interrupts): rank 0's watcher thread reports rank 1's line - with rank 0's view of the
    checkpoint that survived - in the event stream and run.json, before torchrun's SIGKILL.
    (The other path, rank 0 failing on a closed connection, is tests/test_train_failures.py.)"""
    corpus = small_corpus(tmp_path / "corpus")
    run = tmp_path / "run"
    t0 = time.monotonic()
    proc, events = torchrun(tmp_path, 2, corpus, "--model", tiny_bert_dir, "--max-steps", 5, "--batch-size", 4,
                            "--save-every", 1, "--output", run, *TINY[:-2],
                            env={"RANK_JOB_FAIL": "1:3:oom", "RANK_JOB_STALL": "0:3"})
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 100  # not the 120 s sleep, nor torchrun's SIGKILL after 30 s
    [error] = of(events, "error")
    assert error["rank"] == 1 and error["message"].startswith("rank 1: CUDA ran out of memory")
    assert "(checkpoint-2) is intact" in error["message"] and f"--resume {run}" in error["message"]
    saved = json.loads((run / "run.json").read_text())
    assert saved["status"] == "failed" and saved["error"] == error["message"] and saved["failed_rank"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_laptop_run_resumes_on_two_machines(tmp_path, tiny_bert_dir, monkeypatch):
    """A run of one process, continued by two torchrun agents joined by a c10d rendezvous on
    127.0.0.1 (one process each, as two machines): each rank gets fresh masks of its own (not
    rank 0's saved stream on both) and the job says so in one line; every step's tokens are an
    uninterrupted one-process run's (the same shards); one checkpoint writer; the token cache
    is filled by rank 0 and read by the other machine."""
    corpus = small_corpus(tmp_path / "corpus")
    common = [corpus, "--model", tiny_bert_dir, "--batch-size", 5, *TINY]
    run = tmp_path / "run"
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "laptop-cache"))  # the machines start empty
    rc, first = run_job([*common, "--max-steps", 2, "--save-every", 2, "--output", run])
    assert rc == 0, first
    monkeypatch.setenv("MLM_EXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    port = _free_port()
    launcher = ["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
                "--rdzv-id", f"test-{port}", "--local-addr", "127.0.0.1"]
    record = tmp_path / "record"
    env = {**subprocess_env(tmp_path), "GLOO_SOCKET_IFNAME": "lo", "RANK_JOB_RECORD": str(record)}
    cmd = [sys.executable, "-m", "torch.distributed.run", *launcher, "--nproc_per_node", "1", RANK_JOB,
           "--resume", str(run), "--max-steps", "4", *TINY]
    nodes = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [_tail(err) for _, err in outputs]
    streams = [[json.loads(line) for line in out.splitlines() if line.startswith("{")] for out, _ in outputs]
    [events] = [s for s in streams if s]  # only rank 0's machine speaks
    assert of(events, "started")[0]["world_size"] == 2 and of(events, "started")[0]["step"] == 2
    [line] = [e["message"] for e in of(events, "log") if "resumed at step 2" in e["message"]]
    assert "written by 1 process(es) and this run has 2" in line
    seen = ranks(record, 2)
    assert seen[0]["masks"]["3"] != seen[1]["masks"]["3"]
    rc, single = run_job([*common, "--max-steps", 4, "--output", tmp_path / "single"])
    assert rc == 0, single
    assert [e["tokens"] for e in of(events, "step")] == [e["tokens"] for e in of(single, "step")][2:]
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["best", "checkpoint-2", "checkpoint-4"]
    assert [r["cache"] for r in seen] == [{"hits": 0, "misses": 3}, {"hits": 3, "misses": 0}]


def test_ddp_gradient_equals_the_whole_batch_gradient(tmp_path, tiny_bert_dir):
    """Two ranks with 3 and 2 rows of one batch (and very different masked-token counts): the
    averaged gradient is the one-process gradient of the whole batch (tests/ddp_parity.py)."""
    out = tmp_path / "parity.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "ddp_parity.py"), str(tiny_bert_dir), str(out)]
    proc = subprocess.run(cmd, env=subprocess_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, _tail(proc.stderr)
    relative_error = json.loads(out.read_text())
    assert relative_error["loop"] < 1e-5
    assert relative_error["per_rank"] > 1e-2  # each rank dividing by its own count is measurably wrong
