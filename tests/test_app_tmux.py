"""The app in a real terminal: started under tmux on the bundled model, keys sent, the screen read.

Skipped when tmux is not installed or the bundled model is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]

ROOT = Path(__file__).resolve().parents[1]


def _bundled_available() -> bool:
    try:
        from mlm_explorer.core.load.bundled import bundled_encoder_dir

        bundled_encoder_dir()
        return True
    except Exception:
        return False


class Tmux:
    def __init__(self, command: str, env: dict[str, str], size=(120, 40)) -> None:
        self.name = f"mlm-explorer-test-{uuid.uuid4().hex[:8]}"
        # a private tmux server (own socket, no config): other tmux users cannot change its size
        self.tmux = ["tmux", "-L", self.name, "-f", "/dev/null"]
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]),
                        f"cd {ROOT} && env -u COLUMNS -u LINES {exports} {command}"], check=True)

    def capture(self) -> str:
        out = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def send(self, *keys: str) -> None:
        for key in keys:
            subprocess.run([*self.tmux, "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.15)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")

    def alive(self) -> bool:
        return subprocess.run([*self.tmux, "has-session", "-t", self.name], capture_output=True).returncode == 0

    def kill(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.mark.skipif(not _bundled_available(), reason="the bundled model is not installed")
def test_app_in_tmux(tmp_path):
    env = {
        "MLM_EXPLORER_CONFIG_DIR": str(tmp_path / "config"), "MLM_EXPLORER_DATA_DIR": str(tmp_path / "data"),
        "MLM_EXPLORER_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color",
        "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false",
    }
    tmux = Tmux(f"{sys.executable} -m mlm_explorer --device cpu", env)
    try:
        tmux.wait_for("Tokens (", timeout=30)  # the first frame
        tmux.wait_for("model bundled", timeout=90)  # the model is ready
        tmux.wait_for("[CLS]", timeout=30)
        tmux.send("Escape")  # from the text box to the token chips
        tmux.send("Right", "Right", "Space")  # the cursor starts on "the": move to "dog", mask it
        screen = tmux.wait_for("entropy", timeout=30)
        assert "[dog]" in screen and "original 'dog'" in screen and "1 masked" in screen, screen
        tmux.send("r")
        screen = tmux.wait_for("random seed", timeout=30)
        tmux.send("F1")
        tmux.wait_for("80/10/10", timeout=10)
        tmux.send("Escape")
        tmux.send("C-q")
        deadline = time.monotonic() + 15
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tmux.alive(), "ctrl+q did not quit"
    finally:
        tmux.kill()
