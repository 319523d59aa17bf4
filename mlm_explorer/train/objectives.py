"""The three objectives: how a batch of blocks is corrupted and what the loss is.

    mlm      BERT's masked LM through core/masking.py (80/10/10, optional whole-word)
    span     T5 span corruption through core/spans.py (noise 0.15, mean span 3)
    mlm+nsp  masked LM + next-sentence prediction (BertForPreTraining), sentence pairs from nsp.py

Each objective wraps the Hugging Face model in a small `nn.Module` whose forward returns
*sums* (loss sum, token count, correct count), so the loop can divide by the count of the
whole step, however the step is split into micro-batches. That module is what DDP wraps.

Sparse prediction head (mlm, mlm+nsp): the encoder runs on every position, but the vocabulary
projection only on the masked ones (about 15%): hidden (B, L, H) -> hidden[labels != -100]
(M, H) -> head -> (M, V), with the body / head split of core/infer/forward.py (the same one
inference uses). For an architecture it does not know, the full model runs instead (same
numbers, more work).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mlm_explorer.core.infer.forward import head_split
from mlm_explorer.core.mask.masking import MaskingPolicy, MaskingVocab, mask_tokens
from mlm_explorer.errors import ModelError


def _sum_ce(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss sum, correct count) over targets != -100; logits (N, V), targets (N,)."""
    loss = F.cross_entropy(logits.float(), targets, ignore_index=-100, reduction="sum")
    correct = ((logits.argmax(-1) == targets) & (targets != -100)).sum()
    return loss, correct


class MaskedLMLoss(nn.Module):
    """BERT-style MLM (and NSP when the model has a seq_relationship head), sparse head."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.nsp = hasattr(getattr(model, "cls", None), "seq_relationship")
        self.split = head_split(model)  # core/infer/forward.py: None for a class it does not know

    @property
    def sparse(self) -> bool:
        return self.split is not None

    def forward(self, input_ids, attention_mask, labels, token_type_ids=None, next_sentence_label=None):
        sel = labels != -100  # (B, L) masked positions
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:  # only for models that take them (not DistilBERT, ModernBERT)
            inputs["token_type_ids"] = token_type_ids
        out: dict[str, torch.Tensor] = {}
        if self.split is not None:
            enc = self.split.body(**inputs)  # [0]: hidden (B, L, H)
            logits = self.split.head(enc[0][sel])  # (M, H) -> (M, V): only the masked positions
            if self.nsp:
                nsp_logits = self.model.cls.seq_relationship(enc.pooler_output)  # (B, 2)
        else:  # unknown architecture: the full model, every position through the head
            full = self.model(**inputs)
            logits = full.logits[sel] if hasattr(full, "logits") else full.prediction_logits[sel]
            nsp_logits = getattr(full, "seq_relationship_logits", None)
        out["mlm_sum"], out["mlm_correct"] = _sum_ce(logits, labels[sel])
        if self.nsp and next_sentence_label is not None:
            out["nsp_sum"], out["nsp_correct"] = _sum_ce(nsp_logits, next_sentence_label)
        return out


class SpanLoss(nn.Module):
    """T5: encoder on the corrupted input, decoder teacher-forced on the sentinel targets."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, labels):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits  # (B, Lt, V)
        loss, correct = _sum_ce(logits.flatten(0, 1), labels.flatten())
        return {"mlm_sum": loss, "mlm_correct": correct}


class Objective:
    """Base: `corrupt` a batch of blocks on the device, `module` computes sums, `loss` divides."""

    name = "?"
    add_specials = True  # blocks carry [CLS] ... [SEP]

    def corrupt(self, blocks: dict, generator: torch.Generator) -> dict:
        raise NotImplementedError

    @staticmethod
    def counts(batch: dict) -> dict:
        """Denominators of the whole step (before it is split into micro-batches)."""
        out = {"mlm_n": (batch["labels"] != -100).sum().clamp(min=1)}
        if "next_sentence_label" in batch:
            out["nsp_n"] = torch.tensor(batch["next_sentence_label"].shape[0], device=batch["labels"].device)
        return out

    @staticmethod
    def loss(sums: dict, counts: dict) -> torch.Tensor:
        """Mean MLM loss (+ mean NSP loss), as BertForPreTraining adds them."""
        loss = sums["mlm_sum"] / counts["mlm_n"]
        if "nsp_sum" in sums:
            loss = loss + sums["nsp_sum"] / counts["nsp_n"]
        return loss


def _attention(lengths: torch.Tensor, width: int) -> torch.Tensor:
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]  # (B, L) bool


class MLMObjective(Objective):
    name = "mlm"

    def __init__(self, model, tokenizer, *, device, rate: float = 0.15, whole_word: bool = False) -> None:
        if tokenizer.mask_token_id is None:
            raise ModelError("this model's tokenizer has no mask token, so it cannot be trained with --objective mlm")
        self.vocab = MaskingVocab.from_tokenizer(tokenizer).to(device)
        self.policy = MaskingPolicy(rate=rate, whole_word=whole_word)
        self.module = MaskedLMLoss(model)

    def corrupt(self, blocks: dict, generator: torch.Generator) -> dict:
        ids = blocks["input_ids"]  # (B, L)
        attention = _attention(blocks["lengths"], ids.shape[1])  # (B, L) False on padding
        m = mask_tokens(ids, vocab=self.vocab, policy=self.policy, generator=generator, maskable=attention)
        batch = {"input_ids": m.input_ids, "attention_mask": attention.long(), "labels": m.labels}
        for key in ("token_type_ids", "next_sentence_label"):
            if blocks.get(key) is not None:
                batch[key] = blocks[key]
        return batch


class NSPObjective(MLMObjective):
    name = "mlm+nsp"

    def __init__(self, model, tokenizer, **kw) -> None:
        if not hasattr(getattr(model, "cls", None), "seq_relationship"):
            raise ModelError("mlm+nsp needs a BERT model with a next-sentence head (BertForPreTraining)")
        super().__init__(model, tokenizer, **kw)


class SpanObjective(Objective):
    name = "span"
    add_specials = False  # span_corrupt appends </s> itself

    def __init__(self, model, tokenizer, *, device, noise_density: float = 0.15, mean_span: float = 3.0) -> None:
        from mlm_explorer.core.mask.spans import sentinel_ids

        self.sentinels = torch.as_tensor(sentinel_ids(tokenizer), dtype=torch.long).to(device)
        if len(self.sentinels) == 0:
            raise ModelError("this tokenizer has no <extra_id_N> sentinels, so it cannot be trained with --objective span")
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id
        self.noise_density, self.mean_span = noise_density, mean_span
        self.module = SpanLoss(model)

    @staticmethod
    def raw_length(block_size: int, noise_density: float = 0.15, mean_span: float = 3.0) -> int:
        """Raw tokens per block so that the corrupted input is block_size long (T5's helper)."""
        from mlm_explorer.core.mask.spans import compute_input_and_target_lengths

        return compute_input_and_target_lengths(block_size, noise_density, mean_span)[0]

    def corrupt(self, blocks: dict, generator: torch.Generator) -> dict:
        """Full rows are corrupted together; the one short row of a corpus (its padded tail
        block, listed in blocks["partial"] as (row, length)) alone, then padded back."""
        from mlm_explorer.core.mask.spans import span_corrupt

        ids = blocks["input_ids"]  # (B, R) raw tokens
        partial = dict(blocks.get("partial") or [])
        kw = {"sentinel_ids": self.sentinels, "eos_id": self.eos_id, "pad_id": self.pad_id, "generator": generator,
              "noise_density": self.noise_density, "mean_noise_span_length": self.mean_span}
        if not partial:
            sb = span_corrupt(ids, **kw)
            inputs, labels = sb.input_ids, sb.labels  # (B, Li), (B, Lt)
        else:
            full_rows = [r for r in range(ids.shape[0]) if r not in partial]
            parts = {}
            if full_rows:
                sb = span_corrupt(ids[full_rows], **kw)
                parts.update({r: (sb.input_ids[k], sb.labels[k]) for k, r in enumerate(full_rows)})
            for r, n in partial.items():
                if n >= 2:
                    sb = span_corrupt(ids[r:r + 1, :n], **kw)
                    parts[r] = (sb.input_ids[0], sb.labels[0])
                else:  # nothing to learn from a one-token tail
                    parts[r] = (ids.new_full((1,), self.eos_id), ids.new_full((1,), self.pad_id))
            li = max(len(v[0]) for v in parts.values())
            lt = max(len(v[1]) for v in parts.values())
            inputs = ids.new_full((ids.shape[0], li), self.pad_id)
            labels = ids.new_full((ids.shape[0], lt), self.pad_id)
            for r, (x, y) in parts.items():
                inputs[r, :len(x)] = x
                labels[r, :len(y)] = y
        labels = labels.masked_fill(labels == self.pad_id, -100)  # no loss on target padding
        return {"input_ids": inputs, "attention_mask": (inputs != self.pad_id).long(), "labels": labels}
