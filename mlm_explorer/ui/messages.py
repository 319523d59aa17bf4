"""Every message of the app, in one place: what the thread workers post back, and what the
widgets tell their screen.

Worker answers carry the request number (or key) they answer, so a handler can drop a stale
result (`request != latest`) instead of showing it. Payloads are core dataclasses; this
module imports nothing heavy, so `torch` stays out of the first frame. A worker that fails
does not post its answer: the app reports the error once and posts `WorkFailed` to the
screen that asked (`MLMExplorerApp.work_failed`), the one path of every failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from mlm_explorer.ui.enums import Role

# -- from the thread workers --------------------------------------------------------------------


@dataclass
class ModelReady(Message):
    """A model finished loading for `role`."""

    role: Role
    lm: Any  # core.load.models.LoadedModel


@dataclass
class WorkFailed(Message):
    """Work asked for by a screen (or the app) raised; the app has already notified the user."""

    kind: str  # the worker group: "predict", "random", "lens-saliency", "load-mlm", ...
    request: int  # the request it answered (0 when the asker keeps none)
    error: str  # one line for the screen


@dataclass
class RandomMasked(Message):
    """The masking engine's decisions for the current text."""

    request: int
    preview: Any  # core.mask.preview.MaskPreview


@dataclass
class PredictionReady(Message):
    request: int
    result: Any  # core.infer.fill.FillResult
    base_result: Any = None  # the same masks on the base model (before/after), or None
    seconds: float = 0.0
    diff: Any = None  # list[core.infer.diff.MaskDiff] (before/after), or None
    diff_error: str | None = None  # why the before/after diff failed


@dataclass
class CompareModelReady(Message):
    """A model for a column added to Compare (by the name the user gave) finished loading."""

    name: str
    lm: Any  # core.load.models.LoadedModel


@dataclass
class ColumnFilled(Message):
    """One column of Compare, filled by core.infer.compare on the blanks every column shares."""

    request: int
    index: int  # the column, 0 = Explore's model
    column: Any  # core.infer.compare.ModelColumn (a model's own UserError is inside it)


@dataclass
class KBestReady(Message):
    """Explore's k best joint fills (core.infer.kbest.KBestResult) for the input `key`, or why there are none."""

    key: Any
    result: Any = None
    error: str | None = None


@dataclass
class AuditEvent(Message):
    """One JSON-lines event of the masking audit process (train/audit.py), for the Train screen's panel."""

    event: dict = field(default_factory=dict)


@dataclass
class LensReady(Message):
    """A lens's core result for the input `key` (or why there is none)."""

    kind: str  # enums.LensKind
    key: Any
    result: Any = None  # SentenceScore / AttentionMaps / Saliency
    error: str | None = None


@dataclass
class CandidatesReady(Message):
    key: Any  # (model version, ids, position, temperature)
    words: tuple = ()
    data: dict = field(default_factory=dict)  # workers.candidates' answer


@dataclass
class TrainEvent(Message):
    """One JSON-lines event of the training job ({"event": NAME, ...})."""

    event: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.event.get("event", ""))


# -- from the widgets to their screen -----------------------------------------------------------


class TokenToggled(Message):
    """The user asked to mask/unmask a token (or its whole word) of the token strip."""

    def __init__(self, index: int, whole_word: bool) -> None:
        super().__init__()
        self.index = index
        self.whole_word = whole_word


class CursorMoved(Message):
    """The token strip's cursor moved to token `index`."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index


class MaskPicked(Message):
    """A row of the mask table was selected: show the distribution at `position`."""

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position


class CandidateChosen(Message):
    """A candidate of a distribution was chosen: write it into the text at `position`."""

    def __init__(self, distribution: Any, position: int, candidate: Any) -> None:
        super().__init__()
        self.distribution = distribution
        self.position = position
        self.candidate = candidate

    @property
    def control(self) -> Any:
        return self.distribution


class WordsTyped(Message):
    """Words typed (or submitted) in the candidate box, to be scored at the selected mask."""

    def __init__(self, words: list[str]) -> None:
        super().__init__()
        self.words = words


class PredictionSettingsChanged(Message):
    """top-k, temperature or joint changed in the controls: the prediction must run again."""


class RandomMaskPressed(Message):
    """The controls' random-masking button (`next_seed`: the `r` rule, again is the next seed),
    or enter in the rate / seed field (`next_seed=False`: the values as typed)."""

    def __init__(self, *, next_seed: bool = True) -> None:
        super().__init__()
        self.next_seed = next_seed


class ClearTextPressed(Message):
    """The controls' button that deletes the text (ctrl+l in the text box)."""


class ClearMasksPressed(Message):
    """The controls' button that unmasks every token."""


class AuditAsked(Message):
    """The Train screen's Audit button: audit the masking of the form's files and options."""


class ProbeUnpinned(Message):
    """The user removed pinned probe `index` from the Train screen's list."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index


class RowHighlighted(Message):
    """A RowList's cursor moved to `index` (also sent when new rows put it on the first one)."""

    def __init__(self, row_list: Any, index: int) -> None:
        super().__init__()
        self.row_list = row_list
        self.index = index

    @property
    def control(self) -> Any:
        return self.row_list


class RowSelected(RowHighlighted):
    """Enter or a click on row `index` of a RowList."""
