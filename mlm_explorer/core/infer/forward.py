"""Forward helpers shared by every masked-LM computation: the body / head split, logits at the
masked positions only, and the input guards.

1. `head_split(model)`: a masked-LM is an encoder body (`model.base_model`, hidden states
   (B, L, H)) and an MLM head (hidden (..., H) -> logits (..., V)). The head is the vocabulary
   projection, most of the work of a small encoder; running it only at the masked positions
   (about 15% in training, a few in the app) saves that work and gives the same numbers. Each
   architecture's head is read from its `*ForMaskedLM.forward` in transformers (`_HEADS`);
   a class not listed (a subclass too: its forward may differ) gets None and runs whole.
2. `masked_logits(model, where, **inputs)`: the logits at `where` of the (B, L) positions,
   through the split when there is one, else through the whole model and then gathered.
   fill, score, candidates, diff, saliency, probes and the training objective all use it.
3. The guards: one message each for "not an encoder", "text is empty", "too long", "no mask
   in the text", "outside the text", `--top-k`, `--temperature`.

No torch at import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from mlm_explorer.core.mask.text import too_long
from mlm_explorer.errors import InputError, ModelError

# ---------------------------------------------------------------------------------------------
# 1. Body and head


def _cls(model, hidden):                  # BERT, Megatron-BERT, BigBird, RoFormer, ERNIE
    return model.cls(hidden)


def _lm_head(model, hidden):              # RoBERTa, XLM-R, CamemBERT, MPNet, Longformer, Funnel, ...
    return model.lm_head(hidden)


def _pretraining(model, hidden):          # BertForPreTraining (mlm+nsp runs): the MLM half of cls
    return model.cls.predictions(hidden)


def _albert(model, hidden):
    return model.predictions(hidden)


def _distilbert(model, hidden):
    return model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(hidden))))


def _electra(model, hidden):
    return model.generator_lm_head(model.generator_predictions(hidden))


def _deberta(model, hidden):              # DeBERTa and DeBERTa-v2/v3: the legacy head, or one tied to the embeddings
    if model.legacy:
        return model.cls(hidden)
    return model.lm_predictions(hidden, model.deberta.embeddings.word_embeddings)


def _modernbert(model, hidden):
    return model.decoder(model.head(hidden))


_HEADS: dict[str, Callable[[Any, Any], Any]] = {
    "BertForMaskedLM": _cls, "MegatronBertForMaskedLM": _cls, "BigBirdForMaskedLM": _cls,
    "RoFormerForMaskedLM": _cls, "ErnieForMaskedLM": _cls,
    "BertForPreTraining": _pretraining,
    "RobertaForMaskedLM": _lm_head, "XLMRobertaForMaskedLM": _lm_head, "CamembertForMaskedLM": _lm_head,
    "Data2VecTextForMaskedLM": _lm_head, "RobertaPreLayerNormForMaskedLM": _lm_head,
    "XLMRobertaXLForMaskedLM": _lm_head, "MPNetForMaskedLM": _lm_head, "LongformerForMaskedLM": _lm_head,
    "FunnelForMaskedLM": _lm_head,
    "AlbertForMaskedLM": _albert,
    "DistilBertForMaskedLM": _distilbert,
    "ElectraForMaskedLM": _electra,
    "DebertaForMaskedLM": _deberta, "DebertaV2ForMaskedLM": _deberta,
    "ModernBertForMaskedLM": _modernbert,
}


@dataclass(frozen=True)
class HeadSplit:
    body: Any                      # the encoder module: body(input_ids=... | inputs_embeds=..., attention_mask=...)[0] -> (B, L, H)
    head: Callable[[Any], Any]     # hidden (..., H) -> logits (..., V)

    def hidden(self, **inputs):
        """The body's last hidden states (B, L, H); inputs that are None are left out."""
        return self.body(**{k: v for k, v in inputs.items() if v is not None})[0]


def head_split(model) -> HeadSplit | None:
    """The (body, head) of a masked-LM whose class is known (each one checked against its full
    forward in tests/test_forward.py); None for any other class."""
    head = _HEADS.get(type(model).__name__)
    if head is None or model.base_model is model:
        return None
    return HeadSplit(model.base_model, partial(head, model))



# ---------------------------------------------------------------------------------------------
# 2. Logits at the masked positions only


def masked_logits(model, where, **inputs):
    """Logits at `where` only, in the model's dtype.

    where: indexes the (B, L) positions of the hidden states: a bool mask (B, L) -> (M, V), or
        index tensors (rows, cols) -> rows.shape + (V,) (broadcast like any advanced index).
    inputs: the model's keyword inputs (input_ids or inputs_embeds, attention_mask, ...); None
        values are left out. Runs under whatever grad mode the caller chose.
    """
    split = head_split(model)
    if split is not None:
        return split.head(split.hidden(**inputs)[where])                    # (..., H) -> (..., V)
    out = model(**{k: v for k, v in inputs.items() if v is not None})
    full = out.logits if getattr(out, "logits", None) is not None else out.prediction_logits   # (B, L, V)
    return full[where]


def mask_logits(lm, input_ids: list[int], positions: list[int]):
    """Float32 logits (N, V) at `positions` of one sequence (no padding); the head runs there only."""
    import torch

    ids = torch.tensor([input_ids], dtype=torch.long, device=lm.device)   # (1, L)
    where = torch.tensor(positions, dtype=torch.long, device=lm.device)    # (N,)
    with torch.inference_mode():
        logits = masked_logits(lm.model, (0, where), input_ids=ids, attention_mask=torch.ones_like(ids))
    return logits.float()                                                   # (N, V)


def mask_logits_rows(lm, rows, positions):
    """Float32 logits (B, K, V) at `positions` (B, K) of each of the rows `rows` (B, L).

    Several sequences of the same length (no padding) in one forward; the head runs at the
    B*K gathered positions only. Both arguments are long tensors (on any device).
    """
    import torch

    ids = rows.to(lm.device)                                                # (B, L)
    where = positions.to(lm.device)                                         # (B, K)
    batch = torch.arange(ids.shape[0], device=lm.device).unsqueeze(1)       # (B, 1), broadcasts with (B, K)
    with torch.inference_mode():
        logits = masked_logits(lm.model, (batch, where), input_ids=ids, attention_mask=torch.ones_like(ids))
    return logits.float()                                                   # (B, K, V)


def distributions(logits, temperature: float = 1.0):
    """(probs, logprobs), float32, of logits / temperature (softmax over the last dimension)."""
    import torch

    scaled = logits.float() / temperature
    return torch.softmax(scaled, dim=-1), torch.log_softmax(scaled, dim=-1)


# ---------------------------------------------------------------------------------------------
# 3. Input guards (one message each)

EMPTY_TEXT = "text is empty: type a sentence (put [MASK] or ___ where a word should be predicted)"


def require_encoder(lm, what: str) -> None:
    """ModelError unless `lm` is an encoder masked-LM; `what` names the operation ("saliency")."""
    if getattr(lm, "kind", "mlm") != "mlm":
        raise ModelError(f"'{lm.name}' is a seq2seq model; {what} needs an encoder masked-LM (use infill for it)")


def check_ids(lm, input_ids, *, truncate_hint: bool = True) -> None:
    """InputError when the encoded text is empty or longer than the model takes."""
    if not input_ids:
        raise InputError(EMPTY_TEXT)
    if len(input_ids) > lm.max_length:
        raise too_long(len(input_ids), lm.max_length, truncate_hint=truncate_hint)


def require_masks(positions, what: str = "a word should be predicted") -> list[int]:
    """The positions, or the one "no mask in the text" InputError when there are none."""
    positions = list(positions)
    if not positions:
        raise InputError(f"no mask in the text: put [MASK] or ___ where {what}")
    return positions


def typed_masks(tt, what: str = "a word should be predicted") -> list[int]:
    """Positions of the typed blanks of a TokenizedText; InputError when there are none (saying
    so when truncation cut them off)."""
    positions = [t.index for t in tt.tokens if t.typed_mask]
    if not positions and tt.blanks_cut:
        raise InputError(f"the text's blank is beyond the model's limit of {len(tt.tokens)} tokens, so --truncate cut "
                         "it off; move the blank earlier or shorten the text")
    return require_masks(positions, what)


def pick_blank(tt, mask: int | None, what: str) -> int:
    """The position of blank number `mask` (1 = the first; None: the only one) of a TokenizedText."""
    blanks = typed_masks(tt, what)
    if mask is None and len(blanks) > 1:
        raise InputError(f"the text has {len(blanks)} blanks: say which one with --mask N (1-{len(blanks)})")
    mask = 1 if mask is None else mask
    if not (isinstance(mask, int) and 1 <= mask <= len(blanks)):
        use = "use --mask 1 or leave it out" if len(blanks) == 1 else f"use a number from 1 to {len(blanks)}"
        raise InputError(f"--mask {mask!r}: the text has {len(blanks)} blank{'s' if len(blanks) > 1 else ''}; {use}")
    return blanks[mask - 1]


def check_position(position, length: int, what: str = "token") -> None:
    """InputError unless 0 <= position < length."""
    if not (isinstance(position, int) and not isinstance(position, bool) and 0 <= position < length):
        raise InputError(f"{what} {position} is outside the text: it has {length} tokens (0-{length - 1})")


def check_top_k(top_k) -> None:
    if not (isinstance(top_k, int) and top_k >= 1):
        raise InputError(f"--top-k {top_k!r}: use a whole number of at least 1")


def check_temperature(temperature) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise InputError(f"--temperature {temperature!r}: use a number above 0 (1.0 = the model's own distribution)")
