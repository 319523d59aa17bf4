"""Explore's text box: a TextArea with the keys people expect, shown in the footer.

- ctrl+a selects all the text (TextArea's own ctrl+a goes to the line start; home still does);
- ctrl+l clears the text (ctrl+z brings it back), also the controls' "Clear text" button;
- esc goes to the token chips, where the masking keys (r, c, n, ...) work.

While the text box has the focus, letter keys type letters: the Explore screen hides its
letter keys from the footer then (`ExploreScreen.check_action`).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import TextArea


class TextBox(TextArea):
    BINDINGS = [
        Binding("ctrl+a", "select_all", "Select all", tooltip="Select the whole text"),
        Binding("ctrl+l", "clear_text", "Clear text", tooltip="Delete the whole text (ctrl+z undoes it)"),
        Binding("escape", "screen.focus_tokens", "Tokens", tooltip="To the token chips: mask with space, r, n ..."),
    ]

    def action_clear_text(self) -> None:
        """Delete every character (an edit: ctrl+z undoes it)."""
        self.clear()
