"""What a terminal shows of a Textual app run headless, frame by frame, and when.

Headless (`App.run_test`), Textual composes every frame but `App._display` returns before
turning it into bytes for the driver. `Terminal.watch(app)` does that last step as the real
driver does (`CompositorUpdate.render_segments` + the cursor move: the bytes `driver.write`
would get), stamps the moment they are ready ("written": the driver's write), then applies them
to a grid of cells, so a benchmark can ask what is on the screen after each frame.
"""

from __future__ import annotations

import asyncio
import re
import time


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


async def until_idle(app, term: Terminal, quiet: float = 0.05, timeout: float = 30.0, *,
                     ignore: tuple = ()) -> None:
    """Wait until the app has nothing left to do: no worker (but those in `ignore`, e.g. the one
    reading a training job's events for its whole life), no queued message, no pending layout
    or repaint, and no frame written for `quiet` seconds (polled, outside any timing)."""
    screen = app.screen
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        nodes = [app, *screen.walk_children(with_self=True)]
        busy = (any((w.is_running or w.state.name == "PENDING") and w not in ignore for w in app.workers)
                or any(n._message_queue.qsize() for n in nodes)
                or screen._layout_required or screen._scroll_required or screen._repaint_required
                or screen._dirty_widgets or screen._callbacks or app._batch_count
                or any(getattr(n, "_layout_required", False) or getattr(n, "_repaint_required", False) for n in nodes))
        last = term.frames[-1][1] if term.frames else 0.0
        if not busy and time.perf_counter() - last >= quiet:
            return
    raise SystemExit("the app did not become idle")


