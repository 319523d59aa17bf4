"""Explore's requests to the model: every change of the input asks for a prediction of exactly
`state.input_ids(...)`; only the answer to the latest request is shown.

`ExplorePredictions` is held by `ExploreScreen` (as `screen.predictions`). Each change bumps
`request` (a random masking takes a number too); the prediction is queued straight on the
model thread (`workers.submit`, no worker thread in between) and comes back as
`PredictionReady`, or, if it raised, through the app's one failure path. The chips wait up
to `STRIP_DELAY` for the answer so both land in one frame; the busy mark shows only when an
answer takes longer than `LOADING_DELAY`.
"""

from __future__ import annotations


from textual.screen import Screen
from mlm_explorer.errors import UserError
from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import PredictionReady


LOADING_DELAY = 0.3  # a prediction slower than this shows "predicting…"
STRIP_DELAY = 0.1  # chips wait this long for the prediction, so both land in one frame
# (a frame drawn while the model runs competes with it for the CPU and the GIL; a prediction
#  slower than this gets the chips first, then the distribution)
WORK_KIND = "predict"


class ExplorePredictions:
    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.request = 0  # bumps on every change of the model input
        self.pending: int | None = None  # request still waiting for its prediction
        self._strip_timer = None  # the pending STRIP_DELAY / LOADING_DELAY timers of the latest request
        self._busy_timer = None

    def next_request(self) -> int:
        self.request += 1
        return self.request

    def ask(self) -> None:
        """The model input changed: redraw the chips, then ask for a prediction."""
        screen = self.screen
        st, drawing, app = screen.state, screen.drawing, screen.app
        positions = st.positions()
        if st.selected not in positions:
            st.selected = positions[0] if positions else None
        request = self.next_request()
        st.result = st.base_result = st.diff = st.diff_error = None
        # A newer request supersedes the older one's timers: the old STRIP_DELAY timer would
        # otherwise draw the chips early, mid-forward (fighting the model for the CPU and the GIL).
        for timer in (self._strip_timer, self._busy_timer):
            if timer is not None:
                timer.stop()
        self._strip_timer = self._busy_timer = None
        lm = app.lm
        if not positions or lm is None:
            self.pending = None
            drawing.strip()
            drawing.results()
            return
        drawing.strip_dirty = True
        self._strip_timer = screen.set_timer(STRIP_DELAY, self.flush_strip)
        req = st.predict_request(lm.tokenizer.mask_token_id, app.settings)
        base = app.base_lm if screen.before_after else None
        self.pending = request

        stale = lambda: request != self.request  # noqa: E731 - a newer request supersedes this one

        def body() -> PredictionReady:  # on the model thread, queued straight from here (no worker)
            result, base_result, seconds = workers.predict(lm, req, base, stale=stale)
            diff, diff_error = None, None
            if base is not None:  # before/after: the change per candidate (core.diff)
                try:
                    diff = workers.diff(base, lm, req, stale=stale)
                except UserError as exc:
                    diff_error = str(exc)
            return PredictionReady(request, result, base_result, seconds, diff, diff_error)

        def failed(exc: BaseException) -> None:  # on the model thread: the app's one failure path
            if not stale():
                app.work_failed(screen, WORK_KIND, request, exc)

        workers.submit(body, done=screen.post_message, stale=stale, failed=failed)
        self._busy_timer = screen.set_timer(LOADING_DELAY, lambda: self._show_busy(request))

    def flush_strip(self) -> None:
        if self.screen.drawing.strip_dirty:
            self.screen.drawing.strip()

    def _show_busy(self, request: int) -> None:
        if self.pending == request:
            self.screen.drawing.set_busy("predicting…")

    def ready(self, message: PredictionReady) -> None:
        if message.request != self.request:
            return  # a newer request superseded this one
        st = self.screen.state
        self.pending = None
        st.result, st.base_result = message.result, message.base_result
        st.diff, st.diff_error = message.diff, message.diff_error
        st.error = None  # an earlier failure is over
        with self.screen.app.batch_update():
            self.flush_strip()
            self.screen.drawing.results()

    def failed(self, request: int, error: str) -> None:
        """The prediction (or random masking) of `request` raised; shown unless superseded."""
        if request == self.request:
            self.pending = None
            self.screen.state.error = error
            self.flush_strip()
            self.screen.drawing.results()
