"""The masking engine applied to one text: what the app's `r` key and `mlm-explorer mask` show.

A thin wrapper over `core.masking.mask_tokens` for a single tokenized text, so the preview,
the command line and training all run the very same engine. Nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlm_explorer.core.mask.decision import RANDOM, SELECTED, label
from mlm_explorer.core.mask.text import TokenizedText


def quoted(piece: str) -> str:
    """How a random replacement is shown after its arrow: in quotes, so a drawn token `194`
    reads `the→"194"` (a token's text), never like a token id."""
    return f'"{piece}"'


@dataclass
class MaskPreview:
    """The engine's decisions for one text (one row), as plain lists."""

    seed: int
    rate: float
    whole_word: bool
    input_ids: list[int]  # the corrupted ids the model sees
    labels: list[int]  # original id where picked, -100 elsewhere
    decisions: list[int]  # core.mask.decision.Decision code per position
    replaced: dict[int, str]  # RANDOM position -> the drawn token, as displayed

    def picked(self) -> list[int]:
        return [i for i, d in enumerate(self.decisions) if d]

    def counts(self) -> dict[str, int]:
        out = {d.label: 0 for d in SELECTED}
        for d in self.decisions:
            if d:
                out[label(d)] += 1
        return out

    def to_dict(self, tt: TokenizedText | None = None) -> dict:
        out = {
            "seed": self.seed, "rate": self.rate, "whole_word": self.whole_word,
            "counts": self.counts(), "input_ids": self.input_ids, "labels": self.labels,
            "decisions": [label(d) for d in self.decisions],
        }
        if tt is not None:
            out["tokens"] = [
                {
                    "index": t.index, "token": t.text, "id": t.id, "word": t.word,
                    "decision": label(self.decisions[t.index]),
                    "replacement": self.replaced.get(t.index),
                }
                for t in tt.tokens
            ]
        return out


def preview_masking(
    tokenizer, tt: TokenizedText, *, rate: float = 0.15, seed: int = 0, whole_word: bool = False,
    count: int | None = None, vocab=None,
) -> MaskPreview:
    """Run the masking engine on `tt` with a generator seeded by `seed`.

    Typed masks are already `[MASK]` in the input and are not selected again (they have no
    original to predict). Pass `vocab` (a `MaskingVocab`) to reuse one built earlier.
    """
    import torch

    from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, mask_tokens
    from mlm_explorer.core.mask.text import PieceStyle

    vocab = vocab or MaskingVocab.from_tokenizer(tokenizer)
    ids = torch.tensor([tt.input_ids], dtype=torch.long)  # (1, L)
    maskable = torch.tensor([[t.maskable and not t.typed_mask for t in tt.tokens]])  # (1, L)
    word_ids = torch.tensor([[-1 if t.word is None else t.word for t in tt.tokens]])  # (1, L)
    policy = MaskingPolicy(rate=rate, whole_word=whole_word, count=count)
    generator = torch.Generator().manual_seed(seed)
    batch = mask_tokens(
        ids, vocab=vocab, policy=policy, generator=generator, maskable=maskable, word_ids=word_ids
    )
    corrupted = batch.input_ids[0].tolist()
    decisions = batch.decisions[0].tolist()
    style = PieceStyle.of(tokenizer)
    replaced = {
        i: style.display(tokenizer.convert_ids_to_tokens(corrupted[i]))
        for i, d in enumerate(decisions)
        if d == RANDOM
    }
    return MaskPreview(
        seed=seed, rate=rate, whole_word=whole_word, input_ids=corrupted,
        labels=batch.labels[0].tolist(), decisions=decisions, replaced=replaced,
    )
