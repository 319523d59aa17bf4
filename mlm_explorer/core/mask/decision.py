"""The masking engine's per-position decision codes, in one place and free of torch.

`core/mask/masking.py` writes them into `MaskedBatch.decisions` (a long tensor); the preview
keeps them as plain ints, `--json` spells them as names, the CLI renderer and the app's
widgets draw them. Everything imports the codes from here, so a drawing never needs torch.

    Decision.NONE    0  not selected: input unchanged, label -100
    Decision.MASK    1  replaced by the mask token
    Decision.RANDOM  2  replaced by a random ordinary token
    Decision.KEEP    3  selected, left unchanged (still predicted)
"""

from __future__ import annotations

from enum import IntEnum


class Decision(IntEnum):
    NONE = 0
    MASK = 1
    RANDOM = 2
    KEEP = 3

    @property
    def label(self) -> str:
        """The name `--json` and the exports use: "none", "mask", "random", "keep"."""
        return self.name.lower()


NONE, MASK, RANDOM, KEEP = Decision.NONE, Decision.MASK, Decision.RANDOM, Decision.KEEP
SELECTED = (MASK, RANDOM, KEEP)   # the decisions of a picked position, in the 80/10/10 order


def label(code: int) -> str:
    """The name of a decision code (an int from a tensor or a list): 2 -> "random"."""
    return Decision(int(code)).label
