"""Modal dialogs: a yes/no confirmation and a choice among a few named buttons."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class ChoiceDialog(ModalScreen[str | None]):
    """Ask a question with a few answers; dismisses with the chosen button's id (None on escape)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close", tooltip="Close without choosing")]

    DEFAULT_CSS = """
    ChoiceDialog { align: center middle; }
    ChoiceDialog > Vertical {
        width: 64; height: auto; padding: 1 2;
        border: thick $warning 80%; background: $surface;
    }
    ChoiceDialog Label { width: 100%; margin-bottom: 1; }
    ChoiceDialog Horizontal { height: auto; align-horizontal: right; }
    ChoiceDialog Button { margin-left: 1; }
    """

    def __init__(self, question: str, choices: list[tuple[str, str]], *, default: str | None = None) -> None:
        """choices: (id, label) pairs, shown left to right; `default` gets the focus."""
        super().__init__()
        self.question = question
        self.choices = choices
        self.default = default or choices[-1][0]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                for choice_id, label in self.choices:
                    variant = "primary" if choice_id == self.default else "default"
                    yield Button(label, id=choice_id, variant=variant)

    def on_mount(self) -> None:
        self.query_one(f"#{self.default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no; dismisses with True only for the confirm button."""

    BINDINGS = [Binding("escape", "no", "Cancel", tooltip="Do nothing")]

    DEFAULT_CSS = ChoiceDialog.DEFAULT_CSS.replace("ChoiceDialog", "ConfirmDialog")

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            with Horizontal():
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)
