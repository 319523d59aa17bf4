"""Key -> frame latency in the app's text box while a CPU training job steps on the same cores
(bench_app.py's third claim), and what the app benchmarks share: the text, the terminal size,
and waiting for the model before watching the terminal.

A key is delivered as the terminal driver delivers it (`App.post_message(events.Key)`), and its
latency is stamped when the frame that shows its effect (the typed "x" before the text, or its
absence after a backspace) is ready for the driver's write (benchkit/terminal.py). The job is
started as the app starts it (niced); its CPU seconds during the key rounds are read from /proc,
and the measurement is refused if the job was not running.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from benchkit.terminal import Terminal, until_idle

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."
SIZE = (120, 40)

async def ready_app(app, pilot, term: Terminal):
    while app.explore is None or app.explore.state.tt is None:
        await pilot.pause(0.02)
    term.watch(app)
    return app.explore


async def keys_while_training(model: str | None, device: str, keys: int, rounds: int) -> dict:
    """Key -> the frame showing its effect in the text box, while a training job steps."""
    from mlm_explorer.ui.app import MLMExplorerApp

    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for i in range(20):
        (corpus / f"doc{i}.txt").write_text((TEXT + " The cute dog walks in the green park.\n") * 80)
    os.environ["MLM_EXPLORER_DATA_DIR"] = str(work / "data")
    os.environ["MLM_EXPLORER_CACHE_DIR"] = str(work / "cache")
    app = MLMExplorerApp(model=model, device=device, persist=False, text=TEXT)
    term = Terminal(*SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await ready_app(app, pilot, term)
        args = [str(corpus), "--model", model or "bundled", "--max-steps", "100000", "--batch-size", "8",
                "--log-every", "1", "--eval-every", "100000", "--save-every", "100000", "--device", device]

        class Sink:  # the Train screen is not open: events go to a stand-in
            events: list[dict] = []

            def post_message(self, message) -> bool:
                self.events.append(message.event)
                return True

        sink = Sink()
        app.start_training(sink, args)
        try:
            deadline = time.monotonic() + 300
            while not any(e.get("event") == "step" for e in sink.events) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            stepping = any(e.get("event") == "step" for e in sink.events)
            area = app.explore.query_one("#text")
            area.focus()
            area.move_cursor((0, 0))
            await until_idle(app, term, quiet=0.2, ignore=tuple(app.workers))  # the job's event reader runs on
            steps_before = sum(e.get("event") == "step" for e in sink.events)
            pid = app.train_runner.process.pid
            cpu_before, wall_before = process_cpu_seconds(pid), time.perf_counter()
            per_round = [await type_keys(app, term, keys) for _ in range(rounds)]
            job_cpu, job_wall = process_cpu_seconds(pid) - cpu_before, time.perf_counter() - wall_before
            alive = app.train_runner.process.poll() is None
            steps_seen = sum(e.get("event") == "step" for e in sink.events) - steps_before
        finally:  # the job must not outlive the benchmark (its reader thread would keep the loop open)
            app.train_runner.cancel()
            try:
                app.train_runner.wait(60)
            except Exception:
                app.train_runner.kill()
    return {"rounds": per_round, "stepping": stepping, "steps_during": steps_seen, "job_alive": alive,
            "job_cpu_s": job_cpu, "job_wall_s": job_wall}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc/PID/stat), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def type_keys(app, term: Terminal, keys: int) -> list[float]:
    """`keys` keys into the text box (an "x" at its start, then a backspace, ...): seconds from
    each key to the written frame that shows its effect."""
    from textual import events

    latencies = []
    for i in range(keys):
        typed = i % 2 == 0
        shown = asyncio.Event()
        shown_at: list[float] = []

        def on_frame(index: int, typed=typed) -> None:
            if shown_at:
                return
            line = next((row for row in term.lines() if "Paris is the capital" in row), "")
            at = line.find("Paris is the capital")
            if at > 0 and (line[at - 1] == "x") == typed:
                shown_at.append(term.frames[index][1])
                shown.set()

        term.on_frame = on_frame
        start = time.perf_counter()
        app.post_message(events.Key("x", "x") if typed else events.Key("backspace", None))
        try:
            await asyncio.wait_for(shown.wait(), 60)
        except asyncio.TimeoutError:
            raise SystemExit(f"key {i}: its effect never reached the screen\n" + "\n".join(term.lines())) from None
        finally:
            term.on_frame = None
        latencies.append(shown_at[0] - start)
        await asyncio.sleep(0.05)  # a person types ~20 keys per second at most
    return latencies
