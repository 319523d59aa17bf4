"""The references a masking audit puts beside our engine, run on the same blocks.

- `collator_batch`: Hugging Face's `DataCollatorForLanguageModeling` (with `whole_word_mask=True`
  for whole-word masking) on the blocks trimmed to their lengths, as a script would feed it;
  its decisions are read back from its output (selected: labels != -100; `[MASK]`: the mask id;
  random: another token; kept: the same token, so a random draw of the original token counts
  as kept, probability 1 / vocabulary size). Its whole-word mode needs offsets: they are made
  from the same word boundaries the engine uses (`core.mask.audit`), so the comparison isolates
  the decision rule, not the word splitting; the rows then come padded (the collator cannot
  pad offsets). In transformers 5 its whole-word mode turns every selected token into `[MASK]`
  (it warns "Random token replacement is not supported with whole word masking").
- `t5_recipe_noise_mask`: `random_spans_noise_mask` of T5 / the Flax example
  (`run_t5_mlm_flax.py`) in numpy, one row at a time. The recipe packs raw rows of one length
  and drops the corpus's remainder (`group_texts`), which `t5_recipe_rows` counts.

    collator_batch(tokenizer, ids, lengths, policy, *, generator_seed) -> (corrupted, labels, decisions)
    t5_recipe_noise_mask(length, noise_density, mean_span, rng) -> np.ndarray (length,) bool
    t5_recipe_rows(total_tokens, raw_length) -> (full rows, dropped tokens)
    recipe_sentinels_match(tokenizer) -> bool   # the recipe writes <extra_id_k> as len(tokenizer) - 1 - k
"""

from __future__ import annotations

import numpy as np
import torch

from mlm_explorer.core.mask.masking import Decision, MaskingPolicy, MaskingVocab


def decisions_from_output(original: torch.Tensor, corrupted: torch.Tensor, labels: torch.Tensor,
                          mask_id: int) -> torch.Tensor:
    """(B, L) Decision values read back from a collator's (input_ids, labels)."""
    selected = labels != -100
    is_mask = selected & (corrupted == mask_id) & (original != mask_id)
    is_random = selected & ~is_mask & (corrupted != original)
    out = torch.where(selected, Decision.KEEP, Decision.NONE)
    out = torch.where(is_random, Decision.RANDOM, out)
    return torch.where(is_mask, Decision.MASK, out).long()


def _word_offsets(ids: list[int], vocab: MaskingVocab) -> list[tuple[int, int]]:
    """Character offsets that make the collator's words the engine's words: pieces of one word
    touch, words are one character apart, special tokens get (0, 0)."""
    out, cursor, previous_ordinary = [], 0, False
    for tid in ids:
        if bool(vocab.special[tid]):
            out.append((0, 0))
            previous_ordinary = False
            continue
        joins = previous_ordinary and bool(vocab.continuation[tid])
        cursor += 0 if joins else 1
        out.append((cursor, cursor + 1))
        cursor += 1
        previous_ordinary = True
    return out


def collator_batch(tokenizer, ids: torch.Tensor, lengths: torch.Tensor, policy: MaskingPolicy, *,
                   generator_seed: int, vocab: MaskingVocab | None = None):
    """`DataCollatorForLanguageModeling` on the blocks (B, L) trimmed to `lengths`; returns the
    padded (original, corrupted, labels, decisions), each (B, L') with L' the longest length."""
    import warnings

    from transformers import DataCollatorForLanguageModeling

    from mlm_explorer.core.load.hf import quiet_transformers

    vocab = vocab or MaskingVocab.from_tokenizer(tokenizer)
    rows = [ids[b, :int(lengths[b])].tolist() for b in range(ids.shape[0])]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if policy.whole_word:   # padded here, offsets too: (0, 0) on padding, as on specials
        width = max(map(len, rows))
        examples = [{"input_ids": row + [pad] * (width - len(row)),
                     "offset_mapping": _word_offsets(row, vocab) + [(0, 0)] * (width - len(row))} for row in rows]
    else:
        examples = [{"input_ids": row} for row in rows]
    with warnings.catch_warnings(), quiet_transformers():   # its whole-word mode warns (module doc)
        warnings.simplefilter("ignore")
        collator = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=policy.rate, whole_word_mask=policy.whole_word,
            mask_replace_prob=policy.mask, random_replace_prob=policy.random, seed=generator_seed,
        )
        batch = collator(examples)
    corrupted, labels = batch["input_ids"], batch["labels"]
    original = torch.full_like(corrupted, pad)
    for b, row in enumerate(rows):
        original[b, :len(row)] = torch.tensor(row)
    return original, corrupted, labels, decisions_from_output(original, corrupted, labels, tokenizer.mask_token_id)


# ---------------------------------------------------------------------------------------------
# The T5 recipe


def t5_recipe_noise_mask(length: int, noise_density: float, mean_span: float,
                         rng: np.random.Generator) -> np.ndarray:
    """`random_spans_noise_mask` of the T5 / Flax recipe: (length,) bool, True on noise tokens."""
    num_noise = min(max(int(np.round(length * noise_density)), 1), length - 1)
    num_spans = max(int(np.round(num_noise / mean_span)), 1)
    num_keep = length - num_noise

    def segmentation(num_items: int, num_segments: int) -> np.ndarray:
        first = np.arange(num_items - 1) < (num_segments - 1)
        rng.shuffle(first)
        segment = np.cumsum(np.pad(first, [[1, 0]]))
        return np.bincount(segment, minlength=num_segments)

    noise_lengths = segmentation(num_noise, num_spans)
    keep_lengths = segmentation(num_keep, num_spans)
    interleaved = np.stack([keep_lengths, noise_lengths], axis=1).reshape(-1)
    starts = np.cumsum(interleaved)[:-1]
    indicator = np.zeros(length, dtype=np.int8)
    indicator[starts] = 1
    return (np.cumsum(indicator) % 2) == 1


def t5_recipe_rows(total_tokens: int, raw_length: int) -> tuple[int, int]:
    """(full rows, dropped tokens) when `group_texts` cuts `total_tokens` into rows of `raw_length`."""
    rows = total_tokens // raw_length
    return rows, total_tokens - rows * raw_length


def recipe_sentinels_match(tokenizer) -> bool:
    """The recipe writes sentinel k as id len(tokenizer) - 1 - k (t5's numbering, downwards)."""
    from mlm_explorer.core.mask.spans import sentinel_ids

    ids = sentinel_ids(tokenizer).tolist()
    return bool(ids) and ids == [len(tokenizer) - 1 - k for k in range(len(ids))]
