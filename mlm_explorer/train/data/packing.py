"""Pack token ids into fixed-length blocks and hold out an evaluation split.

Like `group_texts` in the Hugging Face tutorial (concatenate everything, cut into blocks),
with two differences: each block carries the model's special tokens in place
(`[CLS] ... [SEP]` for BERT; nothing for T5 span corruption, which adds `</s>` itself),
and the tail is kept: the last, shorter block is padded, and its padding is excluded from
masking and attention through `lengths`.

Documents are joined with the separator token (`[SEP]` for BERT, `</s>` for T5).

Hold-out (`--eval-fraction`, default 5%): whole files, picked in a seeded shuffle, until
the held-out tokens reach the fraction. When no file fits (a single file, or one file
holding most of the text), blocks are held out instead (a seeded choice of
ceil(fraction x blocks), at least one). A corpus of one block evaluates on that block.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch

from mlm_explorer.train.data.token_cache import FileTokens


@dataclass(frozen=True)
class Layout:
    """What a block looks like: [prefix] content [suffix] [pad...], `width` ids in all."""

    width: int
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    separator: tuple[int, ...]
    pad_id: int

    @property
    def content(self) -> int:
        return self.width - len(self.prefix) - len(self.suffix)


def special_layout(tokenizer, width: int, *, add_specials: bool = True) -> Layout:
    """The tokenizer's own special tokens around one sequence (BERT: [CLS] x [SEP])."""
    probe = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    prefix, suffix = (), ()
    if add_specials:
        for i in range(len(full) - len(probe) + 1):
            if full[i:i + len(probe)] == probe:
                prefix, suffix = tuple(full[:i]), tuple(full[i + len(probe):])
                break
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return Layout(width, prefix, suffix, (sep,) if sep is not None else (), pad)


@dataclass
class BlockSet:
    """Blocks ready for the loop. Tensors live on the CPU; each step's rows are gathered into
    pinned memory when training on CUDA (train/loop.py), the whole set is never pinned."""

    input_ids: torch.Tensor  # (N, L) int64
    lengths: torch.Tensor  # (N,) int64, real tokens per block; positions >= length are padding
    token_type_ids: torch.Tensor | None = None  # (N, L) for sentence pairs (mlm+nsp)
    next_sentence_label: torch.Tensor | None = None  # (N,) 0 = B follows A, 1 = B is random
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())



def pack(files: list[FileTokens], layout: Layout) -> BlockSet:
    """Concatenate the files (separator between them) and cut into blocks."""
    sep = np.asarray(layout.separator, dtype=np.int64)
    parts: list[np.ndarray] = []
    for i, ft in enumerate(files):
        if i and len(sep):
            parts.append(sep)
        parts.append(ft.ids.astype(np.int64))
    stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    c, p, s = layout.content, len(layout.prefix), len(layout.suffix)
    n = max(1, math.ceil(len(stream) / c))
    tail = len(stream) - (n - 1) * c  # tokens in the last block (1..c)
    body = np.full((n, c), layout.pad_id, dtype=np.int64)
    body.reshape(-1)[: len(stream)] = stream
    blocks = np.full((n, layout.width), layout.pad_id, dtype=np.int64)
    blocks[:, :p] = layout.prefix
    blocks[:, p:p + c] = body
    blocks[:-1, p + c:] = layout.suffix  # full blocks: suffix at the end
    blocks[-1, p + tail:p + tail + s] = layout.suffix  # last block: suffix right after its text
    blocks[-1, p + tail + s:] = layout.pad_id
    lengths = np.full(n, layout.width, dtype=np.int64)
    lengths[-1] = p + tail + s
    return BlockSet(torch.from_numpy(blocks), torch.from_numpy(lengths))


def choose_eval_files(files: list[FileTokens], fraction: float, seed: int) -> list[int]:
    """Indices of the files to hold out, or [] when holding out whole files cannot work."""
    if len(files) < 2:
        return []
    total = sum(f.num_tokens for f in files)
    target = fraction * total
    order = list(range(len(files)))
    random.Random(seed).shuffle(order)
    chosen, held = [], 0
    for i in order:
        if held + files[i].num_tokens <= target and len(chosen) < len(files) - 1:
            chosen.append(i)
            held += files[i].num_tokens
    if not chosen:  # nothing fits: the smallest file, unless it is most of the data
        smallest = min(order, key=lambda i: files[i].num_tokens)
        if files[smallest].num_tokens <= max(2 * target, 0.25 * total):
            chosen = [smallest]
    return sorted(chosen)


def _take(blocks: BlockSet, idx: torch.Tensor) -> BlockSet:
    return BlockSet(blocks.input_ids[idx], blocks.lengths[idx])


def split(files: list[FileTokens], layout: Layout, *, eval_fraction: float, seed: int
          ) -> tuple[BlockSet, BlockSet, dict]:
    """(train blocks, eval blocks, summary for the `started` event and run.json)."""
    eval_idx = choose_eval_files(files, eval_fraction, seed)
    summary: dict = {"files": len(files), "tokens": sum(f.num_tokens for f in files)}
    if eval_idx:
        held = set(eval_idx)
        train = pack([f for i, f in enumerate(files) if i not in held], layout)
        evals = pack([files[i] for i in eval_idx], layout)
        summary.update(holdout="files", eval_files=[str(files[i].path) for i in eval_idx])
    else:
        blocks = pack(files, layout)
        n = len(blocks)
        k = max(1, math.ceil(eval_fraction * n))
        if n == 1:
            train = evals = blocks
            summary.update(holdout="none", note="only one block of text: evaluation uses the training block")
        else:
            k = min(k, n - 1)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
            evals = _take(blocks, perm[:k].sort().values)
            train = _take(blocks, perm[k:].sort().values)
            summary.update(holdout="blocks", eval_files=[])
    summary.update(
        block_size=layout.width, train_blocks=len(train), eval_blocks=len(evals),
        train_tokens=train.num_tokens, eval_tokens=evals.num_tokens,
        padding_tokens=int(len(train) * layout.width - train.num_tokens),
    )
    return train, evals, summary
