"""core/infer/decode.py: the fills written into the text as typed (case, spacing, word boundaries)."""

from __future__ import annotations

from mlm_explorer.core.infer.decode import fill_segments, filled_text
from mlm_explorer.core.mask.text import PieceStyle, Token, TokenizedText

WORDPIECE = PieceStyle(wordpiece_prefix="##")
BYTE_LEVEL = PieceStyle(byte_level=True)


def _tt(text: str, spans: list[tuple[int, int]], continues: set[int] = frozenset()) -> TokenizedText:
    """A TokenizedText with [CLS] / [SEP] around tokens at `spans` (character offsets)."""
    tokens = [Token(0, 1, "[CLS]", 0, 0, None, False, True, False, False)]
    for i, (start, end) in enumerate(spans, 1):
        tokens.append(Token(i, 10 + i, text[start:end], start, end, i, i in continues, False, True, False))
    tokens.append(Token(len(tokens), 2, "[SEP]", 0, 0, None, False, True, False, False))
    return TokenizedText(text, tokens)


def _join(style, tt, fills):
    return "".join(t for t, _ in fill_segments(style, tt, fills))


def test_a_fill_typed_against_a_word_gets_its_space():
    text = "The tokenizer[MASK] split."
    tt = _tt(text, [(0, 3), (4, 13), (13, 19), (20, 25), (25, 26)])
    assert _join(WORDPIECE, tt, {3: ("was", "was")}) == "The tokenizer was split."
    text = "The tokenizer [MASK]split."  # and a word typed against the fill
    tt = _tt(text, [(0, 3), (4, 13), (14, 20), (20, 25), (25, 26)])
    assert _join(WORDPIECE, tt, {3: ("was", "was")}) == "The tokenizer was split."


def test_a_mask_that_swallowed_its_space_keeps_the_words_apart():
    text = "The tokenizer <mask> split."  # RoBERTa's <mask> (lstrip): its offsets take the space
    tt = _tt(text, [(0, 3), (3, 13), (13, 20), (20, 26), (26, 27)])
    assert _join(BYTE_LEVEL, tt, {3: ("Ġwas", "was")}) == "The tokenizer was split."


def test_a_continuation_stays_where_its_mask_was_and_punctuation_stays_put():
    text = "It is un[MASK] today [MASK]"
    tt = _tt(text, [(0, 2), (3, 5), (6, 8), (8, 14), (15, 20), (21, 27)])
    assert _join(WORDPIECE, tt, {4: ("##able", "able"), 6: (".", ".")}) == "It is unable today ."
    segments = fill_segments(WORDPIECE, tt, {4: ("##able", "able")})
    assert ("able", 4) in segments  # the fill is its own segment, for the app's highlight
    text = "the [MASK] park"  # a space the user typed is kept, whatever piece the model wrote
    tt = _tt(text, [(0, 3), (4, 10), (11, 15)])
    assert _join(WORDPIECE, tt, {2: ("##believ", "believ")}) == "the believ park"


def test_the_decode_keeps_the_case_as_typed(tiny_lm):
    from mlm_explorer.core.infer.fill import predict

    result = predict(tiny_lm, "The Cute [MASK] walks in the Green park.")
    assert result.decoded.startswith("The Cute ") and result.decoded.endswith(" walks in the Green park.")
    assert result.decoded == filled_text(tiny_lm.tokenizer, _tokenized(tiny_lm, "The Cute [MASK] walks in the Green park."),
                                         result.steps)


def _tokenized(lm, text):
    from mlm_explorer.core.mask.text import tokenize

    return tokenize(lm.tokenizer, text)
