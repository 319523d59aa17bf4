"""The app in a real terminal: started under tmux on the bundled model, keys sent, the screen read.

The text box cleared with its own key, new text typed, two masks and the jump between them;
the fine-tune loop too: a tiny run (30 steps of 2 blocks of 32 tokens) started from the Train
screen, cancelled, resumed, loaded into Explore and compared before/after.

Skipped when tmux is not installed or the bundled model is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import re
import uuid
from pathlib import Path

import pytest
from tiny import CORPUS

pytestmark = [pytest.mark.timeout(420), pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")]

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

    def type(self, text: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, "-l", text], check=True)
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

    def close_with_escape(self, text: str, tries: int = 5) -> None:
        """Escape until `text` is gone. A bare Escape is told from an escape sequence by a short
        wait: one sent while the screen is still opening, or right before the next key, can be
        read as part of that key (alt+key), and the screen stays open."""
        for _ in range(tries):
            self.send("Escape")
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                if text not in self.capture():
                    time.sleep(0.3)
                    return
                time.sleep(0.25)
        raise AssertionError(f"{text!r} is still on the screen after {tries} Escapes:\n{self.capture()}")

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
        tmux.close_with_escape("80/10/10")
        _clear_type_mask_and_jump(tmux)
        _fine_tune_loop(tmux, _corpus(tmp_path))
        _wait_for_the_job_to_exit(tmp_path)  # it says `finished`, then writes and exits: ctrl+q would ask
        tmux.send("C-q")
        deadline = time.monotonic() + 15
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tmux.alive(), "ctrl+q did not quit:\n" + tmux.capture()
    finally:
        tmux.kill()


def _clear_type_mask_and_jump(tmux: Tmux) -> None:
    """The text box cleared with its own key, new text typed, two masks, n / N between them."""
    _step(tmux, "t", "C-l")  # to the text box; ctrl+l clears the text
    tmux.wait_for("Tokens (no text)", timeout=30)
    _step(tmux, text="The cat sat on the mat.")
    tmux.wait_for("mat", timeout=30)
    tmux.wait_for("[CLS]", timeout=30)
    time.sleep(1)  # the typing debounce, then the chips of the new text
    _step(tmux, "Escape", "Right", "Space", "Right", "Right", "Space")  # two masks, two tokens apart
    tmux.wait_for("2 masked", timeout=30)
    first = re.search(r"mask 2/2 '(\w+)'", tmux.wait_for("mask 2/2 '", timeout=30)).group(1)  # the cursor's
    tmux.send("n")  # from the second mask, on round to the first
    tmux.wait_for("mask 1/2 '", timeout=30)
    tmux.send("N")
    tmux.wait_for(f"mask 2/2 '{first}'", timeout=30)


def _wait_for_the_job_to_exit(tmp_path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-f", f"mlm_explorer.train .*{tmp_path}"], capture_output=True, text=True)
        if not found.stdout.strip():
            return
        time.sleep(0.5)
    raise AssertionError("the training job did not exit")


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "notes"
    corpus.mkdir()
    for i in range(4):
        (corpus / f"doc{i}.txt").write_text("\n".join(CORPUS[i * 3: i * 3 + 12]) * 3, encoding="utf-8")
    return corpus


def _step(tmux: Tmux, *keys: str, text: str = "") -> None:
    """Keys, then text, at a person's pace: sent faster, a busy app was seen to put typed text in
    the field the focus had just left."""
    for key in keys:
        tmux.send(key)
        time.sleep(0.8)
    if text:
        tmux.type(text)  # a field reached by Tab has its text selected: typing replaces it
        time.sleep(0.8)


def _fine_tune_loop(tmux: Tmux, corpus: Path) -> None:
    """Train screen: start a tiny run, cancel it, resume it to its end, load it, before/after."""
    tmux.send("F4")
    tmux.wait_for("Fine-tune", timeout=20)  # the focus starts in the path field
    time.sleep(1)
    _step(tmux, text=str(corpus))
    _step(tmux, "Tab", "Tab", "Tab", text="30")  # model, objective, steps
    _step(tmux, "Tab", "Tab", text="2")  # time, batch size
    _step(tmux, "Tab", text="32")  # block size
    tmux.send("C-g")
    screen = tmux.wait_for("/30", timeout=120)  # the first step events
    tmux.send("C-x")  # the focus is still in a form field
    tmux.wait_for("Cancel the training job?", timeout=10)
    tmux.send("Tab", "Enter")  # "Cancel job"
    screen = tmux.wait_for("cancelled at step", timeout=60)  # the status line
    step = int(re.search(r"cancelled at step (\d+)", screen).group(1))
    assert 0 < step < 30, screen
    for _ in range(10):  # the run is listed under Resume once the job's process has ended
        tmux.send("C-o")
        try:
            tmux.wait_for("mlm_explorer.train --resume", timeout=3)
            break
        except AssertionError:
            continue
    tmux.wait_for(f"resumed from step {step}", timeout=120)
    tmux.wait_for("finished at step 30", timeout=150)
    tmux.send("C-l")  # into Explore, with the base model the run started from
    tmux.wait_for("(cpu) · base: bundled", timeout=90)  # loaded (while loading: "(base: bundled)…")
    tmux.send("b")
    screen = tmux.wait_for("Δ tuned", timeout=60)  # the before/after panel
    assert "no base model" not in screen, screen
