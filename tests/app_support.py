"""Helpers for the app tests: isolated dirs, waiting for the model and the workers, reading the screen."""

from __future__ import annotations

import asyncio
import functools
import time

import pytest

from mlm_explorer.settings import Settings


def sync(fn):
    """Run an async test with asyncio.run (no async pytest plugin needed)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Settings, runs and caches under tmp_path; never the user's own."""
    for var, sub in (("MLM_EXPLORER_CONFIG_DIR", "config"), ("MLM_EXPLORER_DATA_DIR", "data"),
                     ("MLM_EXPLORER_CACHE_DIR", "cache")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    return tmp_path


def make_app(model, *, t5=None, text="The cute dog walks in the green park.", **settings):
    from mlm_explorer.ui.app import MLMExplorerApp

    return MLMExplorerApp(model=str(model), t5=str(t5) if t5 else None, device="cpu", text=text,
                          settings=Settings(**settings), persist=False)


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait until no worker runs and the queued messages are handled (twice, for chained work)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    for _ in range(3):
        while any(w.is_running for w in app.workers) and time.monotonic() < deadline:
            await pilot.pause(0.02)
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)


async def wait_ready(pilot, timeout: float = 60.0) -> None:
    """Wait for the model to load, the text to be tokenized and the first prediction (if any)."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while (app.lm is None or app.explore is None or app.explore.state.tt is None) and time.monotonic() < deadline:
        if "not loaded" in app.model_status:
            raise AssertionError(app.model_status)
        await pilot.pause(0.05)
    assert app.lm is not None, f"model did not load: {app.model_status}"
    await settle(pilot)


async def wait_for(pilot, predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def screen_text(app) -> str:
    """The current screen as plain text (what a person would read)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def chip_offset(strip, index: int) -> tuple[int, int]:
    """(x, y) inside the TokenStrip of the chip for token `index` (content starts after 1 cell padding)."""
    text = strip.render()
    width = strip.content_region.width or 100
    for span in text.spans:
        style = span.style
        meta = getattr(style, "meta", None) or {}
        if meta.get("token") == index:
            lines = text.wrap(strip.app.console, width)
            # find which wrapped line holds span.start
            offset = 0
            for y, line in enumerate(lines):
                if offset + len(line.plain) >= span.start + 1:
                    return 1 + (span.start - offset), y
                offset += len(line.plain) + (1 if text.plain[offset + len(line.plain): offset + len(line.plain) + 1] == " " else 0)
            return 1 + span.start, 0
    raise AssertionError(f"no chip for token {index}")
