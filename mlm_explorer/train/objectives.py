"""The four objectives: how a batch of blocks is corrupted and what the loss is.

    mlm      BERT's masked LM through core/mask/masking.py (80/10/10, optional whole-word)
    span     T5 span corruption through core/mask/spans.py (noise 0.15, mean span 3)
    mlm+nsp  masked LM + next-sentence prediction (BertForPreTraining), sentence pairs from nsp.py
    infill   BART's text infilling through core/mask/infilling.py (30% in Poisson(3) spans, one
             mask per span; the decoder writes the whole block back)

Each objective wraps the Hugging Face model in a small `nn.Module` whose forward returns
*sums* (loss sum, token count, correct count), so the loop can divide by the count of the
whole step, however the step is split into micro-batches. That module is what DDP wraps.

Sparse prediction head (mlm, mlm+nsp): the encoder runs on every position, but the vocabulary
projection only on the masked ones (about 15%): hidden (B, L, H) -> the M masked rows (M, H)
-> head -> (M, V), with the body / head split of core/infer/forward.py (the same one inference
uses). The masked positions are found once per micro-batch, outside the module
(`module_inputs`: one host sync, the only one of an MLM step), and that one index picks both
the hidden rows and their labels; inside, the shapes follow it (compiled: one dynamic
dimension). For an architecture forward.py does not know, the full model runs instead (same
numbers, more work).

Batches without padding carry no attention mask (None): the model then skips building one,
and transformers' check that a given mask is all ones (a host sync) never runs.
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

    def forward(self, input_ids, labels, masked_index, attention_mask=None, token_type_ids=None,
                next_sentence_label=None):
        # masked_index: (M,) flat positions b * L + l where labels != -100 (module_inputs)
        inputs = {"input_ids": input_ids}
        if attention_mask is not None:  # None: no padding in this micro-batch
            inputs["attention_mask"] = attention_mask
        if token_type_ids is not None:  # only for models that take them (not DistilBERT, ModernBERT)
            inputs["token_type_ids"] = token_type_ids
        out: dict[str, torch.Tensor] = {}
        targets = labels.reshape(-1).index_select(0, masked_index)  # (M,)
        if self.split is not None:
            enc = self.split.body(**inputs)  # [0]: hidden (B, L, H)
            picked = enc[0].flatten(0, 1).index_select(0, masked_index)  # (M, H) only the masked positions
            logits = self.split.head(picked)  # (M, V)
            if self.nsp:
                nsp_logits = self.model.cls.seq_relationship(enc.pooler_output)  # (B, 2)
        else:  # unknown architecture: the full model, every position through the head
            full = self.model(**inputs)
            every = full.logits if hasattr(full, "logits") else full.prediction_logits  # (B, L, V)
            logits = every.flatten(0, 1).index_select(0, masked_index)  # (M, V)
            nsp_logits = getattr(full, "seq_relationship_logits", None)
        out["mlm_sum"], out["mlm_correct"] = _sum_ce(logits, targets)
        if self.nsp and next_sentence_label is not None:
            out["nsp_sum"], out["nsp_correct"] = _sum_ce(nsp_logits, next_sentence_label)
        return out


class SpanLoss(nn.Module):
    """T5 / BART: encoder on the corrupted input, decoder teacher-forced on the targets (T5: the
    sentinel spans; BART: the whole block).

    The decoder's inputs are the targets shifted right (the model's own
    `prepare_decoder_input_ids_from_labels`); passing `labels=` instead would make transformers
    compute a full-vocabulary float32 loss of its own, thrown away for ours."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, labels, attention_mask=None):
        decoder_input_ids = self.model.prepare_decoder_input_ids_from_labels(labels=labels)  # (B, Lt)
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask,
                            decoder_input_ids=decoder_input_ids).logits  # (B, Lt, V)
        loss, correct = _sum_ce(logits.flatten(0, 1), labels.flatten())
        return {"mlm_sum": loss, "mlm_correct": correct}


class Objective:
    """Base: `corrupt` a batch of blocks on the device, `module` computes sums, `loss` divides."""

    name = "?"
    add_specials = True  # blocks carry [CLS] ... [SEP]

    def corrupt(self, blocks: dict, generator: torch.Generator) -> dict:
        raise NotImplementedError

    @staticmethod
    def counts(batch: dict, rt=None) -> dict:
        """Denominators of the whole step (before it is split into micro-batches), summed over
        the ranks when `rt` is distributed: one all-reduce on the device, no host sync."""
        labels = batch["labels"]
        n = [(labels != -100).sum()]
        if "next_sentence_label" in batch:
            n.append(torch.full((), batch["next_sentence_label"].shape[0], device=labels.device))
        total = torch.stack(n)
        if rt is not None:
            rt.all_sum_(total)
        total = total.clamp(min=1)
        out = {"mlm_n": total[0]}
        if len(n) > 1:
            out["nsp_n"] = total[1]
        return out

    def module_inputs(self, micro: dict) -> dict:
        """What `module` takes for a micro-batch of `corrupt`'s output."""
        return micro

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

    def corrupt(self, blocks: dict, generator: torch.Generator, *, decisions: bool = False) -> dict:
        """`decisions`: also return the engine's per-position Decision (B, L) (the dry-run preview)."""
        ids = blocks["input_ids"]  # (B, L)
        padded = bool(blocks.get("partial", True))  # a host-side list: no sync
        attention = _attention(blocks["lengths"], ids.shape[1]) if padded else None  # (B, L) False on padding
        m = mask_tokens(ids, vocab=self.vocab, policy=self.policy, generator=generator, maskable=attention)
        batch = {"input_ids": m.input_ids, "labels": m.labels}
        if attention is not None:
            batch["attention_mask"] = attention.long()
        if decisions:
            batch["decisions"] = m.decisions
        for key in ("token_type_ids", "next_sentence_label"):
            if blocks.get(key) is not None:
                batch[key] = blocks[key]
        return batch

    def module_inputs(self, micro: dict) -> dict:
        masked = (micro["labels"] != -100).reshape(-1).nonzero().squeeze(1)  # (M,) the step's one sync
        return {**micro, "masked_index": masked}


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

        self.sentinels = tuple(sentinel_ids(tokenizer).tolist())  # host ints: span_corrupt reads them there
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
              "noise_density": self.noise_density, "mean_noise_span_length": self.mean_span,
              "check_padding": False}  # the rows are packed and full: the padded tail is in `partial`
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
        batch = {"input_ids": inputs, "labels": labels}
        if partial:  # only the short tail row leaves padding in the inputs
            batch["attention_mask"] = (inputs != self.pad_id).long()
        return batch


class InfillObjective(Objective):
    """BART / mBART: text infilling; blocks keep the tokenizer's specials (<s> ... </s>)."""

    name = "infill"

    def __init__(self, model, tokenizer, *, device) -> None:
        if tokenizer.mask_token_id is None:
            raise ModelError("this tokenizer has no mask token, so it cannot be trained with --objective infill")
        self.vocab = MaskingVocab.from_tokenizer(tokenizer).to(device)   # its `special` table: never masked
        self.module = SpanLoss(model)

    def corrupt(self, blocks: dict, generator: torch.Generator) -> dict:
        from mlm_explorer.core.mask.infilling import text_infill

        b = text_infill(blocks["input_ids"], blocks["lengths"], special=self.vocab.special, mask_id=self.vocab.mask_id,
                        pad_id=self.vocab.pad_id, generator=generator)
        return {"input_ids": b.input_ids, "attention_mask": b.attention_mask, "labels": b.labels}
