"""The app's claims, measured headless (App.run_test) on the bundled model (or --model DIR).

1. time to first frame (fresh process; torch must not be imported yet) and until the model is ready;
2. mask toggle -> distribution on the screen, against the bare model forward on the same input
   (the UI's overhead as a ratio; goal <= 1.2x). The toggle is a space key on the token strip,
   delivered as the terminal driver delivers keys; "on the screen" is the end of the first frame
   whose bytes (rendered as a real driver would; see `Terminal`) put the new distribution's
   label, entropy and top candidates on a replayed terminal grid. Before each toggle and each
   bare forward the app is idle (no worker, message, layout, repaint or frame pending), and the
   bare forward runs on the app's own model thread (same torch threads) on the same ids;
3. input latency (key -> text box updated) while a training job runs (goal: p95 < 50 ms).

    python benchmarks/bench_app.py [--model DIR] [--toggles 30] [--keys 40] [--no-train]
    python benchmarks/bench_app.py --screenshot docs/screenshot.svg   # only writes the screenshot
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEXT = "Paris is the capital of France, and Berlin is the capital of Germany."


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def first_frame(model: str | None) -> dict:
    """In a fresh interpreter: seconds from start to the first frame and to the model being ready."""
    code = textwrap.dedent(f"""
        import time
        t0 = time.perf_counter()
        import asyncio, sys
        from mlm_explorer.ui.app import MLMExplorerApp
        async def main():
            app = MLMExplorerApp(model={model!r}, device="cpu", persist=False)
            async with app.run_test(size=(120, 40)) as pilot:
                while app.first_frame_at is None:
                    await pilot.pause(0.005)
                while app.explore is None or app.explore.state.tt is None:
                    await pilot.pause(0.01)
                print(app.first_frame_at - t0, app.model_ready_at - t0, app.torch_at_first_frame)
        asyncio.run(main())
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    frame, ready, torch_loaded = out.stdout.split()[-3:]
    return {"first_frame_s": float(frame), "model_ready_s": float(ready), "torch_at_first_frame": torch_loaded}


class Terminal:
    """What a terminal would show: the frames the app writes, applied to a grid of cells.

    Headless (`App.run_test`), Textual composes every frame but `App._display` returns before
    turning it into bytes for the driver. `watch(app)` does that last step as a real driver
    would (`CompositorUpdate.render_segments` + the cursor move), stamps the moment the bytes
    are ready ("written"), then applies them here, so a benchmark can check what is on the
    screen after each frame.
    """

    CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\n")

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.cells = [[" "] * width for _ in range(height)]
        self.frames: list[tuple[float, float, float, int]] = []  # (start, written, thread CPU, bytes) per frame
        self.on_frame = None  # called after every frame with its index

    def watch(self, app) -> None:
        from rich.control import Control
        from textual._compositor import CompositorUpdate

        display = app._display

        def written(screen, renderable) -> None:
            start = time.perf_counter()
            display(screen, renderable)
            if (renderable is None or app._batch_count or not app.is_headless or not app._running
                    or app._closed or app._driver is None or not isinstance(renderable, CompositorUpdate)):
                return  # nothing written (what App._display skips), or a real driver wrote it
            data = renderable.render_segments(app.console)
            cursor = app.screen.outer_size.clamp_offset(app.cursor_position)
            data += Control.move_to(*cursor).segment.text
            self.frames.append((start, time.perf_counter(), time.thread_time(), len(data)))
            self.feed(data)
            if self.on_frame is not None:
                self.on_frame(len(self.frames) - 1)

        app._display = written

    def feed(self, data: str) -> None:
        from rich.cells import get_character_cell_size

        x = y = 0
        pos = 0
        for match in self.CSI.finditer(data + "\x1b[0m"):
            for ch in data[pos:match.start()]:
                size = get_character_cell_size(ch)
                if 0 <= y < self.height and 0 <= x < self.width and size:
                    self.cells[y][x] = ch
                    if size == 2 and x + 1 < self.width:
                        self.cells[y][x + 1] = ""
                x += size
            pos = match.end()
            if match.group(2) == "H":
                row, _, col = (match.group(1) or "1;1").partition(";")
                y, x = int(row or 1) - 1, int(col or 1) - 1

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.cells]


def wanted(screen) -> list[str]:
    """Strings that are on the screen only once the current result's distribution is drawn."""
    from mlm_explorer.ui.widgets.distribution import shown

    st = screen.state
    p = st.prediction_at(st.selected)
    if p is None:
        return []
    label = f"mask {st.positions().index(st.selected) + 1}/{len(st.positions())} · position {st.selected}"
    out = [label, f"entropy {p.entropy:.2f} nats · outside top-{len(p.candidates)} {p.mass_outside:.1%}"]
    out += [f"{shown(c)}".rstrip() + "\0" + f"{c.probability:6.1%}".strip() for c in p.candidates[:3]]
    return out


def on_screen(term: Terminal, strings: list[str]) -> bool:
    lines = term.lines()
    for s in strings:
        parts = s.split("\0")  # parts that must appear in this order on one line
        if not any(_in_order(line, parts) for line in lines):
            return False
    return True


def _in_order(line: str, parts: list[str]) -> bool:
    at = 0
    for part in parts:
        at = line.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return True


async def until_idle(app, term: Terminal, quiet: float = 0.05, timeout: float = 30.0) -> None:
    """Wait until the app has nothing left to do: no worker, no queued message, no pending
    layout or repaint, and no frame written for `quiet` seconds (polled, outside any timing)."""
    screen = app.screen
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        nodes = [app, *screen.walk_children(with_self=True)]
        busy = (any(w.is_running or w.state.name == "PENDING" for w in app.workers)
                or any(n._message_queue.qsize() for n in nodes)
                or screen._layout_required or screen._scroll_required or screen._repaint_required
                or screen._dirty_widgets or screen._callbacks or app._batch_count
                or any(getattr(n, "_layout_required", False) or getattr(n, "_repaint_required", False) for n in nodes))
        last = term.frames[-1][1] if term.frames else 0.0
        if not busy and time.perf_counter() - last >= quiet:
            return
    raise SystemExit("the app did not become idle")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def toggle_vs_forward(model: str | None, toggles: int) -> dict:
    """Mask toggle (a space key on the token strip) -> the frame that shows the new distribution,
    against the bare model forward on the same input ids, on the model thread, interleaved."""
    import torch
    from textual import events

    from mlm_explorer.ui import workers as jobs
    from mlm_explorer.ui.app import MLMExplorerApp
    from mlm_explorer.ui.messages import PredictionReady

    size = (120, 40)
    app = MLMExplorerApp(model=model, device="cpu", persist=False, text=TEXT)
    compute: dict[int, float] = {}

    def hook(message) -> None:  # the core call's own time, measured on the model thread
        if isinstance(message, PredictionReady):
            compute[message.request] = message.seconds

    term = Terminal(*size)
    async with app.run_test(size=size, message_hook=hook) as pilot:
        while app.explore is None or app.explore.state.tt is None:
            await pilot.pause(0.02)
        term.watch(app)
        screen = app.explore
        tt = screen.state.tt
        words = [t.index for t in tt.tokens if t.maskable]
        keep, flip = words[4], words[-3]
        screen.toggle(keep)  # one mask stays; the toggled one comes and goes
        screen.strip.focus()
        screen.strip.cursor = flip
        await until_idle(app, term, quiet=0.3)
        lm = app.lm

        def forward(ids: list[int]) -> float:
            with torch.inference_mode():
                x = torch.tensor([ids], device=lm.device)
                start = time.perf_counter()
                lm.model(input_ids=x, attention_mask=torch.ones_like(x)).logits
                return time.perf_counter() - start

        def bare_forward(ids: list[int]) -> float:
            # on the thread the app runs its models on (same torch thread pool, same warm caches)
            return jobs.on_model_thread(lambda: forward(ids))

        bare_forward(screen.state.input_ids(lm.tokenizer.mask_token_id))  # warm-up

        model_call: list[float] = []  # when the app's model call (jobs.predict) starts and returns
        predict = jobs.predict

        def timed_predict(*args, **kwargs):
            model_call.append(time.perf_counter())
            try:
                return predict(*args, **kwargs)
            finally:
                model_call.append(time.perf_counter())

        jobs.predict = timed_predict
        ui, settled, bare, core, frames, before, after, cpu = [], [], [], [], [], [], [], []
        for i in range(toggles):  # interleaved, so both see the same machine load
            first_frame = len(term.frames)
            shown = asyncio.Event()
            shown_at: list[tuple[float, float]] = []
            strings: list[str] = []

            def on_frame(index: int) -> None:
                if screen.pending is not None or screen.state.result is None or shown_at:
                    return
                if not strings:  # the answer is in: what its distribution looks like on the screen
                    strings.extend(wanted(screen))
                if on_screen(term, strings):
                    shown_at.append(term.frames[index][1:3])
                    shown.set()

            term.on_frame = on_frame
            model_call.clear()
            done_before = screen.request
            cpu_start = time.thread_time()  # the event loop's thread: the whole UI
            start = time.perf_counter()
            app.post_message(events.Key("space", " "))  # as the terminal driver delivers a key
            try:  # no polling while the toggle is under way: the loop is as idle as it is for a person
                await asyncio.wait_for(shown.wait(), 60)
            except asyncio.TimeoutError:
                raise SystemExit(f"toggle {i}: the new distribution never reached the screen\n"
                                 + "\n".join(term.lines())) from None
            await until_idle(app, term)  # later frames (if any) count in "until idle"
            term.on_frame = None
            if screen.request == done_before or len(model_call) != 2:
                raise SystemExit(f"toggle {i}: expected one model call, saw {len(model_call) // 2}")
            written, cpu_written = shown_at[0]
            ui.append(written - start)
            settled.append(term.frames[-1][1] - start)
            frames.append(len(term.frames) - first_frame)
            before.append(model_call[0] - start)
            after.append(written - model_call[1])
            cpu.append(cpu_written - cpu_start)
            core.append(compute[screen.request])
            bare.append(bare_forward(screen.state.input_ids(lm.tokenizer.mask_token_id)))
            await until_idle(app, term)
        jobs.predict = predict
    med = statistics.median
    ms = lambda values: [x * 1000 for x in values]  # noqa: E731
    return {
        "toggle_to_frame_ms": ms(ui), "settled_ms": ms(settled), "bare_forward_ms": ms(bare),
        "core_fill_ms": ms(core), "before_model_ms": ms(before), "after_model_ms": ms(after), "ui_cpu_ms": ms(cpu),
        "ratio": med(ui) / med(bare), "ratio_settled": med(settled) / med(bare),
        "frames_per_toggle": med(frames), "tokens": len(tt.tokens), "threads": torch.get_num_threads(),
    }


async def until_drawn(pilot) -> None:
    """The Explore screen has its prediction and the app is idle."""
    app = pilot.app
    while app.explore.busy:
        await pilot.pause(0.02)
    await pilot.pause(0.1)


async def latency_while_training(model: str | None, keys: int) -> dict:
    from textual import events

    from mlm_explorer.ui.app import MLMExplorerApp

    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for i in range(20):
        (corpus / f"doc{i}.txt").write_text((TEXT + " The cute dog walks in the green park.\n") * 80)
    os.environ["MLM_EXPLORER_DATA_DIR"] = str(work / "data")
    os.environ["MLM_EXPLORER_CACHE_DIR"] = str(work / "cache")
    app = MLMExplorerApp(model=model, device="cpu", persist=False, text=TEXT)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.explore is None or app.explore.state.tt is None:
            await pilot.pause(0.02)
        args = [str(corpus), "--model", model or "bundled", "--max-steps", "100000", "--batch-size", "8",
                "--log-every", "1", "--eval-every", "100000", "--save-every", "100000"]

        class Sink:  # the Train screen is not open: events go to a stand-in
            events: list[dict] = []

            def post_message(self, message) -> bool:
                self.events.append(message.event)
                return True

        sink = Sink()
        app.start_training(sink, args)
        deadline = time.monotonic() + 180
        while not any(e.get("event") == "step" for e in sink.events) and time.monotonic() < deadline:
            await pilot.pause(0.1)
        stepping = any(e.get("event") == "step" for e in sink.events)
        area = app.explore.query_one("#text")
        area.focus()
        latencies = []
        for i in range(keys):
            before = area.text
            key = "x" if i % 2 == 0 else "backspace"
            start = time.perf_counter()
            # the key as the terminal driver delivers it; latency = until the text box has changed
            app.post_message(events.Key(key, "x" if key == "x" else None))
            while area.text == before:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)  # a person types ~20 keys per second at most
        app.train_runner.cancel()
        try:
            app.train_runner.wait(60)
        except Exception:
            app.train_runner.kill()
    return {"key_latency_ms_p50": statistics.median(latencies) * 1000, "key_latency_ms_p95": p95(latencies) * 1000,
            "training_was_stepping": stepping, "steps_seen": sum(e.get("event") == "step" for e in sink.events)}


async def screenshot(model: str | None, path: Path) -> None:
    from mlm_explorer.ui.app import MLMExplorerApp

    app = MLMExplorerApp(model=model, device="cpu", persist=False,
                         text="Paris is the capital of France. The cute dog walks in the green park.")
    async with app.run_test(size=(120, 36)) as pilot:
        while app.explore is None or app.explore.state.tt is None:
            await pilot.pause(0.02)
        screen = app.explore
        for word in ("france", "dog"):
            index = next(t.index for t in screen.state.tt.tokens if t.text == word)
            screen.toggle(index)
        screen.strip.focus()
        screen.strip.cursor = next(t.index for t in screen.state.tt.tokens if t.text == "france")
        await until_drawn(pilot)
        await pilot.pause(0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        app.save_screenshot(filename=path.name, path=str(path.parent))
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="encoder MLM (default: the bundled model)")
    parser.add_argument("--toggles", type=int, default=30)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--no-train", action="store_true", help="skip the latency-under-training measurement")
    parser.add_argument("--screenshot", type=Path, default=None, help="only write an SVG screenshot of Explore")
    args = parser.parse_args()
    os.environ.setdefault("MLM_EXPLORER_CONFIG_DIR", tempfile.mkdtemp(prefix="bench-app-config-"))
    if args.screenshot:
        asyncio.run(screenshot(args.model, args.screenshot))
        return
    ff = first_frame(args.model)
    print(f"first frame          {ff['first_frame_s'] * 1000:8.0f} ms   (torch imported by then: {ff['torch_at_first_frame']})")
    print(f"model ready          {ff['model_ready_s'] * 1000:8.0f} ms")
    tv = asyncio.run(toggle_vs_forward(args.model, args.toggles))
    med = statistics.median

    def spread(values: list[float]) -> str:
        return f"{med(values):6.1f} ms p50  [{pct(values, 0.25):.1f}-{pct(values, 0.75):.1f} IQR, {pct(values, 0.95):.1f} p95]"

    print(f"toggle -> frame      {spread(tv['toggle_to_frame_ms'])}  ({tv['tokens']} tokens, {args.toggles} toggles)")
    print(f"  until idle         {spread(tv['settled_ms'])}  ({tv['frames_per_toggle']:.0f} frame(s) per toggle)")
    print(f"  key -> model call  {med(tv['before_model_ms']):6.1f} ms p50;  fill_masks {med(tv['core_fill_ms']):.1f} ms p50 "
          f"(model thread);  model call returned -> frame written {med(tv['after_model_ms']):.1f} ms p50")
    print(f"  UI thread CPU      {med(tv['ui_cpu_ms']):6.1f} ms p50 per toggle (key handling, message, redraw, frame)")
    print(f"bare forward         {spread(tv['bare_forward_ms'])}  (same ids, model thread, {tv['threads']} torch threads)")
    print(f"ratio                {tv['ratio']:6.2f} x   (p50 / p50; goal <= 1.2x; until idle {tv['ratio_settled']:.2f} x)")
    if not args.no_train:
        lt = asyncio.run(latency_while_training(args.model, args.keys))
        print(f"key latency (train)  {lt['key_latency_ms_p50']:8.1f} ms p50, {lt['key_latency_ms_p95']:.1f} ms p95"
              f"   (goal p95 < 50 ms; job stepping: {lt['training_was_stepping']}, {lt['steps_seen']} step events)")


if __name__ == "__main__":
    main()
