"""Explore's text box -> tokens: typing is tokenized after a short quiet time, clicked masks are
carried over the edit, and the text is kept for the next session (session.py).

`ExploreTextEdits` is held by `ExploreScreen` (as `screen.text_edits`); it writes the screen's
state and asks for a prediction through `screen.predictions`.
"""

from __future__ import annotations

from textual.screen import Screen
from typing import Any

from textual.widgets import TextArea

from mlm_explorer.errors import UserError
from mlm_explorer.ui.screens.explore.session import remember_text
from mlm_explorer.ui.state import ExploreState, remap_positions
from mlm_explorer.ui.widgets.token_strip import StripView


TYPING_DEBOUNCE = 0.15  # seconds of quiet typing before the text is tokenized again


class ExploreTextEdits:
    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self._debounce: Any = None

    def changed(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.screen.set_timer(TYPING_DEBOUNCE, self.flush)

    def flush(self) -> None:
        """Tokenize typing that still waits for its debounce: a key pressed right after typing
        (r, c, leaving the text box) acts on the text as typed, not on the one before."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
            self.retokenize(keep_masks=True)

    def retokenize(self, *, keep_masks: bool, force: bool = False) -> None:
        """core.text.tokenize the text box; carry clicked masks over the edit."""
        screen = self.screen
        lm = screen.app.lm
        if lm is None:
            return
        from mlm_explorer.core.mask.text import MaskSet, tokenize

        text = screen.query_one("#text", TextArea).text
        remember_text(screen.app, text)  # reopening the app keeps it
        old = screen.state.tt
        try:
            tt = tokenize(lm.tokenizer, text, max_length=lm.max_length, truncate=True)
        except UserError as exc:
            screen.state = ExploreState(masks=MaskSet(), error=str(exc))
            screen.strip.show(StripView(note=str(exc)))
            screen.predictions.ask()
            return
        st = screen.state
        kept: set[int] = set()
        if keep_masks and old is not None and st.masks is not None:
            kept = remap_positions(old, tt, st.masks.positions)
        unchanged = old is not None and old.text == tt.text and old.input_ids == tt.input_ids
        if unchanged and not force and st.masks is not None:
            return  # nothing the model sees changed
        st.tt = tt
        st.masks = MaskSet(frozenset(kept))
        st.random = None
        st.error = None
        if tt.truncated:
            screen.notify(f"text cut to the model's {lm.max_length} tokens", severity="warning")
        screen.predictions.ask()
