"""Explore's k-best list (`J`): the k best joint fills of the masks, asked for on the model thread.

A part the screen holds (composition): it knows whether the list is open, which input its
result belongs to (model version, ids with every mask masked, the masks, their words, the
temperature), and asks `ui/workers.kbest` for that input once it has stayed for `DELAY` (the
search runs many rows: typing never queues behind it). An answer for an older input is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from mlm_explorer.errors import UserError
from mlm_explorer.ui import workers as jobs
from mlm_explorer.ui.widgets.kbest_list import KBestList

DELAY = 0.3   # seconds an input must stay before its k best fills are searched
K = 8         # fills kept (the list shows the first ROWS; the export all)


@dataclass
class KBestReady(Message):
    key: Any
    result: Any = None  # core.infer.kbest.KBestResult
    error: str | None = None


class KBestPart:
    def __init__(self, screen) -> None:
        self.screen = screen
        self.open = False
        self.asked: Any = None
        self.data: tuple[Any, Any, str | None] | None = None   # (key, result, error)
        self._request = 0

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

        ids = st.input_ids(lm.tokenizer.mask_token_id)
        for p in positions:
            ids[p] = lm.tokenizer.mask_token_id   # a random / kept pick is a blank here too
        words = tuple(tuple(g) for g in blank_words(st.tt, positions))
        return (app.model_version, tuple(ids), tuple(positions), words, app.settings.temperature)

    def toggle(self) -> None:
        self.open = not self.open
        self.widget.set_class(not self.open, "hidden")
        self.sync()

    def sync(self) -> None:
        """The list is open: draw what there is for the current input, ask for what is missing."""
        if not self.open:
            return
        key = self.key()
        if key is None:
            self.widget.show(note="mask two or more tokens (or one): the k best fills of all masks together")
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
        screen, lm = self.screen, self.screen.app.lm
        _, ids, positions, words, temperature = key
        from mlm_explorer.core.infer.kbest import word_shapes

        shapes = word_shapes(screen.state.tt, [list(g) for g in words])
        self._request += 1

        def body() -> None:
            try:
                result = jobs.kbest(lm, list(ids), list(positions), [list(g) for g in words], shapes, k=K,
                                    temperature=temperature, stale=lambda: self.asked != key)
            except jobs.Superseded:
                return
            except UserError as exc:
                screen.post_message(KBestReady(key, error=str(exc)))
                return
            screen.post_message(KBestReady(key, result))

        screen.app.run_job(self, "kbest", self._request, body)

    def job_failed(self, kind: str, request: int, error: str) -> None:
        if self.asked is not None:
            self.ready(KBestReady(self.asked, error=error))

    def ready(self, message: KBestReady) -> None:
        if message.key != self.asked:
            return
        self.data = (message.key, message.result, message.error)
        self.sync()

    def export(self) -> dict | None:
        """The k-best fills of the current input for the export, or None."""
        if not self.open or self.data is None or self.data[0] != self.key() or self.data[1] is None:
            return None
        return self.data[1].to_dict()
