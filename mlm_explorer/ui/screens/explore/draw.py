"""How the Explore screen draws its state: the chips and their title, the decode line, the
mask table, the distribution (and the base model's beside it), the before/after panel.

A mixin of `ExploreScreen` (ui/screens/explore/screen.py), which owns the state and the requests;
these methods only read `self.state` and write widgets, without a layout where none is needed.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Region

from mlm_explorer.core.mask.decision import KEEP, MASK, RANDOM
from mlm_explorer.ui.widgets.decode_line import DecodeLine
from mlm_explorer.ui.widgets.diff_panel import DiffPanel
from mlm_explorer.ui.widgets.distribution import Distribution
from mlm_explorer.ui.widgets.mask_table import MaskTable
from mlm_explorer.ui.widgets.token_strip import StripView


class ExploreDrawing:
    def _draw_strip(self) -> None:
        self._strip_dirty = False
        st = self.state
        if st.tt is None:
            self.lens_overlay()  # no text: the lens bar goes too
            return
        self.strip.show(StripView(
            tokens=st.tt.tokens, masked=st.masked_view(),
            decisions={i: d for i, d in enumerate(st.random.decisions) if d} if st.random else {},
            replaced=st.random.replaced if st.random else {}, selected=st.selected, **self.lens_overlay(),
        ))
        box = self.query_one("#tokens-box")
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

    def _draw_results(self) -> None:
        st = self.state
        if self.pending is None:
            self._set_busy("")
        decode = self.query_one("#decode", DecodeLine)
        dist = self.query_one("#dist", Distribution)
        dist_base = self.query_one("#dist-base", Distribution)
        side_by_side = self.before_after and st.base_result is not None
        dist_base.set_class(not side_by_side, "hidden")
        self.query_one("#diff-panel").set_class(not side_by_side, "hidden")
        dist.compact = dist_base.compact = side_by_side
        self.query_one("#mask-table", MaskTable).show(st)
        if st.result is None:
            note = st.error or ("predicting…" if self.pending else "")
            decode.show(st.tt, None, note=note)
            dist.show(None, label="mask a token to see its distribution" if not self.pending else "predicting…")
            dist_base.show(None)
            return
        decode.show(st.tt, st.result, base_result=st.base_result if self.before_after else None)
        self._draw_distribution()

    def _draw_distribution(self) -> None:
        st = self.state
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
        self.query_one("#dist", Distribution).show(st.prediction_at(p), label=label, original_text=original)
        if self.before_after and st.base_result is not None:
            self.query_one("#dist-base", Distribution).show(st.prediction_at(p, base=True), label=label,
                                                            original_text=original)
            self._draw_diff(p)

    def _draw_diff(self, position: int | None) -> None:
        """The Δ panel (before/after): core.diff's numbers at the selected mask."""
        s = self.app.settings
        note = ", ".join(n for n in ("temperature 1" if s.temperature != 1 else "",
                                     "each mask alone" if s.joint else "") if n)
        label = f"position {position}" if position is not None else ""
        self.query_one("#diff-panel", DiffPanel).show(self.state.diff_at(position), label=label, note=note,
                                                      error=self.state.diff_error)
