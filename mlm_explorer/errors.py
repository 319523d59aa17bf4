"""Errors meant for people: the message is one line that says what happened and what to do."""


class UserError(Exception):
    """Base class; `str(error)` is shown as is (CLI: `error: ...` on stderr, app: a notification)."""


class ModelError(UserError):
    """A model could not be loaded or is the wrong kind for the task."""


class InputError(UserError):
    """The text or an option value cannot be used."""
