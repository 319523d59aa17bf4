"""Explore repaints only what changed (no layouts, only the rows' lines of the lists); the
terminal built from those frames must equal a repaint of everything."""

from __future__ import annotations

import re

import pytest
from app_support import app_env, make_app, settle, sync, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)

ESCAPE = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\n")


class Frames:
    """The frames the app writes (headless, App._display writes nothing), applied to a grid."""

    def __init__(self, app, width: int, height: int) -> None:
        from textual._compositor import CompositorUpdate

        self.cells = [[" "] * width for _ in range(height)]
        self.layouts = 0
        display = app._display

        def written(screen, update) -> None:
            display(screen, update)
            if isinstance(update, CompositorUpdate) and not app._batch_count:
                self.feed(update.render_segments(app.console))

        app._display = written

    def count_layouts(self, screen) -> None:
        refresh_layout = screen._refresh_layout

        def counted(*args, **kwargs):
            self.layouts += 1
            return refresh_layout(*args, **kwargs)

        screen._refresh_layout = counted

    def feed(self, data: str) -> None:
        from rich.cells import get_character_cell_size

        x = y = pos = 0
        for match in ESCAPE.finditer(data + "\x1b[0m"):
            for ch in data[pos:match.start()]:
                size = get_character_cell_size(ch)
                if 0 <= y < len(self.cells) and 0 <= x < len(self.cells[y]) and size:
                    self.cells[y][x] = ch
                x += size
            pos = match.end()
            if match.group(2) == "H":
                row, _, col = (match.group(1) or "1;1").partition(";")
                y, x = int(row or 1) - 1, int(col or 1) - 1

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.cells]


async def repaint_all(pilot, screen) -> None:
    for widget in screen.walk_children(with_self=True):
        if hasattr(widget, "_clear_caches"):  # DataTable's own caches
            widget._clear_caches()
        widget._styles_cache.clear()
        widget.refresh()
    await pilot.pause(0.1)


@sync
async def test_incremental_frames_equal_a_full_repaint(app_env, tiny_bert_dir, monkeypatch):
    from mlm_explorer.ui.screens.explore import predictions as explore

    monkeypatch.setattr(explore, "LOADING_DELAY", 60.0)  # "predicting…" (a layout) only on a slow machine
    app = make_app(tiny_bert_dir, text="The cute dog walks in the green park, and the old cat sleeps.", top_k=5)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.explore
        frames = Frames(app, 120, 40)
        words = [t.index for t in screen.state.tt.tokens if t.maskable]
        screen.strip.focus()
        screen.toggle(words[-1])  # from here on every toggle replaces one prediction with another
        await settle(pilot)
        await repaint_all(pilot, screen)
        frames.count_layouts(screen)

        async def check(what: str, *, layouts: bool = False) -> None:
            await settle(pilot)
            await pilot.pause(0.1)
            shown = frames.lines()
            if not layouts:
                assert frames.layouts == 0, f"{what}: {frames.layouts} layout(s)"
            await repaint_all(pilot, screen)
            assert frames.lines() == shown, f"{what}: the screen differs from a full repaint"
            frames.layouts = 0

        for index in words[:4] + words[:3]:  # mask four (the tables grow), unmask three (they shrink)
            screen.strip.cursor = index
            await pilot.press("space")
            await check(f"toggle {index}")
        await pilot.press("r")
        await check("random masking", layouts=True)  # the chips may take another line
        await pilot.press("minus")
        await check("top-k - 1")
        await pilot.press("c")
        await check("clear", layouts=True)
