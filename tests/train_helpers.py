"""Shared bits of the training tests: isolated data/cache dirs, corpora, in-process jobs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SENTENCES = [
    "The cute dog walks in the green park.",
    "Paris is the capital of France.",
]

# fast and deterministic: one thread per job (the test machine has 2 shared cores)
FAST = ["--threads", "1", "--log-every", "1"]


def write_corpus(folder: Path, texts: list[str], *, suffix: str = ".txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        (folder / f"doc{i}{suffix}").write_text(text, encoding="utf-8")
    return folder


def small_corpus(folder: Path) -> Path:
    from tiny import CORPUS

    return write_corpus(folder, ["\n".join(CORPUS[i::3]) + "\n" for i in range(3)])


def run_job(args: list[str]) -> tuple[int, list[dict]]:
    """Run the job in this process; return (exit status, events)."""
    from mlm_explorer.train.job import main

    buf = io.StringIO()
    rc = main([str(a) for a in args], stdout=buf)
    return rc, [json.loads(line) for line in buf.getvalue().splitlines()]


def of(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["event"] == name]


def subprocess_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        MLM_EXPLORER_DATA_DIR=str(tmp / "data"), MLM_EXPLORER_CACHE_DIR=str(tmp / "cache"),
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    return env


def job_command(*args) -> list[str]:
    return [sys.executable, "-m", "mlm_explorer.train", *map(str, args)]


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "4m"):
    """A real file system of `size` (tmpfs) mounted at `where`, when the tests run as root and
    may mount; else None (the caller falls back to writers patched to fail the same way)."""
    where.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None or subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True).returncode:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill_disk(where: Path, leave: int) -> Path:
    """Fill the file system holding `where` until about `leave` bytes are free."""
    filler = where / "filler.bin"
    free = shutil.disk_usage(where).free
    with open(filler, "ab") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler
