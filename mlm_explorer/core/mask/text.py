"""Text and tokens: what the user typed, as the model's fast tokenizer sees it.

`tokenize` keeps, for every token, its id, a display string without tokenizer noise
(`##ing` -> `ing`, `Ġthe` / `▁the` -> `the`), its character offsets, the word it belongs
to and whether it continues the previous token's word (so the subword boundary stays
visible), and whether it may be masked. `MaskSet` is the set of positions the user
clicked; typed blanks (`[MASK]`, `___`, or the model's own mask token) are masks too.

Works with WordPiece (BERT), Unigram/SentencePiece (T5, `▁`) and byte-level BPE
(RoBERTa, GPT-2, `Ġ`) fast tokenizers. This module imports neither torch nor textual.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from mlm_explorer.errors import InputError, ModelError

MASK_ALIASES = ("[MASK]", "___")  # typed blanks any masked-LM takes, plus its own mask token (e.g. "<mask>")
INFILL_BLANKS = MASK_ALIASES + ("<mask>",)  # what a seq2seq infill reads as a blank
VISIBLE_SPACE = "␣"  # display text of a piece that is only a word boundary (T5's lone "▁")
_WHITESPACE_GLYPHS = {"\n": "⏎", "\t": "⇥"}
_SENTINEL_RE = re.compile(r"<extra_id_(\d+)>")
# `[MASK]` in any case, three or more underscores: one blank each.
_ALIAS_RE = r"\[mask\]|_{3,}"


# ---------------------------------------------------------------------------------------
# How a tokenizer marks word boundaries inside its pieces
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's `bytes_to_unicode`: printable stand-in character -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


@dataclass(frozen=True)
class PieceStyle:
    """How one tokenizer writes subword pieces; shared with `masking.MaskingVocab`.

    - WordPiece: continuation pieces start with `prefix` (`##`).
    - Metaspace (SentencePiece, T5): word-initial pieces start with `▁`.
    - Byte-level BPE (RoBERTa): word-initial pieces start with `Ġ` (an encoded space),
      and non-ASCII text is spelled in GPT-2's byte alphabet.
    - Anything else: every piece counts as its own word.
    """

    wordpiece_prefix: str | None = None
    metaspace: str | None = None
    byte_level: bool = False

    @classmethod
    def of(cls, tokenizer) -> "PieceStyle":
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelError(
                f"{type(tokenizer).__name__} is a slow tokenizer; mlm-explorer needs a fast "
                "(Rust) tokenizer: load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
            )
        model_kind = type(backend.model).__name__
        shape = f"{backend.pre_tokenizer!r} {backend.decoder!r}"
        prefix = backend.model.continuing_subword_prefix if model_kind == "WordPiece" else None
        return cls(
            wordpiece_prefix=prefix or None,
            metaspace="▁" if ("Metaspace" in shape or "▁" in shape) else None,
            byte_level="ByteLevel" in shape,
        )

    def continues(self, piece: str) -> bool:
        """True when this (non-special) vocabulary piece continues the previous word."""
        if self.wordpiece_prefix:
            return piece.startswith(self.wordpiece_prefix)
        if self.metaspace:
            return not piece.startswith(self.metaspace)
        if self.byte_level:
            return not piece.startswith("Ġ")
        return False

    def display(self, piece: str) -> str:
        """The piece as a person should read it: no `##`, `▁`, `Ġ`; never empty."""
        if self.wordpiece_prefix and piece.startswith(self.wordpiece_prefix):
            piece = piece[len(self.wordpiece_prefix):]
        if self.byte_level:
            decoder = _byte_decoder()
            if all(c in decoder for c in piece):
                raw = bytes(decoder[c] for c in piece)
                try:
                    piece = raw.decode("utf-8")
                except UnicodeDecodeError:  # part of a multi-byte character: show its bytes, <0xC3>
                    piece = "".join(chr(b) if b < 128 else f"<0x{b:02X}>" for b in raw)
        if self.metaspace:
            piece = piece.replace(self.metaspace, " ")
        stripped = piece.strip()
        if stripped:
            return stripped
        for char, glyph in _WHITESPACE_GLYPHS.items():
            if char in piece:
                return glyph
        return VISIBLE_SPACE


class TokenStrings:
    """The two strings of a token id: the vocabulary piece as is ("##ing", "Ġthe") and the text a
    person reads ("ing", "the"); one per tokenizer, shared by every result that names tokens."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.style = PieceStyle.of(tokenizer)

    def strings(self, token_id: int) -> tuple[str, str]:
        piece = self.tokenizer.convert_ids_to_tokens(int(token_id))
        piece = piece if isinstance(piece, str) else str(piece)
        return piece, self.style.display(piece)


def decode_text(tokenizer, ids) -> str:
    """The ids as readable text, special tokens dropped; WordPiece's " ." -> "." clean-up where
    the tokenizer does one (byte-level BPE keeps its spaces exactly and refuses the flag)."""
    clean = getattr(tokenizer, "backend_tokenizer", None) is not None and not PieceStyle.of(tokenizer).byte_level
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=clean).strip()


def sentinel_token_ids(tokenizer) -> dict[int, int]:
    """`{token id: N}` for every `<extra_id_N>` the tokenizer knows (T5 sentinels)."""
    found = {}
    for token_id, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        match = _SENTINEL_RE.fullmatch(str(added))
        if match:
            found[token_id] = int(match.group(1))
    return found


# ---------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    index: int  # position in the encoded sequence (0 = [CLS])
    id: int
    text: str  # display text: "##ing" -> "ing", "Ġthe"/"▁the" -> "the"
    start: int  # character offsets into TokenizedText.text ((0, 0) for specials)
    end: int
    word: int | None  # word index within the text; None for special tokens
    continues_word: bool  # True when this subword continues the previous token's word
    special: bool  # [CLS]/[SEP]/[PAD]/</s>/[UNK]...: never maskable
    maskable: bool  # not special, not padding
    typed_mask: bool  # the user typed a mask here ([MASK], ___, the model's mask token)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TokenizedText:
    text: str  # the text as tokenized (mask aliases normalised to the model's mask token)
    tokens: list[Token]
    truncated: bool = False
    blanks_cut: int = 0  # typed blanks beyond the model's limit that truncation cut off

    @property
    def input_ids(self) -> list[int]:
        return [t.id for t in self.tokens]

    def to_dict(self) -> dict:
        return {"text": self.text, "truncated": self.truncated, "tokens": [t.to_dict() for t in self.tokens]}


def normalize_masks(text: str, mask_token: str | None) -> str:
    """Replace every typed blank (`[MASK]` in any case, `___`, the model's own mask token)
    with `mask_token`, one blank each. With no mask token (T5), the text is unchanged;
    `tokenize` uses `blanks_to_sentinels` instead."""
    if not mask_token:
        return text
    pattern = _ALIAS_RE + "|" + re.escape(mask_token)
    return re.sub(pattern, lambda _: mask_token, text, flags=re.IGNORECASE)


def blanks_to_sentinels(
    text: str, mask_token_aliases: tuple[str, ...] = INFILL_BLANKS
) -> tuple[str, int]:
    """Build a T5 infill input from user blanks; returns `(t5_text, n_blanks)`.

    Consecutive blanks (only whitespace between them) merge into one span and become one
    sentinel. Typed `<extra_id_N>` sentinels count as blanks too. All blanks are numbered
    `<extra_id_0>`, `<extra_id_1>`, ... in order of appearance, as T5 expects, so explicit
    sentinels already written in that order are kept as they are. `___` means any run of
    three or more underscores; `[MASK]` matches in any case.
    """
    return _merge_blanks(text, mask_token_aliases, lambda k: f"<extra_id_{k}>", sentinels=True)


def blanks_to_masks(text: str, mask_token: str, mask_token_aliases: tuple[str, ...] = INFILL_BLANKS) -> tuple[str, int]:
    """Build a BART infill input: each run of consecutive blanks becomes one `mask_token` (BART's
    text infilling: one mask stands for a span of any length); returns `(text, n_blanks)`."""
    return _merge_blanks(text, tuple(dict.fromkeys(mask_token_aliases + (mask_token,))), lambda k: mask_token)


def _merge_blanks(text: str, aliases: tuple[str, ...], mark, *, sentinels: bool = False) -> tuple[str, int]:
    """Replace each run of blanks (only whitespace between them) by mark(k), k = 0, 1, ..."""
    alias = "|".join("_{3,}" if a == "___" else re.escape(a) for a in aliases)
    run = rf"(?:{alias})(?:\s*(?:{alias}))*" if alias else None
    pattern = "|".join(p for p in (r"<extra_id_\d+>" if sentinels else "", run or "") if p)
    if not pattern:
        return text, 0
    count = 0

    def number(_match: re.Match) -> str:
        nonlocal count
        count += 1
        return mark(count - 1)

    return re.sub(pattern, number, text, flags=re.IGNORECASE), count


def too_long(n_tokens: int, limit: int, *, truncate_hint: bool = True) -> InputError:
    """The one message for a text longer than the model takes."""
    hint = "shorten it or pass --truncate" if truncate_hint else "shorten it"
    return InputError(f"text is {n_tokens} tokens, the model takes at most {limit}; {hint}")


def _model_limit(tokenizer, max_length: int | None) -> int | None:
    if max_length is not None:
        return max_length
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None


def tokenize(tokenizer, text: str, *, max_length: int | None = None, truncate: bool = False) -> TokenizedText:
    """Tokenize `text` (special tokens added) and describe every token.

    Raises `InputError` when the text is empty, or longer than `max_length` (default: the
    tokenizer's `model_max_length`) unless `truncate=True`, which cuts it to the limit.
    """
    if not text or not text.strip():
        raise InputError("text is empty: type a sentence (put [MASK] or ___ where a word should be predicted)")
    style = PieceStyle.of(tokenizer)

    # 1. Typed blanks -> the model's mask token (T5, which has none: -> <extra_id_N>).
    sentinels = sentinel_token_ids(tokenizer)
    if tokenizer.mask_token is None and sentinels:
        norm, _ = blanks_to_sentinels(text)
        typed_ids = set(sentinels)
    else:
        norm = normalize_masks(text, tokenizer.mask_token)
        typed_ids = {tokenizer.mask_token_id} if tokenizer.mask_token_id is not None else set()

    # 2. Encode with offsets; too long is an error unless truncation was asked for.
    limit = _model_limit(tokenizer, max_length)
    enc = tokenizer(norm, return_offsets_mapping=True, verbose=False)
    truncated, blanks_cut = False, 0
    if limit is not None and len(enc["input_ids"]) > limit:
        if not truncate:
            raise too_long(len(enc["input_ids"]), limit)
        blanks = sum(i in typed_ids for i in enc["input_ids"])
        enc = tokenizer(norm, return_offsets_mapping=True, truncation=True, max_length=limit, verbose=False)
        truncated, blanks_cut = True, blanks - sum(i in typed_ids for i in enc["input_ids"])

    # 3. One Token per position. Words follow the style's own marks, the rule the masking engine
    #    uses in training (MaskingVocab.continuation): a piece continues the word before it when
    #    it is "##x" (WordPiece) or has no "▁" / "Ġ" (SentencePiece / byte-level BPE), so "park."
    #    is one word for RoBERTa and XLM-R and two for BERT; a typed blank is a word of its own.
    #    A tokenizer without marks groups by its pre-tokenizer's words. Numbered 0, 1, 2...
    special_ids = set(tokenizer.all_special_ids)
    pad_id = tokenizer.pad_token_id
    marks = bool(style.wordpiece_prefix or style.metaspace or style.byte_level)
    ids = enc["input_ids"]
    pieces = enc.tokens()
    word_ids = enc.word_ids()
    tokens: list[Token] = []
    word, after_piece, prev_raw = -1, False, None   # after_piece: the previous token is an ordinary piece
    for i, (tid, piece, raw_word, (start, end)) in enumerate(zip(ids, pieces, word_ids, enc["offset_mapping"])):
        typed = tid in typed_ids
        special = raw_word is None or tid == pad_id or (tid in special_ids and not typed)
        continues = after_piece and not special and not typed and (
            style.continues(piece) if marks else raw_word == prev_raw)
        if not special and not continues:
            word += 1
        display = piece if (special or typed or tid in sentinels) else style.display(piece)
        tokens.append(Token(
            index=i, id=tid, text=display, start=start, end=end, word=None if special else word,
            continues_word=continues, special=special, maskable=not special, typed_mask=typed,
        ))
        after_piece, prev_raw = not special and not typed, raw_word
    return TokenizedText(text=norm, tokens=tokens, truncated=truncated, blanks_cut=blanks_cut)


# ---------------------------------------------------------------------------------------
# What the user masked
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskSet:
    """Positions the user masked by clicking; operations return new sets.

    Typed masks are not stored here: they are masks already (see `mask_positions`).
    Toggling a special token or a typed mask changes nothing.
    """

    positions: frozenset[int] = field(default_factory=frozenset)

    def toggle_token(self, tt: TokenizedText, index: int) -> "MaskSet":
        token = tt.tokens[index]
        if not token.maskable or token.typed_mask:
            return self
        return MaskSet(self.positions ^ {index})

    def toggle_word(self, tt: TokenizedText, index: int) -> "MaskSet":
        """Mask every subword of `index`'s word, or unmask them all if all were masked."""
        token = tt.tokens[index]
        if not token.maskable or token.word is None:
            return self
        group = {t.index for t in tt.tokens if t.word == token.word and t.maskable and not t.typed_mask}
        if group and group <= self.positions:
            return MaskSet(self.positions - group)
        return MaskSet(self.positions | group)

    def to_dict(self) -> dict:
        return {"positions": sorted(self.positions)}


def mask_positions(tt: TokenizedText, masks: MaskSet) -> list[int]:
    """Typed and clicked mask positions, sorted."""
    return sorted({t.index for t in tt.tokens if t.typed_mask} | set(masks.positions))


def replace_token(tt: TokenizedText, index: int, word: str) -> str:
    """`tt.text` with `word` written over the characters of token `index`."""
    token = tt.tokens[index]
    return tt.text[: token.start] + word + tt.text[token.end :]


def masked_ids(tt: TokenizedText, masks: MaskSet, mask_id: int) -> list[int]:
    """The input ids with clicked positions replaced by `mask_id`; typed masks stay masked."""
    return [mask_id if (t.index in masks.positions and not t.typed_mask) else t.id for t in tt.tokens]
