"""Run the training job in its own process and read its events (used by the CLI and the app).

    runner = TrainingRunner(["notes/", "--max-steps", "100"])
    runner.start()
    for event in runner.events():       # blocks; ends when the process exits
        ...
    runner.cancel()                     # from another thread: SIGTERM -> checkpoint, `cancelled`

`TrainingRunner(args, module=AUDIT_MODULE)` runs the masking audit (train/audit.py) the same way:
its events are `log`, then one `audit` (or `error`).

A crash (a non-zero exit without an `error` or `cancelled` event, e.g. killed by the OOM
killer) becomes one last `error` event; every `error` event carries `stderr`, the job's
last stderr lines. A killed job's stdout may end mid-line: that line becomes a `log` event.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from typing import Iterator, Sequence

from mlm_explorer.train.run.events import parse_line

STDERR_LINES = 40


TRAIN_MODULE = "mlm_explorer.train"
AUDIT_MODULE = "mlm_explorer.train.audit"   # the masking audit: the job's data and masking, no training


class TrainingRunner:
    def __init__(self, args: Sequence[str], *, env: dict | None = None, python: str | None = None,
                 module: str = TRAIN_MODULE) -> None:
        self.args = list(args)
        self.module = module
        self.env = env
        self.python = python or sys.executable
        self.process: subprocess.Popen | None = None
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._stderr_thread: threading.Thread | None = None
        self.cancelled = False

    @property
    def command(self) -> list[str]:
        return [self.python, "-m", self.module, *self.args]

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def start(self) -> None:
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env=env, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
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

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None
        return self.process.wait(timeout)
