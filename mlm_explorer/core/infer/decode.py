"""The fills written into the user's own text: the one decode of the app, the CLI and the export.

`tokenizer.decode` of the filled ids loses what the user typed (an uncased model lower-cases
"The Nile", WordPiece writes "unbelievable :"). Here the text stays as typed, case and
spacing, and only the characters of each filled position are replaced by its fill. Where a fill
meets its neighbour, the tokenizer's own word boundary (`PieceStyle.continues`: `##x`, a piece
without `▁` / `Ġ`) decides the space between them:

- a fill that starts a word is set apart from a letter or digit right before it (a mask that
  swallowed the space before it, like RoBERTa's `<mask>`, or a blank typed against a word:
  "tokenizer___ split" reads "tokenizer was split", not "tokenizerwas split");
- a word that starts right after a fill is set apart from it the same way;
- a fill that continues a word (`##able`) is written where its mask was: against the word
  before it when the user typed no space ("un[MASK]" -> "unable"), and a space the user typed
  is never taken away ("the [MASK] park" + `##believ` reads "the believ park", not
  "thebeliev park": the highlight shows what the model wrote, the spacing stays the user's).
"""

from __future__ import annotations

from typing import Any, Iterable

from mlm_explorer.core.mask.text import PieceStyle, TokenizedText

Segment = tuple[str, "int | None"]  # (text, the filled position it shows, or None for the user's text)


def fill_segments(style: PieceStyle, tt: TokenizedText, fills: dict[int, tuple[str, str]]) -> list[Segment]:
    """`tt.text` cut into segments, each filled position's characters replaced by its fill.

    fills: position -> (vocabulary piece, display text), e.g. {6: ("was", "was"), 7: ("##s", "s")}.
    Special tokens are dropped; text the tokenizer skipped (spaces, unknown characters) is kept.
    """
    out: list[Segment] = []
    cursor = 0
    after_fill = False  # the last token written was a fill
    for token in tt.tokens:
        filled = token.index in fills
        if token.special or (token.end <= token.start and not filled):
            continue
        gap = tt.text[cursor:token.start] if token.start >= cursor else ""
        if filled:
            piece, text = fills[token.index]
            if not gap and not style.continues(piece) and _ends_alnum(out) and text[:1].isalnum():
                gap = " "  # a new word: not glued onto the one before
            word = (text, token.index)
        else:
            word = (tt.text[token.start:token.end], None)
            if after_fill and not gap and not token.continues_word and _ends_alnum(out) and word[0][:1].isalnum():
                gap = " "
        if gap:
            out.append((gap, None))
        out.append(word)
        cursor = max(cursor, token.end)
        after_fill = filled
    if cursor < len(tt.text):
        out.append((tt.text[cursor:], None))
    return out


def filled_text(tokenizer: Any, tt: TokenizedText, steps: Iterable[Any]) -> str:
    """The text with each step's fill (`core.fill.FillStep`: position, token, text) in place."""
    fills = {s.position: (s.token, s.text) for s in steps}
    return "".join(text for text, _ in fill_segments(PieceStyle.of(tokenizer), tt, fills)).strip()


def _ends_alnum(segments: list[Segment]) -> bool:
    return bool(segments) and segments[-1][0][-1:].isalnum()
