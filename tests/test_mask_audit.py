"""core/mask/audit.py: a corpus with known token classes through the engine and the references."""

from __future__ import annotations

import math
import random
import string

import pytest

SENTENCES = [
    "In 2023 the cute dog walks 42 miles, and unbelievable tokenizers split words!",
    "Programming in the playground after school: 7 children, 3 dogs.",
    "She reads a book every evening before sleeping; 12 pages, sometimes 100.",
    "Unbelievable things happen when tokenizers split words into pieces.",
]


def _corpus(n: int = 1200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(SENTENCES) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer():
    from tiny import make_bert_tokenizer

    return make_bert_tokenizer(SENTENCES)


@pytest.fixture(scope="module")
def blocks(tokenizer):
    """The corpus as training packs it: one stream, [CLS] 30 tokens [SEP] per block, a padded tail."""
    import torch

    stream = [i for line in _corpus() for i in tokenizer(line, add_special_tokens=False)["input_ids"]]
    content, width = 30, 32
    n = math.ceil(len(stream) / content)
    ids = torch.full((n, width), tokenizer.pad_token_id)
    lengths = torch.full((n,), width)
    for b in range(n):
        part = stream[b * content:(b + 1) * content]
        row = [tokenizer.cls_token_id] + part + [tokenizer.sep_token_id]
        ids[b, :len(row)] = torch.tensor(row)
        lengths[b] = len(row)
    assert lengths[-1] < width   # the tail block is padded
    return ids, lengths


def _classes_by_hand(tokenizer, ids, lengths) -> dict[str, int]:
    counts = dict.fromkeys(("word_start", "continuation", "digit", "punctuation"), 0)
    for b in range(ids.shape[0]):
        for piece in tokenizer.convert_ids_to_tokens(ids[b, 1:int(lengths[b]) - 1].tolist()):
            bare = piece[2:] if piece.startswith("##") else piece
            kind = ("digit" if bare.isdigit() else "punctuation" if all(c in string.punctuation for c in bare)
                    else "continuation" if piece.startswith("##") else "word_start")
            counts[kind] += 1
    return counts


def _within(observed, expected, n, sigmas=4.0) -> bool:
    return abs(observed - expected) <= sigmas * math.sqrt(expected * (1 - expected) / n) + 1e-9


def _engine(tokenizer, blocks, policy, seed=0):
    import torch

    from mlm_explorer.core.mask.audit import MlmTally
    from mlm_explorer.core.mask.masking import MaskingVocab, mask_tokens

    ids, lengths = blocks
    attention = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    m = mask_tokens(ids, vocab=MaskingVocab.from_tokenizer(tokenizer), policy=policy,
                    generator=torch.Generator().manual_seed(seed), maskable=attention)
    return MlmTally(tokenizer, engine="mlm-explorer", policy=policy).add(ids, lengths, m.decisions, m.input_ids).report()


def test_engine_rates_per_class_are_the_policy_and_no_special_is_touched(tokenizer, blocks):
    from mlm_explorer.core.mask.masking import MaskingPolicy

    report = _engine(tokenizer, blocks, MaskingPolicy(rate=0.15))
    by_hand = _classes_by_hand(tokenizer, *blocks)
    assert {k: v["tokens"] for k, v in report["classes"].items()} == by_hand
    assert all(n > 400 for n in by_hand.values())            # every class is well represented
    overall = report["overall"]
    assert overall["tokens"] == sum(by_hand.values()) and overall["tokens"] > 15000
    assert _within(overall["rate"], 0.15, overall["tokens"])
    for name, c in report["classes"].items():
        assert _within(c["rate"], 0.15, c["tokens"]), (name, c)
    for share, p in (("mask_share", 0.8), ("random_share", 0.1), ("keep_share", 0.1)):
        assert _within(overall[share], p, overall["selected"]), (share, overall)
    assert report["special_touched"] == report["padding_touched"] == report["random_drew_special"] == 0
    assert report["special_tokens"] == 2 * blocks[0].shape[0] and report["padding_tokens"] > 0
    words = report["words"]
    assert words["multi_piece"] > 0 and words["partly_selected"] > 0   # token masking splits words


def test_whole_word_selects_whole_words_with_one_decision_each(tokenizer, blocks):
    from mlm_explorer.core.mask.masking import MaskingPolicy

    report = _engine(tokenizer, blocks, MaskingPolicy(rate=0.15, whole_word=True))
    words = report["words"]
    assert words["partly_selected"] == 0 and words["mixed_decisions"] == 0
    assert _within(words["selected_rate"], 0.15, words["words"])
    assert report["special_touched"] == report["padding_touched"] == 0


def test_the_collator_beside_it(tokenizer, blocks):
    """DataCollatorForLanguageModeling on the same blocks: the same rate, but its random tokens
    include special tokens (transformers #15342), and whole-word mode has no random / kept."""
    from mlm_explorer.core.mask.audit import MlmTally
    from mlm_explorer.core.mask.audit_reference import collator_batch
    from mlm_explorer.core.mask.masking import MaskingPolicy

    ids, lengths = blocks
    policy = MaskingPolicy(rate=0.4)   # many random draws, so a special one shows
    original, corrupted, labels, decisions = collator_batch(tokenizer, ids, lengths, policy, generator_seed=0)
    assert original.shape == ids.shape and bool((original == ids).all())
    report = MlmTally(tokenizer, engine="hf", policy=policy).add(original, lengths, decisions, corrupted).report()
    assert _within(report["overall"]["rate"], 0.4, report["overall"]["tokens"])
    assert report["special_touched"] == report["padding_touched"] == 0
    assert report["random_drew_special"] > 0            # [PAD], [CLS], [unused0]... drawn as "random words"
    ours = _engine(tokenizer, blocks, policy)
    assert ours["random_drew_special"] == 0
    whole = MaskingPolicy(rate=0.15, whole_word=True)
    o, c, l, d = collator_batch(tokenizer, ids, lengths, whole, generator_seed=0)
    hf_whole = MlmTally(tokenizer, engine="hf", policy=whole).add(o, lengths, d, c).report()
    assert hf_whole["words"]["partly_selected"] == 0
    assert hf_whole["overall"]["mask_share"] == 1.0      # transformers 5: whole words are all [MASK]


def test_span_counts_and_the_t5_recipe():
    import numpy as np
    import torch

    from tiny import make_t5_tokenizer

    from mlm_explorer.core.mask.audit import SpanTally, span_counts
    from mlm_explorer.core.mask.audit_reference import t5_recipe_noise_mask, t5_recipe_rows
    from mlm_explorer.core.mask.spans import sentinel_ids, span_corrupt

    tok = make_t5_tokenizer()
    sentinels = sentinel_ids(tok)
    L, B = 141, 64
    rows = torch.randint(5, int(sentinels.min()), (B, L), generator=torch.Generator().manual_seed(0))   # no sentinel in the text
    batch = span_corrupt(rows, sentinel_ids=sentinels, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                         generator=torch.Generator().manual_seed(1))
    noise, spans = span_counts(batch.labels, sentinels)
    spans_drawn = batch.noise_spans                                       # (B, S, 2) [start, end) per span
    assert noise.tolist() == (spans_drawn[:, :, 1] - spans_drawn[:, :, 0]).sum(1).tolist()   # the targets say it
    assert spans.tolist() == [int((batch.input_ids[b, :, None] == sentinels).any(1).sum()) for b in range(B)]
    ours = SpanTally(engine="ours", noise_density=0.15, mean_span=3.0).add(torch.full((B,), L), noise, spans).report()
    assert ours["noise_density"] == pytest.approx(round(L * 0.15) / L)
    assert ours["mean_span_length"] == pytest.approx(21 / 7) and ours["sentinels_per_row"]["min"] == 7
    rng = np.random.default_rng(0)
    masks = np.stack([t5_recipe_noise_mask(L, 0.15, 3.0, rng) for _ in range(B)])
    starts = masks & ~np.pad(masks, [[0, 0], [1, 0]])[:, :-1]
    recipe = SpanTally(engine="recipe", noise_density=0.15, mean_span=3.0).add(
        torch.full((B,), L), torch.tensor(masks.sum(1)), torch.tensor(starts.sum(1))).report()
    assert recipe["noise_density"] == ours["noise_density"] and recipe["sentinels_per_row"] == ours["sentinels_per_row"]
    assert not masks[:, 0].any() and masks[:, -1].all()                  # non-noise first, noise last
    assert t5_recipe_rows(1000, 141) == (7, 13)
