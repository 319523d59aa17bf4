"""The app's fixed sets of names, as enums: its screens, the roles a model plays, the lenses,
the saliency methods and the states of a training job on the Train screen.

Each member is also its string (`Mode.EXPLORE == "explore"`), so it can be a Textual mode
name, a key of a dict read from JSON, or an action's argument (`switch_mode('explore')`).
"""

from __future__ import annotations

from enum import Enum

try:
    from enum import StrEnum
except ImportError:  # Python 3.10

    class StrEnum(str, Enum):  # type: ignore[no-redef]
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class Mode(StrEnum):
    """The app's screens (Textual modes; F2 F3 F4)."""

    EXPLORE = "explore"
    COMPARE = "compare"
    TRAIN = "train"


class Role(StrEnum):
    """What a loaded model is for."""

    MLM = "mlm"  # Explore's encoder
    FINETUNED = "finetuned"  # a fine-tuned run loaded into Explore (the model it replaces becomes the base)
    BASE = "base"  # the model before fine-tuning, for before/after
    T5 = "t5"  # the seq2seq model of Compare
    COMPARE = "compare"  # a column added to Compare: an encoder, a T5 or a BART model

    @property
    def worker_group(self) -> str:
        """The worker group that loads it (a new load of the same slot replaces the old one)."""
        return "load-t5" if self is Role.T5 else "load-mlm"


class LensKind(StrEnum):
    """What colours the token chips in Explore."""

    OFF = "off"
    SURPRISAL = "surprisal"
    ATTENTION = "attention"
    SALIENCY = "saliency"


class SaliencyMethod(StrEnum):
    IG = "ig"  # integrated gradients
    GRAD_X_INPUT = "grad-x-input"

    @property
    def label(self) -> str:
        return "integrated gradients" if self is SaliencyMethod.IG else "gradient × input"

    @property
    def other(self) -> "SaliencyMethod":
        return SaliencyMethod.GRAD_X_INPUT if self is SaliencyMethod.IG else SaliencyMethod.IG


class JobState(StrEnum):
    """The Train screen's training job, as far as the screen knows it."""

    IDLE = "idle"
    PREVIEWING = "previewing"  # the job runs with --dry-run (the Preview button)
    PREVIEWED = "previewed"  # its preview is shown; nothing was trained
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def active(self) -> bool:
        return self in (JobState.PREVIEWING, JobState.STARTING, JobState.RUNNING)
