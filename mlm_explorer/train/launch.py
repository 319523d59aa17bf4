"""The launcher: start the training job (train/job.py) in its own process and read its events.

Used by the CLI (`mlm-explorer train`, cli/train.py) and by the app (ui/app.py start_training).
Both go through `job_launch`, the one place that builds the job's command line, environment and
scheduling priority.

    runner = TrainingRunner(["notes/", "--max-steps", "100"])
    runner.start()
    for event in runner.events():       # blocks; ends when the process exits
        ...
    runner.cancel()                     # from another thread: SIGTERM -> checkpoint, `cancelled`

A crash (a non-zero exit without an `error` or `cancelled` event, e.g. killed by the OOM
killer) becomes one last `error` event; every `error` event carries `stderr`, the job's
last stderr lines. A killed job's stdout may end mid-line: that line becomes a `log` event.

`TrainingRunner(args, module=AUDIT_MODULE)` runs the masking audit (train/audit.py) the same way:
its events are `log` lines, then one `audit` (or `error`).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from mlm_explorer.train.parent import LAUNCHED_ENV
from mlm_explorer.train.run.events import parse_line

STDERR_LINES = 40
APP_JOB_NICE = 10  # the app's job: a lower scheduling priority, so the app's keys and redraws go first
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds mlm_explorer/


@dataclass(frozen=True)
class JobLaunch:
    command: list[str]  # python -m mlm_explorer.train ARGS
    env: dict[str, str]
    nice: int  # the job's niceness once started (0: the launcher's own)


TRAIN_MODULE = "mlm_explorer.train"
AUDIT_MODULE = "mlm_explorer.train.audit"   # the masking audit: the job's data and masking, no training


def job_launch(args: Sequence[str], *, env: Mapping[str, str] | None = None, python: str | None = None,
               nice: int = 0, module: str = TRAIN_MODULE) -> JobLaunch:
    """The job's command, environment and priority, the same for the CLI and the app.

    - PYTHONPATH starts with the directory holding this package, so the job imports this very
      code, installed or not (a source checkout run from anywhere); an installed package's
      site-packages is not added (it would shadow the standard library).
    - PYTHONUNBUFFERED=1: events arrive as they are written.
    - MLM_EXPLORER_LAUNCHED=1: the launcher owns the job, which stops when it ends, even when
      the launcher runs under nohup (parent.py).
    - TOKENIZERS_PARALLELISM=false unless set: the job's threads are --threads, and torch.compile's
      forked workers would otherwise print the tokenizers fork warning.
    """
    env = dict(os.environ if env is None else env)
    if Path(_PACKAGE_ROOT).name not in ("site-packages", "dist-packages"):
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != _PACKAGE_ROOT]
        env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_ROOT, *paths])
    env["PYTHONUNBUFFERED"] = "1"
    env[LAUNCHED_ENV] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return JobLaunch([python or sys.executable, "-m", module, *args], env, nice)


class TrainingRunner:
    """Runs one training job; `nice` > 0 lowers its priority (the app passes APP_JOB_NICE)."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None, python: str | None = None,
                 nice: int = 0, module: str = TRAIN_MODULE) -> None:
        self.launch = job_launch(args, env=env, python=python, nice=nice, module=module)
        self.process: subprocess.Popen | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self.cancelled = False

    @property
    def command(self) -> list[str]:
        return self.launch.command

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.launch.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=self.launch.env, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        if self.launch.nice and hasattr(os, "setpriority"):
            try:
                os.setpriority(os.PRIO_PROCESS, self.process.pid, self.launch.nice)
            except OSError:
                pass  # not allowed here: the job runs at the launcher's priority
        self._stderr_thread = threading.Thread(target=self._read_stderr, name="train-stderr", daemon=True)
        self._stderr_thread.start()

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self.stderr_tail.append(line.rstrip("\n"))

    def events(self) -> Iterator[dict]:
        """Yield each event as the job writes it; a final `error` event if it crashed."""
        if self.process is None:
            self.start()
        assert self.process is not None and self.process.stdout is not None
        ended = False  # a finished, error or cancelled event was seen
        held: list[dict] = []  # error events wait for the process to end, to carry its stderr
        for line in self.process.stdout:
            if not line.strip():
                continue
            event = parse_line(line)
            if event["event"] in ("error", "cancelled", "finished"):
                ended = True
            if event["event"] == "error":
                held.append(event)
                continue
            yield event
        rc = self.process.wait()
        self._join_stderr(timeout=5)
        for event in held:
            event["stderr"] = list(self.stderr_tail)
            yield event
        if rc != 0 and not ended:
            yield {"event": "error", "message": self._crash_message(rc), "returncode": rc,
                   "stderr": list(self.stderr_tail)}

    def _join_stderr(self, timeout: float) -> None:
        if self._stderr_thread is not None and self.process is not None and self.process.poll() is not None:
            self._stderr_thread.join(timeout)

    def _crash_message(self, rc: int) -> str:
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f"signal {-rc}"
            why = " (out of memory?)" if -rc == signal.SIGKILL and not self.cancelled else ""
            return f"the training process was killed by {name}{why}; resume it with --resume RUN"
        last = self.stderr_tail[-1] if self.stderr_tail else "no output"
        return f"the training process exited with status {rc}: {last}"

    def cancel(self) -> None:
        """Ask the job to stop: it saves a checkpoint, sends `cancelled` and exits."""
        self.cancelled = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop at once (no checkpoint): the last saved one stays loadable."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
