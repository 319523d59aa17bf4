"""The decode line: the text with every mask replaced by the model's fill, fills highlighted.

Built from a `core.fill.FillResult` (its `steps` say which token went where, and in joint
mode in which order) laid over the tokenized text, so the spacing is the user's own.
The legend for the random-masking colours lives here too.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from mlm_explorer.ui.widgets.distribution import shown
from mlm_explorer.core.mask.preview import quoted
from mlm_explorer.ui.widgets.token_strip import DARK, LIGHT

SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def decode_text(tt: Any, result: Any, *, style: str = "bold reverse", piece_style: Any = None) -> Text:
    """Rich text of `tt` (core.text.TokenizedText) with `result`'s fills highlighted: the text of
    core.decode.fill_segments (the one decode of the app, the CLI and the export)."""
    out = Text()
    if tt is None or result is None:
        return out
    from mlm_explorer.core.infer.decode import fill_segments
    from mlm_explorer.core.mask.text import PieceStyle

    steps = {s.position: (order, s) for order, s in enumerate(result.steps, 1)}
    fills = {p: (s.token, shown(s)) for p, (_, s) in steps.items()}
    for text, position in fill_segments(piece_style or PieceStyle(), tt, fills):
        if position is None:
            out.append(text)
            continue
        out.append(text, style=style)
        if result.mode == "joint" and len(steps) > 1:
            out.append(str(steps[position][0]).translate(SUBSCRIPTS), style="dim")
    return out


class DecodeLine(Static):
    """Argmax decode of the whole text (one line per model in before/after)."""

    DEFAULT_CSS = """
    DecodeLine { height: auto; min-height: 3; padding: 0 1; }
    """

    piece_style: Any = None  # core.text.PieceStyle of the model's tokenizer (its word boundaries)

    def show(self, tt: Any, result: Any, *, base_result: Any = None, note: str = "") -> None:
        if result is None:
            self._set(Text(note or "mask a token (click it, or space) to see the model's fill", style="italic dim"))
            return
        t = Text()
        t.append(f"{result.mode:<12}", style="dim")
        t.append_text(decode_text(tt, result, piece_style=self.piece_style))
        if base_result is not None:
            t.append("\n")
            t.append(f"{'base':<12}", style="dim")
            t.append_text(decode_text(tt, base_result, style="bold underline", piece_style=self.piece_style))
        line = []
        if result.loss is not None:
            import math

            line.append(f"loss on picked positions {result.loss:.3f} (ppl {math.exp(min(result.loss, 50)):.1f})")
            if base_result is not None and base_result.loss is not None:
                line.append(f"base {base_result.loss:.3f}")
        line.append(f"joint log p {result.joint_logprob:.2f}")
        t.append("\n" + " · ".join(line), style="dim")
        if note:
            t.append("\n" + note, style="dim italic")
        self._set(t)

    def _set(self, text: Text) -> None:
        """Show `text`; a layout of the screen only when the line's height changes.

        A new decode usually has as many lines as the last one: a repaint of this widget is
        enough, and a layout (every widget of the screen placed again) would cost more than
        the model's forward.
        """
        self.update(text, layout=False)
        width = self.content_size.width
        if width <= 0:
            self.refresh(layout=True)  # not laid out yet
            return
        height = self.get_content_height(self.content_size, self.content_size, width)
        min_height = self.styles.min_height
        if min_height is not None and min_height.is_cells:
            height = max(height, int(min_height.value) - self.styles.gutter.height)
        if height != self.content_size.height:
            self.refresh(layout=True)


class Legend(Static):
    """What the chip colours mean (the 80/10/10 outcomes of random masking)."""

    DEFAULT_CSS = """
    Legend { height: auto; padding: 0 1; }
    """

    example: tuple[str, ...] = ("un", "believ", "able")  # the pieces of one word (the loaded tokenizer's: set_example)

    def set_example(self, pieces: list[str]) -> None:
        if tuple(pieces) != self.example:
            self.example = tuple(pieces)
            self.redraw()

    def on_mount(self) -> None:
        self.redraw()
        self.watch(self.app, "theme", lambda _: self.redraw(), init=False)

    def redraw(self) -> None:
        pal = DARK if self.app.current_theme.dark else LIGHT
        t = Text()
        t.append(" [MASK] ", style=f"bold {pal.on_label} on {pal.mask}")
        t.append(" 80%  ")
        t.append(f" a→{quoted('b')} ", style=f"bold #000000 on {pal.random}")
        t.append(" random 10%  ")
        t.append(" a✓ ", style=f"bold {pal.on_label} on {pal.keep}")
        t.append(" kept 10%  ")
        t.append("·".join(self.example), style=f"{pal.text} on {pal.word}")
        t.append(" = one word" if len(self.example) > 1 else " = one token")
        self.update(t)
