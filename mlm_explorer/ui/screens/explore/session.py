"""What Explore keeps between sessions: the text (with the other settings, in settings.json).

Reopening the app shows the text of the last session (an empty text stays empty); `text=`
given to the app (the tests, a script) wins for that session. The model of the last session is
restored by the app itself (`Settings.model`), the masks and the lenses are not.
"""

from __future__ import annotations

from typing import Any


def opening_text(app: Any, default: str) -> str:
    """The text Explore opens with: the app's `initial_text`, else the last session's, else `default`."""
    if app.initial_text is not None:
        return app.initial_text
    saved = app.settings.text
    return saved if isinstance(saved, str) else default


def remember_text(app: Any, text: str) -> None:
    """Keep `text` for the next session (written only when it changed)."""
    if app.settings.text != text:
        app.settings.text = text
        app.save_settings()
