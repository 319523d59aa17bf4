"""Writing files safely, and hashing them: the one place for both (torch-free, imported by all).

    atomic_write_text(path, text)     the settings, run.json, the `latest` pointer
    atomic_write(path) as f           anything written through a file object (the token cache's npz)
    give_umask_mode(directory)        files a library wrote (safetensors makes them 0600)
    sha256_file(path)                 the bundled encoder's check; the token cache's keys

An atomic write goes to a temporary file in the same directory, `.tmp-<name>-<random>-<pid>`,
which is then renamed over the target: a kill at any moment leaves either the old file or the
new one, never half of one. The temporary file is removed on every failure path. Its name ends
in the writer's pid so that a cleaner (rundir.prune) can tell a live writer's file from a dead
one's. New files get the mode the user's umask gives (0644 under the usual 022), like any file
`open()` creates: the temporary file is created with 0666 and the kernel applies the umask.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import IO, Iterator

TMP_PREFIX = ".tmp-"
HASH_BLOCK = 1 << 20  # read files in 1 MiB blocks


def temp_name(final: Path) -> Path:
    """A fresh temporary name beside `final`: `.tmp-<name>-<random>-<pid>`."""
    final = Path(final)
    return final.with_name(f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}-{os.getpid()}")


def written_by_live_process(path: Path) -> bool:
    """True when a temporary name ends in the pid of this process (its write may be under way)."""
    return Path(path).name.endswith(f"-{os.getpid()}")


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb", *, encoding: str | None = None) -> Iterator[IO]:
    """Write `path` through a file object; it appears under its name only when the block succeeds.

    On any exception the temporary file is removed and the exception propagates; the previous
    content of `path`, if any, is untouched.
    """
    path = Path(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0666 & ~umask
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def umask() -> int:
    """The process's umask, without changing it (Linux: /proc; elsewhere: set and restore)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def give_umask_mode(directory: Path) -> None:
    """Give every file under `directory` the mode a new file gets (0666 & ~umask).

    Libraries that write through their own temporary file (safetensors' save_file) leave it
    0600 after the rename; a saved model should be as readable as the rest of the run.
    """
    mode = 0o666 & ~umask()
    for p in Path(directory).rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.chmod(p, mode)


def sha256_file(path: Path, *, prefix: bytes = b"") -> str:
    """Hex sha256 of `prefix` followed by the file's bytes, read in blocks."""
    digest = hashlib.sha256(prefix)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
