"""A failure as one line and an exit status, and how the first failing rank's line reaches rank 0.

    describe(exc)  UserError          -> its message, 2
                   CUDA out of memory -> what to do (smaller micro-batch; the checkpoint is intact), 2
                   anything else      -> "training crashed: Type: first line", 1 (traceback on stderr)

Under torchrun only rank 0 speaks (events, run.json). When another rank fails - CUDA out of
memory on rank 1, a file that one machine cannot read - rank 0 sees only a consequence
("Connection closed by peer" on gloo), or on NCCL waits in a collective until torchrun kills
it. So:

1. every failing rank publishes its line in the process group's store (torchrun's rendezvous
   store, which outlives the worker); the first one wins (compare_set);
2. rank 0, on its own failure, reports the first failure of another rank instead of its
   consequence - unless its own is a one-line input error (the same on every rank);
3. rank 0 also watches the store from a thread: when another rank has failed and the main
   thread has not reported within GRACE_S (it is stuck in a collective), the thread reports
   and ends the process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from mlm_explorer.errors import UserError

KEY = "mlm-explorer/first-failure"
POLL_S = 0.5
GRACE_S = 10.0  # how long rank 0's main thread gets to report a peer's failure itself (torchrun
# kills the remaining workers 30 s after it sends them SIGTERM)
PEER_WAIT_S = 1.0


@dataclass(frozen=True)
class Failure:
    message: str  # one line
    code: int  # exit status: 2 input / environment, 1 crash
    rank: int = 0
    kind: str = "input"  # input | oom | crash

    def line(self) -> str:
        """The message as rank 0 reports it: prefixed with the rank when another rank failed."""
        return self.message if self.rank == 0 else f"rank {self.rank}: {self.message}"


def oom_message(run_dir: Path | None) -> str:
    """What to do after CUDA ran out of memory, with the checkpoint that survived (rank 0 says
    it from its own view of the run directory, which other machines may not share)."""
    from mlm_explorer.rundir import latest_checkpoint

    advice = ("use a smaller --micro-batch-size (gradient accumulation keeps --batch-size) "
              "or a smaller --block-size")
    latest = latest_checkpoint(run_dir) if run_dir is not None and Path(run_dir).is_dir() else None
    if latest is None:
        return f"CUDA ran out of memory; {advice}"
    return (f"CUDA ran out of memory; the last checkpoint ({latest.name}) is intact: continue with "
            f"--resume {run_dir} and {advice}")


def describe(exc: BaseException, *, rank: int = 0, run_dir: Path | None = None) -> Failure:
    """The one line and exit status for `exc` (see the module docstring)."""
    if isinstance(exc, UserError):
        return Failure(str(exc), 2, rank)
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return Failure(oom_message(run_dir), 2, rank, "oom")
    first = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return Failure(f"training crashed: {first}", 1, rank, "crash")


class FailureBoard:
    """The first failure of any rank, kept in the store (see the module docstring)."""

    def __init__(self, store) -> None:
        self.store = store

    def publish(self, failure: Failure) -> Failure:
        """Record `failure` unless another came first; return the first one."""
        value = json.dumps(asdict(failure))
        try:
            return Failure(**json.loads(self.store.compare_set(KEY, "", value)))
        except Exception:  # noqa: BLE001 - the store is gone (rank 0's machine died): keep ours
            return failure

    def first(self) -> Failure | None:
        try:
            if self.store.check([KEY]):
                return Failure(**json.loads(self.store.get(KEY)))
        except Exception:  # noqa: BLE001 - an unreachable store knows nothing
            return None
        return None

    def wait_first(self, timeout: float) -> Failure | None:
        """The first failure, waiting up to `timeout` s for one (a peer may still be reporting)."""
        end = time.monotonic() + timeout
        while True:
            found = self.first()
            if found is not None or time.monotonic() >= end:
                return found
            time.sleep(0.05)


def settle(board: FailureBoard | None, mine: Failure) -> Failure:
    """The failure this rank reports: its own, or (rank 0) the first failure of another rank
    when its own is not an input error (a crash on rank 0 is then most likely a consequence:
    the peer's connection closed). Publishes this rank's failure either way."""
    if board is None:
        return mine
    if mine.rank == 0 and mine.kind != "input":
        peer = board.wait_first(PEER_WAIT_S)  # a dying peer publishes before its sockets close
        if peer is not None and peer.rank != 0:
            return peer
    first = board.publish(mine)
    return mine if mine.rank == 0 else first


class Reporter:
    """Reports one failure, once, from whichever thread gets there first."""

    def __init__(self, report: Callable[[Failure], None]) -> None:
        self._report = report
        self._lock = threading.Lock()
        self.reported: Failure | None = None

    def report(self, failure: Failure) -> bool:
        """Report `failure` unless one was reported already; True if this call did."""
        with self._lock:
            if self.reported is not None:
                return False
            self.reported = failure
            self._report(failure)
            return True


def watch(board: FailureBoard, reporter: Reporter, stop: threading.Event) -> threading.Thread:
    """Rank 0's watcher thread: another rank's failure, unreported by the main thread within
    GRACE_S, is reported here and ends the process with that failure's status."""
    def loop() -> None:
        while not stop.wait(POLL_S):
            failure = board.first()
            if failure is None or failure.rank == 0:
                continue
            if stop.wait(GRACE_S):
                return  # the main thread ended (and reported) in time
            if reporter.report(failure):
                os._exit(failure.code)  # the main thread is stuck in a collective: nothing else to do
            return

    thread = threading.Thread(target=loop, name="peer-failures", daemon=True)
    thread.start()
    return thread
