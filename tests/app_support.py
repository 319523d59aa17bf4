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
        # the training job's worker lives as long as the job: never wait for it here
        while any(w.is_running or w.state.name == "PENDING" for w in app.workers
                   if w.group != "train" and not w.name.startswith("_")) or _explore_busy(app):
            if time.monotonic() > deadline:
                raise AssertionError("workers still running: " + ", ".join(w.name for w in app.workers))
            await pilot.pause(0.02)
        await pilot.pause(0.05)


async def tree_loaded(pilot, timeout: float = 30.0) -> None:
    """The Train screen's file tree has listed its folder (its loader is a worker settle skips:
    it lives as long as the tree)."""
    tree = pilot.app.screen.query_one("#train-tree")
    await wait_for(pilot, lambda: len(tree.root.children) > 0, timeout=timeout, what="the file tree")
    await pilot.pause(0.05)


class FakeJobRunner:
    """In place of a TrainingRunner: a job that runs until cancelled, and remembers the cancel."""

    returncode = None
    cancelled = False

    def cancel(self):
        self.cancelled = True


def steady_cursors(app) -> None:
    """Text cursors that do not blink, so that a snapshot never catches one half-way."""
    from textual.widgets import Input, TextArea

    for widget in [*app.screen.query(Input), *app.screen.query(TextArea)]:
        widget.cursor_blink = False


def _explore_busy(app) -> bool:
    """A prediction is still awaited, or the chips still wait to be drawn."""
    explore = getattr(app, "explore", None)
    return explore is not None and explore.busy


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


# -- tiny models with fixed vocabularies (snapshots must not depend on tokenizer training) ----
def _words() -> list[str]:
    import re

    from tiny import CORPUS

    return sorted({w.lower() for line in CORPUS for w in re.findall(r"\w+|[^\w\s]", line)})


SPLIT_WORDS = {"unbelievable": ["un", "##believ", "##able"], "tokenizers": ["token", "##izers"]}


def fixed_bert_tokenizer():
    from transformers import BertTokenizerFast

    from tiny import BERT_SPECIALS

    words = [w for w in _words() if w not in SPLIT_WORDS]
    pieces = sorted({p for parts in SPLIT_WORDS.values() for p in parts} - set(words))
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab_list = BERT_SPECIALS + words + pieces + [c for c in letters if c not in words] + ["##" + c for c in letters]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    return BertTokenizerFast(vocab=vocab, model_max_length=64)


def fixed_t5_tokenizer():
    from transformers import T5TokenizerFast

    words = _words()
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    vocab += [("▁" + w, -5.0) for w in words] + [(w, -6.0) for w in words if w.isalpha()]
    vocab += [(c, -8.0) for c in letters]
    return T5TokenizerFast(vocab=list(dict(vocab).items()), extra_ids=20, model_max_length=64)


def _built_once(tmp_path_factory, name: str, build):
    """One folder of this name per session, whichever test module asks first: the snapshots show
    the model's folder name, and a fixture imported into several modules is set up once per module."""
    folder = tmp_path_factory.getbasetemp() / name
    if not (folder / "tokenizer_config.json").is_file():  # written last
        folder.mkdir(exist_ok=True)
        build(folder)
    return folder


@pytest.fixture(scope="session")
def fixed_bert_dir(tmp_path_factory):
    from tiny import build_tiny_bert

    return _built_once(tmp_path_factory, "bert-fixed0",
                       lambda folder: build_tiny_bert(folder, with_tokenizer=fixed_bert_tokenizer()))


@pytest.fixture(scope="session")
def fixed_t5_dir(tmp_path_factory):
    from tiny import build_tiny_t5

    return _built_once(tmp_path_factory, "t5-fixed0",
                       lambda folder: build_tiny_t5(folder, with_tokenizer=fixed_t5_tokenizer()))
