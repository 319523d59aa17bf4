"""How the Explore screen draws its state: the chips and their title, the decode line, the
mask table, the distribution (and the base model's beside it), the before/after panel.

`ExploreDrawing` is held by `ExploreScreen` (ui/screens/explore/screen.py), which owns the
state and the requests; it only reads the screen's state and writes widgets, without a
layout where none is needed. `strip_dirty` is set while the chips wait for their prediction.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from textual.geometry import Region
from textual.widgets import Label

from mlm_explorer.core.mask.decision import KEEP, MASK, RANDOM
from mlm_explorer.errors import UserError
from mlm_explorer.ui.widgets.decode_line import DecodeLine, Legend
from mlm_explorer.ui.widgets.diff_panel import DiffPanel
from mlm_explorer.ui.widgets.distribution import Distribution
from mlm_explorer.ui.widgets.mask_table import MaskTable
from mlm_explorer.ui.widgets.token_strip import StripView, TokenStrip



LEGEND_WORD = "unbelievable"  # the legend shows how the loaded tokenizer splits it


class ExploreDrawing:
    def __init__(self, screen: Screen) -> None:  # the ExploreScreen that holds this (no import: a circle)
        self.screen = screen
        self.strip_dirty = False  # the chips wait (STRIP_DELAY) to land in one frame with the prediction
        self._busy_text = ""

    # -- the busy mark --------------------------------------------------------------------------
    def set_busy(self, text: str) -> None:
        """The busy mark; untouched when it already reads `text` (its width is auto: every
        update of the label would otherwise cost a layout of the whole screen)."""
        if text != self._busy_text:
            self._busy_text = text
            self.screen.query_one("#busy", Label).update(text)

    # -- the chips ------------------------------------------------------------------------------
    def strip(self) -> None:
        screen = self.screen
        self.strip_dirty = False
        st = screen.state
        if st.tt is None:
            screen.lenses.overlay()  # no text: the lens bar goes too
            self._set_title(screen.query_one("#tokens-box"), "Tokens (no text)")
            return
        screen.query_one("#strip", TokenStrip).show(StripView(
            tokens=st.tt.tokens, masked=st.masked_view(),
            decisions={i: d for i, d in enumerate(st.random.decisions) if d} if st.random else {},
            replaced=st.random.replaced if st.random else {}, selected=st.selected, **screen.lenses.overlay(),
        ))
        box = screen.query_one("#tokens-box")
        n = len(st.positions())
        title = f"Tokens ({len(st.tt.tokens)}, {n} masked)"
        if st.random is not None:
            c = st.random.counts()
            title += f" · random seed {st.random.seed}: {c['mask']} \\[MASK], {c['random']} random, {c['keep']} kept"
        self._set_title(box, title)

    @staticmethod
    def _set_title(box: Any, title: str) -> None:
        """`box.border_title = title`, repainting only the border line it sits on (the setter
        repaints the whole box: every line of the chips and the legend, on every toggle)."""
        if title == box.border_title:
            return
        if not box.is_mounted or box.styles.border_top[0] in ("", "none") or not box.outer_size.height:
            box.border_title = title
            return
        box._border_title = box.render_str(title).expand_tabs(4).split()[0]  # what the setter stores
        left, top = box.content_offset  # refresh regions are in content coordinates
        box.refresh(Region(-left, -top, box.outer_size.width, 1))

    def model_changed(self, lm: Any) -> None:
        """A new model: the decode line's word boundaries and the legend's subword example are its tokenizer's."""
        from mlm_explorer.core.mask.text import PieceStyle, tokenize

        screen = self.screen
        screen.query_one("#decode", DecodeLine).piece_style = PieceStyle.of(lm.tokenizer)
        try:
            tt = tokenize(lm.tokenizer, LEGEND_WORD)
            pieces = [t.text for t in tt.tokens if t.word == 0]
        except UserError:
            pieces = [LEGEND_WORD]
        screen.query_one("#legend", Legend).set_example(pieces)

    # -- the results ----------------------------------------------------------------------------
    def results(self) -> None:
        screen = self.screen
        st = screen.state
        if screen.pending is None:
            self.set_busy("")
        decode = screen.query_one("#decode", DecodeLine)
        dist = screen.query_one("#dist", Distribution)
        dist_base = screen.query_one("#dist-base", Distribution)
        side_by_side = screen.before_after and st.base_result is not None
        dist_base.set_class(not side_by_side, "hidden")
        screen.query_one("#diff-panel").set_class(not side_by_side, "hidden")
        dist.compact = dist_base.compact = side_by_side
        screen.query_one("#mask-table", MaskTable).show(st)
        if st.result is None:
            note = st.error or ("predicting…" if screen.pending else "")
            decode.show(st.tt, None, note=note)
            dist.show(None, label="mask a token to see its distribution" if not screen.pending else "predicting…")
            dist_base.show(None)
            return
        decode.show(st.tt, st.result, base_result=st.base_result if screen.before_after else None)
        self.distribution()

    def distribution(self) -> None:
        screen = self.screen
        st = screen.state
        positions = st.positions()
        p = st.selected
        label, original = "", None
        if p is not None and p in positions:
            token = st.tt.tokens[p]
            original = token.text if p in st.original_ids() else None
            label = f"mask {positions.index(p) + 1}/{len(positions)} · position {p}"
            if st.random is not None:
                decision = st.random.decisions[p]
                label += {MASK: " · became [MASK]", RANDOM: f" · became random {st.random.replaced.get(p, '?')!r}",
                          KEEP: " · kept unchanged"}.get(decision, "")
        screen.query_one("#dist", Distribution).show(st.prediction_at(p), label=label, original_text=original)
        self.distribution_title()
        if screen.before_after and st.base_result is not None:
            screen.query_one("#dist-base", Distribution).show(st.prediction_at(p, base=True), label=label,
                                                              original_text=original)
            self._diff(p)

    def distribution_title(self) -> None:
        """The panel's title: which mask it shows, and that it still shows it while the cursor is
        on a plain token (n / N jump between the masks)."""
        screen = self.screen
        st = screen.state
        positions, p = st.positions(), st.selected
        title = "Distribution"
        if st.result is not None and p is not None and p in positions:
            title += f" of mask {positions.index(p) + 1}/{len(positions)} {st.tt.tokens[p].text!r}"
            cursor = screen.strip.cursor
            if cursor != p and 0 <= cursor < len(st.tt.tokens) and cursor not in positions:
                title = (f"Distribution: still mask {positions.index(p) + 1}/{len(positions)} "
                         f"{st.tt.tokens[p].text!r} · cursor on {st.tt.tokens[cursor].text!r} · n/N: next/prev mask")
        self._set_title(screen.query_one("#dist-box"), title.replace("[", "\\["))

    def _diff(self, position: int | None) -> None:
        """The Δ panel (before/after): core.diff's numbers at the selected mask."""
        s = self.screen.app.settings
        note = ", ".join(n for n in ("temperature 1" if s.temperature != 1 else "",
                                     "each mask alone" if s.joint else "") if n)
        label = f"position {position}" if position is not None else ""
        self.screen.query_one("#diff-panel", DiffPanel).show(self.screen.state.diff_at(position), label=label,
                                                             note=note, error=self.screen.state.diff_error)
