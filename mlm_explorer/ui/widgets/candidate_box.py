"""The candidate box (`k` on Explore): type words for the selected mask, read their scores.

Each word is scored at the mask as it would be tokenized there (`core.candidates`): one piece
gets its probability and rank in the mask's distribution; a word of several pieces becomes as
many masks, scored jointly, most confident first (its probability is the product; a rank over
all sequences of that length is not computed, so it reads "n/a, k pieces"). Below: the best
fills of 1, 2 and 3 pieces for the same mask, ranked by log-probability per piece.

The box only draws and reports what was typed (`WordsTyped`); the screen runs the model and calls
`show(...)`. Its height is fixed, so new numbers repaint it without a layout of the screen.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from mlm_explorer.ui.messages import WordsTyped

TYPING_DEBOUNCE = 0.3  # seconds of quiet typing before the words are scored
FILLS_SHOWN = 6  # variable-length fills listed (the export has all of them)


def parse_words(value: str) -> list[str]:
    """"park, garden,," -> ["park", "garden"] (lenient while the user is still typing)."""
    return [w.strip() for w in (value or "").split(",") if w.strip()]


def percent(p: float) -> str:
    return f"{p:.2%}" if p >= 1e-3 else f"{p:.1e}"


def pieces_text(pieces: list[str]) -> str:
    return "·".join(p[2:] if p.startswith("##") and len(p) > 2 else p.lstrip("Ġ▁") or p for p in pieces)


def how_scored(n: int) -> str:
    return "1 piece" if n == 1 else f"{n} pieces, joint, most confident first"


class CandidateBox(Vertical):
    DEFAULT_CSS = """
    CandidateBox { height: 11; border-top: round $accent 50%; border-title-color: $text-muted; }
    CandidateBox:focus-within { border-top: round $accent; }
    CandidateBox > Horizontal { height: 1; }
    CandidateBox Label { width: auto; padding: 0 1; color: $text-muted; }
    CandidateBox Input, CandidateBox Input:focus { height: 1; width: 1fr; border: none; padding: 0 1; }
    CandidateBox Input { background: $boost; }
    CandidateBox > .cand-body { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Candidates (k)"
        self._debounce = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("words")
            yield Input(placeholder="words for this mask, comma-separated (enter)", id="cand-input")
        yield Static(Text("mask a token to score candidate words", style="italic dim"), classes="cand-body")

    @property
    def words(self) -> list[str]:
        return parse_words(self.query_one("#cand-input", Input).value)

    @on(Input.Changed, "#cand-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(TYPING_DEBOUNCE, lambda: self.post_message(WordsTyped(self.words)))

    @on(Input.Submitted, "#cand-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        self.post_message(WordsTyped(self.words))

    # -- drawing --------------------------------------------------------------------------
    def show(self, *, title: str, note: str = "", scores: Any = None, score_error: str | None = None,
             fills: Any = None, fill_error: str | None = None, words: list[str] | None = None) -> None:
        """Draw core.candidates results: `scores` (CandidateScore list), `fills` (VariableFill list)."""
        self.border_title = f"Candidates (k) · {title}" if title else "Candidates (k)"
        body = self.query_one(".cand-body", Static)
        t = Text(no_wrap=True, overflow="ellipsis")
        if note:
            t.append(note, style="italic dim")
            body.update(t, layout=False)
            return
        if score_error:
            t.append(score_error + "\n", style="yellow")
        elif scores:
            width = min(14, max(len(s.word) for s in scores))
            for s in scores:
                n = len(s.token_ids)
                rank = f"rank {s.rank}" if s.rank is not None else f"n/a, {n} pieces"
                t.append(f"{s.word[:width]:<{width}} ", style="bold")
                t.append(f"{percent(s.probability):>8}  {rank:<14} ")
                if n == 1:
                    t.append(how_scored(n), style="dim")
                else:  # the pieces and how they were scored, on a line of their own
                    t.append(f"\n  └ {pieces_text(s.pieces)}: {how_scored(n)}", style="dim")
                t.append("\n")
        elif words:
            t.append("scoring…\n", style="italic dim")
        else:
            t.append("type words above (comma-separated) to score them here\n", style="italic dim")
        t.append("best fills of 1–3 pieces, by log p per piece, p:\n", style="dim")
        if fill_error:
            t.append(fill_error, style="yellow")
        elif fills is None:
            t.append("searching…", style="italic dim")
        else:
            room = (body.content_size.height or FILLS_SHOWN + 4) - t.plain.count("\n")  # lines left
            shown = fills[:max(3, min(FILLS_SHOWN, room))]
            width = min(20, max([len(pieces_text(f.pieces)) for f in shown] + [8]))
            for i, f in enumerate(shown, 1):
                t.append(f"{i} ", style="dim")
                t.append(f"{pieces_text(f.pieces):<{width}} ", style="bold")
                t.append(f"{f.normalized_logprob:6.2f}/piece  {percent(f.probability):>8}  ")
                t.append(how_scored(f.n_pieces).split(",")[0], style="dim")
                t.append("\n")
        t.rstrip()
        body.update(t, layout=False)
