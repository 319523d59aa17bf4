"""The job notices when the process that started it is gone, and stops as if cancelled.

`mlm-explorer train` (or the app) may die without stopping its job: killed (`kill -9`),
crashed, or its terminal closed. The job would then train on with nobody reading its events,
and die of a broken pipe at its next event, its run marked `failed`. Instead:

    1. Linux: prctl(PR_SET_PDEATHSIG, SIGTERM) asks the kernel to send the job SIGTERM when its
       parent dies (at once, even while the model loads);
    2. everywhere: a daemon thread compares os.getppid() with the parent it started with,
       once a second, and sends the job SIGTERM itself when it changed;
    3. events written to a closed pipe are dropped (events.py), and stderr goes to os.devnull.

This holds for a job its launcher owns, and for one started by hand with SIGHUP at its default.
A job started by hand under `nohup` (SIGHUP ignored) was asked to outlive its terminal and
shell, so it trains on when they end (`should_watch`). The launcher marks its jobs with
MLM_EXPLORER_LAUNCHED=1 in their environment (launch.py), so they stop with it even under nohup.

SIGTERM is the launcher's own cancel: the loop finishes its step, saves a checkpoint and ends
`cancelled`; run.json then says why (`stopped`: the launcher ended) and how to continue.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 1.0
LAUNCHED_ENV = "MLM_EXPLORER_LAUNCHED"  # "1": started by the launcher (launch.job_launch), which owns the job


def should_watch(environ=None) -> bool:
    """Whether the job stops when its parent ends: always under the launcher; by hand, unless
    SIGHUP is ignored (nohup)."""
    environ = os.environ if environ is None else environ
    if environ.get(LAUNCHED_ENV) == "1":
        return True
    return signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN


class ParentWatch:
    def __init__(self) -> None:
        self.parent = os.getppid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def gone(self) -> bool:
        return os.getppid() != self.parent

    def start(self) -> "ParentWatch":
        _ask_kernel()
        if self.gone:  # died before we asked
            self._on_gone()
        self._thread = threading.Thread(target=self._poll, name="parent-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_S):
            if self.gone:
                self._on_gone()
                return

    def _on_gone(self) -> None:
        try:  # nobody reads stderr any more: a write there must not fail
            sys.stderr = open(os.devnull, "w")
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)


def _ask_kernel() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the poll still notices
