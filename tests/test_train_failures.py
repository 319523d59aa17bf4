"""How a failure becomes one line, and how the first failing rank's line wins (train/failures.py),
with a real c10d store standing in for torchrun's."""

from __future__ import annotations

import threading
import time

import pytest
import torch
import torch.distributed as dist

from mlm_explorer.errors import InputError
from mlm_explorer.train import failures
from mlm_explorer.train.failures import Failure, FailureBoard, Reporter, describe, settle


def test_describe_each_kind(tmp_path):
    assert describe(InputError("--lr must be positive")) == Failure("--lr must be positive", 2, 0, "input")
    oom = describe(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), rank=1, run_dir=tmp_path)
    assert (oom.code, oom.rank, oom.kind) == (2, 1, "oom") and "smaller --micro-batch-size" in oom.message
    assert "no checkpoint" not in oom.message and "--resume" not in oom.message  # nothing saved yet
    crash = describe(RuntimeError("boom\nsecond line"))
    assert crash == Failure("training crashed: RuntimeError: boom", 1, 0, "crash")
    assert Failure("x", 1, 2).line() == "rank 2: x" and Failure("x", 1, 0).line() == "x"


def test_the_out_of_memory_line_names_the_intact_checkpoint(tmp_path):
    from mlm_explorer.train.failures import oom_message

    (tmp_path / "checkpoint-40").mkdir()
    (tmp_path / "checkpoint-40" / "trainer_state.pt").write_bytes(b"")
    message = oom_message(tmp_path)
    assert "(checkpoint-40) is intact" in message and f"--resume {tmp_path}" in message


def test_the_first_failure_wins():
    board = FailureBoard(dist.HashStore())
    assert board.first() is None
    first = Failure("CUDA ran out of memory", 2, 1, "oom")
    assert board.publish(first) == first
    assert board.publish(Failure("training crashed: Connection closed by peer", 1, 2, "crash")) == first
    assert board.first() == first


def test_rank_0_reports_a_peer_failure_instead_of_its_consequence():
    board = FailureBoard(dist.HashStore())
    peer = Failure("CUDA ran out of memory", 2, 1, "oom")
    board.publish(peer)
    consequence = describe(RuntimeError("[gloo] Connection closed by peer"), rank=0)
    assert settle(board, consequence) == peer


def test_rank_0_waits_a_moment_for_a_dying_peer():
    board = FailureBoard(dist.HashStore())
    peer = Failure("training crashed: RuntimeError: boom", 1, 1, "crash")
    threading.Timer(0.3, board.publish, args=(peer,)).start()
    assert settle(board, describe(RuntimeError("Connection reset"), rank=0)) == peer


def test_rank_0s_own_input_error_is_its_own():
    board = FailureBoard(dist.HashStore())
    board.publish(Failure("--block-size 600 is above this model's limit", 2, 1))
    mine = describe(InputError("--block-size 600 is above this model's limit"), rank=0)
    assert settle(board, mine) == mine  # the same on every rank: no "rank 1:" prefix


def test_without_a_peer_failure_rank_0_reports_its_own(monkeypatch):
    monkeypatch.setattr(failures, "PEER_WAIT_S", 0.1)
    board = FailureBoard(dist.HashStore())
    mine = describe(RuntimeError("boom"), rank=0)
    assert settle(board, mine) == mine and board.first() == mine


def test_a_later_rank_learns_it_was_not_first():
    board = FailureBoard(dist.HashStore())
    board.publish(Failure("x", 2, 1))
    assert settle(board, Failure("y", 1, 2)).rank == 1  # rank 2 then stays quiet
    assert settle(None, Failure("y", 1, 0)) == Failure("y", 1, 0)  # one process: its own


def test_the_reporter_reports_once():
    got = []
    reporter = Reporter(got.append)
    assert reporter.report(Failure("a", 1)) and not reporter.report(Failure("b", 1))
    assert got == [Failure("a", 1)]


def test_the_watcher_reports_a_peer_failure_when_the_main_thread_does_not(monkeypatch):
    monkeypatch.setattr(failures, "POLL_S", 0.05)
    monkeypatch.setattr(failures, "GRACE_S", 0.2)
    exits = []
    monkeypatch.setattr(failures.os, "_exit", exits.append)
    board, got, stop = FailureBoard(dist.HashStore()), [], threading.Event()
    thread = failures.watch(board, Reporter(got.append), stop)
    peer = Failure("CUDA ran out of memory", 2, 1, "oom")
    board.publish(peer)
    thread.join(5)
    assert got == [peer] and exits == [2]


def test_the_watcher_leaves_it_to_a_main_thread_that_reports_in_time(monkeypatch):
    monkeypatch.setattr(failures, "POLL_S", 0.05)
    monkeypatch.setattr(failures, "GRACE_S", 1.0)
    exits = []
    monkeypatch.setattr(failures.os, "_exit", exits.append)
    board, got, stop = FailureBoard(dist.HashStore()), [], threading.Event()
    reporter = Reporter(got.append)
    thread = failures.watch(board, reporter, stop)
    board.publish(Failure("boom", 1, 1, "crash"))
    time.sleep(0.2)
    reporter.report(Failure("rank 1's line, by the main thread", 1, 1))
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and exits == [] and len(got) == 1


@pytest.mark.timeout(60)
def test_an_unreachable_store_knows_nothing():
    class Gone:
        def compare_set(self, *a):
            raise RuntimeError("Connection refused")

        check = get = compare_set

    board = FailureBoard(Gone())
    mine = Failure("x", 1, 1)
    assert board.first() is None and board.publish(mine) == mine
