"""The Explore controls: random-masking rate, seed and whole-word mode, top-k, temperature,
joint, and three buttons (random mask, unmask all, clear the text).

Two rows of compact widgets, so they fit 80 columns. Reads and writes `app.settings` (saved on
every change); tells the screen with `PredictionSettingsChanged` when something the
prediction depends on changed. Enter in the rate or seed field applies random masking with
the values as typed (`RandomMaskPressed(next_seed=False)`); the buttons post
`RandomMaskPressed` / `ClearMasksPressed` / `ClearTextPressed`. A value out of range is
refused with a message, never clamped without a word.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label

from mlm_explorer.ui.messages import ClearMasksPressed, ClearTextPressed, PredictionSettingsChanged, RandomMaskPressed

FIELDS = (("rate", float), ("seed", int), ("top_k", int), ("temperature", float))
RANGES = {  # name -> (lowest, highest, what to type)
    "rate": (0.0, 1.0, "a share of the tokens between 0 and 1 (0.15 = 15%)"),
    "seed": (0, None, "a whole number from 0"),
    "top_k": (1, 50, "a whole number from 1 to 50"),
    "temperature": (0.05, 10.0, "a number from 0.05 to 10"),
}


def out_of_range(name: str, value: float) -> str | None:
    """The message for a typed value outside its range, or None when it is fine."""
    low, high, what = RANGES[name]
    if value < low or (high is not None and value > high) or (name == "rate" and value == 0):
        return f"{name.replace('_', '-')} {value:g} is out of range: type {what}"
    return None


def on_off(name: str, value: bool) -> str:
    """A checkbox's label that says its state in words: "whole words: on"."""
    return f"{name}: {'on' if value else 'off'}"


class Controls(Vertical):
    def compose(self) -> ComposeResult:
        s = self.app.settings
        with Horizontal(id="controls-fields"):
            yield Label("rate")
            yield Input(str(s.rate), id="rate", type="number", compact=True,
                        tooltip="Share of tokens random masking picks (enter: apply random masking)")
            yield Label("seed")
            yield Input(str(s.seed), id="seed", type="integer", compact=True,
                        tooltip="Seed of random masking (enter: apply it; r again uses the next one)")
            yield Label("top-k")
            yield Input(str(s.top_k), id="top-k", type="integer", compact=True, tooltip="Candidates shown per mask")
            yield Label("temp")
            yield Input(str(s.temperature), id="temperature", type="number", compact=True,
                        tooltip="Softmax temperature of the distribution (1 = the model's own)")
            yield Checkbox(on_off("joint", s.joint), s.joint, id="joint", compact=True,
                           tooltip="Joint (j): fill the most confident mask, re-run, repeat")
        with Horizontal(id="controls-buttons"):
            yield Checkbox(on_off("whole words", s.whole_word), s.whole_word, id="whole-word", compact=True,
                           tooltip="Random masking (r) picks whole words (W)")
            yield Button("Random mask (r)", id="random", variant="primary", compact=True)
            yield Button("Unmask all (c)", id="clear", compact=True)
            yield Button("Clear text (^l)", id="clear-text", compact=True, tooltip="Delete the text (ctrl+l; ctrl+z undoes)")

    def read(self) -> None:
        """Copy the typed values into the settings. A value that is no number, or out of its
        range, keeps the old one, with a message that says what to type."""
        s = self.app.settings
        for name, kind in FIELDS:
            box = self.query_one(f"#{name.replace('_', '-')}", Input)
            old = getattr(s, name)
            try:
                value = kind(box.value) if box.value.strip() else old
            except ValueError:
                value = None
            problem = (f"{name.replace('_', '-')} {box.value!r} is not a number" if value is None
                       else out_of_range(name, value))
            if problem:
                self.app.notify(f"{problem}; kept {old}", severity="warning", timeout=6)
                box.value = str(old)
                continue
            setattr(s, name, value)
        s.clamp()

    def show(self) -> None:
        """Write the settings back into the fields (after a key changed one)."""
        s = self.app.settings
        for name, _ in FIELDS:
            box = self.query_one(f"#{name.replace('_', '-')}", Input)
            if box.value != str(getattr(s, name)):
                box.value = str(getattr(s, name))
        self._check("#joint", "joint", s.joint)
        self._check("#whole-word", "whole words", s.whole_word)

    def _check(self, selector: str, name: str, value: bool) -> None:
        box = self.query_one(selector, Checkbox)
        box.value = value
        if str(box.label) != on_off(name, value):  # a new label is a layout (its width is auto)
            box.label = on_off(name, value)

    # -- the screen's keys (j, + / -, W) ----------------------------------------------------------
    def toggle_joint(self) -> None:
        self.app.settings.joint = not self.app.settings.joint
        self._changed_by_key()

    def step_top_k(self, step: int) -> None:
        s = self.app.settings
        s.top_k = max(1, min(50, s.top_k + step))
        self._changed_by_key()

    def toggle_whole_word(self) -> bool:
        """Random masking by whole words on/off (nothing to predict again); the new value."""
        s = self.app.settings
        s.whole_word = not s.whole_word
        self.app.save_settings()
        self._check("#whole-word", "whole words", s.whole_word)
        return s.whole_word

    def _changed_by_key(self) -> None:
        self.app.save_settings()
        self.show()
        self.post_message(PredictionSettingsChanged())

    @on(Input.Submitted)
    @on(Input.Blurred)
    def _typed(self, event: Input.Submitted | Input.Blurred) -> None:
        s = self.app.settings
        before = (s.top_k, s.temperature)
        self.read()
        self.app.save_settings()
        if before != (s.top_k, s.temperature):
            self.post_message(PredictionSettingsChanged())
        if isinstance(event, Input.Submitted) and event.input.id in ("rate", "seed"):
            self.post_message(RandomMaskPressed(next_seed=False))  # enter: apply with the typed values

    @on(Checkbox.Changed, "#joint")
    def _joint(self, event: Checkbox.Changed) -> None:
        self._check("#joint", "joint", event.value)
        if self.app.settings.joint != event.value:
            self.app.settings.joint = event.value
            self.app.save_settings()
            self.post_message(PredictionSettingsChanged())

    @on(Checkbox.Changed, "#whole-word")
    def _whole_word(self, event: Checkbox.Changed) -> None:
        self._check("#whole-word", "whole words", event.value)
        if self.app.settings.whole_word != event.value:
            self.app.settings.whole_word = event.value
            self.app.save_settings()

    @on(Button.Pressed, "#random")
    def _random(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(RandomMaskPressed())

    @on(Button.Pressed, "#clear")
    def _clear(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(ClearMasksPressed())

    @on(Button.Pressed, "#clear-text")
    def _clear_text(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(ClearTextPressed())
