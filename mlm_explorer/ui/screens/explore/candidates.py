"""Explore's candidate box on the screen (`k`): the words typed, their scores, the best fills.

`ExploreCandidates` is held by `ExploreScreen` (as `screen.candidates`). While the box is
open, every redraw of the chips calls `sync()`: it asks the model thread for what the box
lacks for the selected mask (the fills of 1-3 pieces; the typed words' scores), keyed by
(model version, input ids, position, temperature), and draws what there is. An answer for
another key is dropped. A core UserError of either part is part of the answer (shown in the
box); work that raises goes the app's one failure path and lands in `failed()`.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import CandidatesReady
from mlm_explorer.ui.widgets.candidate_box import CandidateBox


WORK_KIND = "candidates"


class ExploreCandidates:
    def __init__(self, screen: Screen) -> None:  # the ExploreScreen that holds this (no import: a circle)
        self.screen = screen
        self.open = False
        self.words: tuple[str, ...] = ()
        self.data: dict[str, tuple[Any, dict]] = {}  # "fills" / "scores" -> (key, workers.candidates answer)
        self.asked: Any = None  # (key, words, fills?) of the work on its way
        self.work_started = 0

    @property
    def box(self) -> CandidateBox:
        return self.screen.query_one(CandidateBox)

    def toggle(self) -> None:
        """Open or close the box (`k`)."""
        self.open = not self.open
        self.box.set_class(not self.open, "hidden")
        if self.open:
            self.box.query_one("#cand-input").focus()
            self.sync()
        else:
            self.screen.strip.focus()

    def words_typed(self, words: list[str]) -> None:
        self.words = tuple(words)
        self.sync()

    def key(self) -> Any:
        screen = self.screen
        st, lm = screen.state, screen.app.lm
        p = st.selected
        if lm is None or st.tt is None or p is None or p not in st.positions():
            return None
        ids = screen.model_ids()
        ids[p] = lm.tokenizer.mask_token_id  # a random/kept pick is scored as a blank too
        return (screen.app.model_version, tuple(ids), p, screen.app.settings.temperature)

    def sync(self) -> None:
        """The box is open: ask for the scores and fills it lacks, and draw what there is."""
        if not self.open:
            return
        key = self.key()
        words = self.words
        if key is not None:
            need_fills = self.data.get("fills", (None,))[0] != key
            need_scores = bool(words) and self.data.get("scores", (None,))[0] != (key, words)
            want = (key, words if need_scores else (), need_fills)
            if (need_fills or need_scores) and self.asked != want:
                self._ask(key, want)
        self._draw(key, words)

    def _ask(self, key: Any, want: Any) -> None:
        self.asked = want
        self.work_started += 1
        screen = self.screen
        lm, (_, ids, position, temperature) = screen.app.lm, key
        words, fills = want[1], want[2]

        def body() -> None:
            try:
                data = workers.candidates(lm, list(ids), position, list(words), fills=fills,
                                          temperature=temperature, stale=lambda: self.asked != want)
            except workers.Superseded:
                return
            screen.post_message(CandidatesReady(key, words, data))

        screen.app.run_work(screen, WORK_KIND, self.work_started, body)

    def ready(self, message: CandidatesReady) -> None:
        key = self.key()
        if message.key != key:
            return  # another mask, text, model or temperature since
        data = message.data
        if data.get("fills") is not None or data.get("fill_error"):
            self.data["fills"] = (key, data)
        if message.words and message.words == self.words:
            self.data["scores"] = ((key, message.words), data)
        self._draw(key, self.words)

    def failed(self, error: str) -> None:
        """The work raised (the app has notified): the error in place of what was asked."""
        want = self.asked
        if want is not None:
            errors = {"score_error": error if want[1] else None, "fill_error": error if want[2] else None}
            self.ready(CandidatesReady(want[0], want[1], errors))

    def _current(self, key: Any, words: tuple) -> tuple[dict, dict]:
        """(fills answer, scores answer) for exactly this key and these words ({} when missing)."""
        fills = self.data.get("fills")
        scores = self.data.get("scores")
        fills = fills[1] if fills and fills[0] == key else {}
        scores = scores[1] if scores and scores[0] == (key, words) and words else {}
        return fills, scores

    def _draw(self, key: Any, words: tuple) -> None:
        box = self.box
        if key is None:
            box.show(title="", note="mask a token (click it, or space): words are scored at the selected mask")
            return
        positions = self.screen.state.positions()
        p = key[2]
        fills, scores = self._current(key, words)
        box.show(title=f"mask {positions.index(p) + 1}/{len(positions)} · position {p}",
                 scores=scores.get("scores"), score_error=scores.get("score_error"),
                 fills=fills.get("fills"), fill_error=fills.get("fill_error"), words=list(words))

    def view(self) -> dict | None:
        """The box's numbers for the current mask (the export's `candidates`); None when closed or empty."""
        key = self.key()
        if not self.open or key is None:
            return None
        words = self.words
        fills, scores = self._current(key, words)
        return {
            "position": key[2], "temperature": key[3], "words": list(words),
            "scores": [s.to_dict() for s in scores.get("scores") or []], "score_error": scores.get("score_error"),
            "fills": [f.to_dict() for f in fills.get("fills") or []], "fill_error": fills.get("fill_error"),
        }
