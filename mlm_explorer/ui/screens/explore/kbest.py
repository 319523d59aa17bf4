"""Explore's k-best list on the screen (`J`): the k best joint fills of the masks (core/infer/kbest.py).

`ExploreKBest` is held by `ExploreScreen` (as `screen.kbest`). While the list is open, every
redraw of the chips calls `sync()`: it knows which input its result belongs to (model version,
ids with every mask masked, the masks, their words, the temperature) and asks the model thread
for that input once it has stayed for `DELAY` (the search runs many rows: typing never queues
behind it). An answer for another input is dropped; work that raises goes the app's one failure
path and lands in `failed()`.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import KBestReady
from mlm_explorer.ui.widgets.kbest_list import KBestList


WORK_KIND = "kbest"
DELAY = 0.3   # seconds an input must stay before its k best fills are searched
K = 8         # fills kept (the list shows the first ROWS; the export all)


class ExploreKBest:
    def __init__(self, screen: Screen) -> None:  # the ExploreScreen that holds this (no import: a circle)
        self.screen = screen
        self.open = False
        self.asked: Any = None
        self.data: tuple[Any, Any, str | None] | None = None   # (key, KBestResult, error)
        self.work_started = 0

    @property
    def widget(self) -> KBestList:
        return self.screen.query_one(KBestList)

    def key(self) -> Any:
        screen, app = self.screen, self.screen.app
        st, lm = screen.state, app.lm
        positions = st.positions() if st.tt is not None else []
        if lm is None or not positions:
            return None
        from mlm_explorer.core.infer.kbest import blank_words

        ids = screen.model_ids()
        for p in positions:
            ids[p] = lm.tokenizer.mask_token_id   # a random / kept pick is a blank here too
        words = tuple(tuple(g) for g in blank_words(st.tt, positions))
        return (app.model_version, tuple(ids), tuple(positions), words, app.settings.temperature)

    def toggle(self) -> None:
        """Open or close the list (`J`)."""
        self.open = not self.open
        self.widget.set_class(not self.open, "hidden")
        self.sync()

    def sync(self) -> None:
        """The list is open: draw what there is for the current input, ask for what is missing."""
        if not self.open:
            return
        key = self.key()
        if key is None:
            self.widget.show(note="mask one or more tokens: the k best fills of all masks together")
            return
        if self.data is not None and self.data[0] == key:
            _, result, error = self.data
            self.widget.show(result, note=error or "")
            return
        self.widget.show(note="searching the best joint fills…")
        if self.asked == key:
            return
        self.asked = key
        self.screen.set_timer(DELAY, lambda: self._start(key))

    def _start(self, key: Any) -> None:
        if self.asked != key or self.key() != key:
            return   # the input changed during the quiet time
        from mlm_explorer.core.infer.kbest import word_shapes

        screen, lm = self.screen, self.screen.app.lm
        _, ids, positions, words, temperature = key
        groups = [list(g) for g in words]
        shapes = word_shapes(screen.state.tt, groups)
        self.work_started += 1

        def body() -> None:
            try:
                result = workers.kbest(lm, list(ids), list(positions), groups, shapes, k=K, temperature=temperature,
                                       stale=lambda: self.asked != key)
            except workers.Superseded:
                return
            screen.post_message(KBestReady(key, result))   # an error goes the app's one way: failed()

        screen.app.run_work(screen, WORK_KIND, self.work_started, body)

    def ready(self, message: KBestReady) -> None:
        if message.key != self.asked:
            return
        self.data = (message.key, message.result, message.error)
        self.sync()

    def failed(self, error: str) -> None:
        """The search raised (the app has notified): its error in the list, not retried."""
        if self.asked is not None:
            self.ready(KBestReady(self.asked, error=error))

    def export(self) -> dict | None:
        """The export's `k_best`: the fills of the current input, or None (closed, not searched yet)."""
        if not self.open or self.data is None or self.data[0] != self.key() or self.data[1] is None:
            return None
        return self.data[1].to_dict()
