"""Messages that thread workers post back to the UI thread.

Each carries the request number it answers, so a handler can drop a stale result
(`request != latest`) instead of showing it. Payloads are core dataclasses; this module
imports nothing heavy, so `torch` stays out of the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class ModelReady(Message):
    """A model finished loading. role: "mlm" (Explore), "base" (before/after), "t5" (Compare)."""

    role: str
    lm: Any  # core.models.LoadedModel
    seconds: float


@dataclass
class ModelFailed(Message):
    role: str
    name: str | None
    error: str


@dataclass
class RandomMasked(Message):
    """The masking engine's decisions for the current text."""

    request: int
    preview: Any  # core.preview.MaskPreview


@dataclass
class PredictionReady(Message):
    request: int
    result: Any  # core.fill.FillResult
    base_result: Any = None  # the same masks on the base model (before/after), or None
    seconds: float = 0.0
    diff: Any = None  # list[core.diff.MaskDiff] (before/after), or None
    diff_error: str | None = None  # why the before/after diff failed


@dataclass
class PredictionFailed(Message):
    request: int
    error: BaseException  # what the model thread raised


@dataclass
class TrainEvent(Message):
    """One JSON-lines event of the training job ({"event": NAME, ...})."""

    event: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.event.get("event", ""))
