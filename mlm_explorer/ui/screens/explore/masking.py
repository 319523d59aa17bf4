"""Explore's masking actions: random masking (r, enter in rate / seed), unmask all (c), and the
jump between masks (n / N).

`ExploreMasking` is held by `ExploreScreen` (as `screen.masking`); it changes the screen's
state and asks for a prediction through `screen.predictions`.

Random masking and the seed: `r` with the settings of the masking on the screen (or still on
its way) moves to the next seed ("again: next seed"); a seed, rate or whole-word mode changed
since is used as it is, so a seed typed while a masking is shown is the one the next `r` uses.
Enter in the rate or seed field applies the values as typed (never the next seed).
"""

from __future__ import annotations


from textual.screen import Screen
from mlm_explorer.ui import workers
from mlm_explorer.ui.messages import RandomMasked
from mlm_explorer.ui.widgets.controls import Controls



class ExploreMasking:
    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.pending: tuple[int, tuple] | None = None  # (request, (seed, rate, whole word)) still being computed

    def _shown(self) -> tuple | None:
        """(seed, rate, whole word) of the random masking on the screen, or on its way; None."""
        screen = self.screen
        if self.pending is not None and self.pending[0] == screen.request:
            return self.pending[1]
        r = screen.state.random
        return None if r is None else (r.seed, r.rate, r.whole_word)

    def random(self, *, next_seed: bool = True) -> None:
        """The masking engine on the current text. Every press counts: one that comes while the
        previous masking is still being computed (the first per model builds the masking
        vocabulary in a worker) moves to the next seed too."""
        screen = self.screen
        screen.flush_typing()
        st, lm = screen.state, screen.app.lm
        if st.tt is None or lm is None:
            return
        settings = screen.app.settings
        controls = screen.query_one(Controls)
        controls.read()
        if next_seed and self._shown() == (settings.seed, settings.rate, settings.whole_word):
            settings.seed += 1
            controls.show()
            screen.app.save_settings()
        request, seed, rate = screen.predictions.next_request(), settings.seed, settings.rate
        whole_word = settings.whole_word
        tt = st.tt
        preview = workers.random_mask_now(lm, tt, rate=rate, seed=seed, whole_word=whole_word)
        if preview is not None:
            self.ready(RandomMasked(request, preview))
            return
        self.pending = (request, (seed, rate, whole_word))

        def body() -> None:
            preview = workers.random_mask(lm, tt, rate=rate, seed=seed, whole_word=whole_word)
            screen.post_message(RandomMasked(request, preview))

        screen.app.run_work(screen, "random", request, body)

    def ready(self, message: RandomMasked) -> None:
        screen = self.screen
        if message.request != screen.request or screen.state.tt is None:
            return
        self.pending = None
        screen.state.random = message.preview
        picked = screen.state.random.picked()
        if not picked:
            screen.notify(f"rate {message.preview.rate} picked no token at seed {message.preview.seed}; "
                          "press r again", timeout=4)
        screen.state.selected = picked[0] if picked else None
        if picked:
            screen.strip.cursor = picked[0]
        screen.predictions.ask()

    def clear(self) -> None:
        screen = self.screen
        screen.flush_typing()
        if screen.state.tt is None:
            return
        screen.state.clear()
        screen.predictions.ask()

    def jump(self, step: int) -> None:
        """The next (step 1) / previous (-1) mask after the cursor, round the end: its
        distribution, the cursor on it."""
        screen = self.screen
        screen.flush_typing()
        st = screen.state
        positions = st.positions()
        if not positions:
            screen.notify("no mask to jump to: mask a token (space or a click) or press r", timeout=3)
            return
        here = screen.strip.cursor
        if step > 0:
            target = next((p for p in positions if p > here), positions[0])
        else:
            target = next((p for p in reversed(positions) if p < here), positions[-1])
        st.selected = target
        screen.strip.cursor = target
        screen.drawing.strip()
        if st.result is not None:
            screen.drawing.distribution()
