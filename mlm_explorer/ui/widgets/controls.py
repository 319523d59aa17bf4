"""The Explore controls: random-masking rate and seed, top-k, temperature, joint, two buttons.

Reads and writes `app.settings` (saved on every change); tells the screen with
`PredictionSettingsChanged` when something the prediction depends on changed. The buttons
post `RandomMaskPressed` / `ClearMasksPressed`.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Switch

from mlm_explorer.ui.messages import ClearMasksPressed, PredictionSettingsChanged, RandomMaskPressed


class Controls(Horizontal):
    def compose(self) -> ComposeResult:
        s = self.app.settings
        yield Label("rate")
        yield Input(str(s.rate), id="rate", type="number", tooltip="Share of tokens random masking picks")
        yield Label("seed")
        yield Input(str(s.seed), id="seed", type="integer", tooltip="Seed of random masking; r again uses the next one")
        yield Label("top-k")
        yield Input(str(s.top_k), id="top-k", type="integer", tooltip="Candidates shown per mask")
        yield Label("temp")
        yield Input(str(s.temperature), id="temperature", type="number",
                    tooltip="Softmax temperature of the distribution (1 = the model's own)")
        yield Label("joint")
        yield Switch(s.joint, id="joint", tooltip="Joint: fill the most confident mask, re-run, repeat")
        yield Button("Random mask (r)", id="random", variant="primary")
        yield Button("Clear (c)", id="clear")

    def read(self) -> None:
        """Copy the typed values into the settings (bad numbers keep the old value)."""
        s = self.app.settings
        fields = (("rate", float), ("seed", int), ("top_k", int), ("temperature", float))
        typed = {}
        for name, kind in fields:
            box = self.query_one(f"#{name.replace('_', '-')}", Input)
            try:
                typed[name] = kind(box.value) if box.value else None
                setattr(s, name, typed[name] if box.value else getattr(s, name))
            except ValueError:
                typed[name] = None
        s.clamp()
        for name, _ in fields:  # show what is used: a clamped or unreadable value is replaced
            if typed[name] != getattr(s, name):
                self.query_one(f"#{name.replace('_', '-')}", Input).value = str(getattr(s, name))

    def show(self) -> None:
        """Write the settings back into the inputs (after a key changed one)."""
        s = self.app.settings
        for name in ("rate", "seed", "top_k", "temperature"):
            self.query_one(f"#{name.replace('_', '-')}", Input).value = str(getattr(s, name))
        self.query_one("#joint", Switch).value = s.joint

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

    @on(Switch.Changed, "#joint")
    def _joint(self, event: Switch.Changed) -> None:
        if self.app.settings.joint != event.value:
            self.app.settings.joint = event.value
            self.app.save_settings()
            self.post_message(PredictionSettingsChanged())

    @on(Button.Pressed, "#random")
    def _random(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(RandomMaskPressed())

    @on(Button.Pressed, "#clear")
    def _clear(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(ClearMasksPressed())
