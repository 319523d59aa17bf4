"""The Explore view as data: text, tokens, masks, the random-masking outcome, the predictions.

One object the screen draws from, the export writes out, and the tests assert on. The
model input is built only with core functions (`masked_ids`, `mask_positions`); random
masking keeps the engine's own corrupted ids, so the prediction runs on exactly them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlm_explorer.core.mask.decision import MASK


@dataclass
class ExploreState:
    tt: Any = None  # core.text.TokenizedText (None until the model is ready / text is empty)
    masks: Any = None  # core.text.MaskSet (clicked)
    random: Any = None  # core.preview.MaskPreview while random masking is on
    result: Any = None  # core.fill.FillResult for the current input, or None
    base_result: Any = None  # the same on the base model (before/after)
    diff: Any = None  # list[core.diff.MaskDiff]: base vs fine-tuned per mask (before/after), or None
    diff_error: str | None = None  # why there is no diff (e.g. the two vocabularies differ)
    selected: int | None = None  # position whose distribution is shown
    error: str | None = None  # the last core error (shown in the status line)

    # -- state transitions (the screen draws after each) ------------------------------------
    def leave_random(self) -> None:
        """End random masking: the engine's [MASK] picks become clicked masks."""
        if self.random is None:
            return
        from mlm_explorer.core.mask.text import MaskSet

        self.masks = MaskSet(frozenset(i for i, d in enumerate(self.random.decisions) if d == MASK))
        self.random = None

    def toggle(self, index: int, *, whole_word: bool = False) -> bool:
        """Mask or unmask the token (or its word) at `index`; False when there is nothing to toggle."""
        if self.tt is None or not (0 <= index < len(self.tt.tokens)):
            return False
        self.leave_random()
        before = self.masks.positions
        self.masks = self.masks.toggle_word(self.tt, index) if whole_word else self.masks.toggle_token(self.tt, index)
        if index in self.masks.positions and index not in before:
            self.selected = index
        return True

    def clear(self) -> None:
        from mlm_explorer.core.mask.text import MaskSet

        self.masks, self.random = MaskSet(), None

    def fill(self, position: int, word: str) -> str | None:
        """The text with `word` in place of the token at `position` (its mask dropped), or None."""
        if self.tt is None or not (0 <= position < len(self.tt.tokens)):
            return None
        from mlm_explorer.core.mask.text import MaskSet, replace_token

        self.leave_random()
        self.masks = MaskSet(self.masks.positions - {position})
        return replace_token(self.tt, position, word)

    # -- the model input ------------------------------------------------------------------
    def positions(self) -> list[int]:
        """Positions the model predicts: random picks, or typed + clicked masks."""
        if self.tt is None:
            return []
        typed = {t.index for t in self.tt.tokens if t.typed_mask}
        if self.random is not None:  # the engine's picks, plus any [MASK] the user typed
            return sorted(set(self.random.picked()) | typed)
        from mlm_explorer.core.mask.text import mask_positions

        return mask_positions(self.tt, self.masks)

    def input_ids(self, mask_id: int) -> list[int]:
        if self.random is not None:
            return list(self.random.input_ids)
        from mlm_explorer.core.mask.text import masked_ids

        return masked_ids(self.tt, self.masks, mask_id)

    def predict_request(self, mask_id: int, settings: Any) -> Any:
        """The prediction of the current input (workers.PredictRequest) with the settings' top-k,
        joint and temperature; what Explore and Compare both ask the model for."""
        from mlm_explorer.ui.workers import PredictRequest

        return PredictRequest(input_ids=self.input_ids(mask_id), positions=self.positions(),
                              original_ids=self.original_ids(), top_k=settings.top_k, joint=settings.joint,
                              temperature=settings.temperature, text=self.tt)

    def original_ids(self) -> dict[int, int]:
        """Known originals: every random pick, every clicked mask (typed masks have none)."""
        if self.tt is None:
            return {}
        if self.random is not None:
            return {i: lab for i, lab in enumerate(self.random.labels) if lab >= 0}
        return {p: self.tt.tokens[p].id for p in sorted(self.masks.positions)}

    def masked_view(self) -> frozenset[int]:
        """Positions that are [MASK] in the model input (for drawing)."""
        if self.tt is None:
            return frozenset()
        if self.random is not None:
            typed = {t.index for t in self.tt.tokens if t.typed_mask}
            return frozenset(i for i, d in enumerate(self.random.decisions) if d == MASK) | typed
        return frozenset(self.positions())

    def prediction_at(self, position: int | None, base: bool = False) -> Any:
        result = self.base_result if base else self.result
        if result is None or position is None:
            return None
        for p in result.predictions:
            if p.position == position:
                return p
        return None

    def diff_at(self, position: int | None) -> Any:
        """The core.diff.MaskDiff at `position` (before/after), or None."""
        return next((d for d in self.diff or [] if d.position == position), None)

    def as_probe(self) -> tuple[str, str]:
        """The text as a probe (core.probes): the selected mask is its one blank, the token that
        was there its answer. ValueError with a message for the user when that is not possible."""
        tt, p = self.tt, self.selected
        if tt is None or p is None or p not in self.positions():
            raise ValueError("mask a token first (click it), then press p to pin the sentence as a probe")
        if tt.tokens[p].typed_mask:
            raise ValueError("a typed [MASK] has no answer: click a token to mask it, so the answer is known")
        if any(t.typed_mask for t in tt.tokens):
            raise ValueError("a probe has exactly one blank: remove the typed [MASK] / ___ from the text")
        from mlm_explorer.core.mask.text import replace_token

        return replace_token(tt, p, "[MASK]"), tt.tokens[p].text

    # -- export ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        tt = self.tt
        return {
            "text": tt.text if tt else "",
            "tokens": [t.to_dict() for t in tt.tokens] if tt else [],
            "masked_positions": self.positions(),
            "random_masking": None if self.random is None else self.random.to_dict(tt),
            "result": _dict(self.result),
            "base_result": _dict(self.base_result),
            "diff": [_dict(d) for d in self.diff] if self.diff else None,
        }


def _dict(obj: Any) -> Any:
    if obj is None:
        return None
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    from dataclasses import asdict, is_dataclass

    return asdict(obj) if is_dataclass(obj) else obj


def remap_positions(old_tt: Any, new_tt: Any, positions: set[int] | frozenset[int]) -> set[int]:
    """Carry masked positions across an edit of the text.

    A mask stays on its token when the token's characters lie wholly before or after the
    edited region (common prefix / suffix of the two texts); masks inside the edit go away.
    """
    if old_tt is None or new_tt is None or not positions:
        return set()
    old, new = old_tt.text, new_tt.text
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    delta = len(new) - len(old)
    by_span = {(t.start, t.end): t.index for t in new_tt.tokens if t.maskable and not t.typed_mask}
    out: set[int] = set()
    for p in positions:
        if p >= len(old_tt.tokens):
            continue
        tok = old_tt.tokens[p]
        if tok.end <= prefix:
            span = (tok.start, tok.end)
        elif tok.start >= len(old) - suffix:
            span = (tok.start + delta, tok.end + delta)
        else:
            continue
        if span in by_span:
            out.add(by_span[span])
    return out
