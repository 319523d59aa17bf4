"""Load the model to train and decide the objective (and refuse a model that cannot do it).

    encoder-decoder with T5 sentinels (T5, mT5, ByT5) -> span
    encoder-decoder with a mask token (BART, mBART)  -> infill (text infilling)
    encoder masked-LM (BERT family, the bundled one) -> mlm
    --objective mlm+nsp                              -> BertForPreTraining (BERT only): the
        MLM weights are kept, the pooler and next-sentence head start fresh unless the
        checkpoint already has them (a resumed mlm+nsp run).

Loading goes through core/load/models.py (`inspect` says what the model is; sources, safetensors
only, no remote code, one-line errors); this module adds the training view: train mode, the
objective, the block limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlm_explorer.errors import ModelError


@dataclass
class TrainModel:
    model: object
    tokenizer: object
    objective: str
    name: str
    max_length: int
    model_type: str


def choose_objective(requested: str, kind: str, model_type: str, name: str, *, infill: str | None = None) -> str:
    """The objective for a model of this kind; ModelError naming the one that fits otherwise.
    infill: a seq2seq model's style (ModelSpec.infill): "sentinels" (T5) -> span, "mask" (BART) -> infill."""
    if kind == "other":
        from mlm_explorer.core.load.hf import what_it_is

        raise ModelError(f"'{name}' is {what_it_is(model_type)}, which has no masked-LM, span or infill objective; "
                         "train a BERT-family masked LM (objective mlm), a T5 model (span) or a BART model (infill)")
    fits = "mlm" if kind == "mlm" else ("infill" if infill == "mask" else "span")
    if requested == "auto":
        return fits
    what = {"mlm": f"a {model_type} encoder", "span": f"a {model_type} encoder-decoder with T5 sentinels",
            "infill": f"a {model_type} encoder-decoder that fills <mask> by rewriting the text (BART-style)"}[fits]
    needs = {"span": "a T5-style model (sentinel tokens)", "infill": "a BART-style encoder-decoder (a mask token)",
             "mlm": "an encoder masked-LM (BERT family)", "mlm+nsp": "a BERT model (next-sentence head)"}
    if requested != fits and not (requested == "mlm+nsp" and fits == "mlm"):
        raise ModelError(f"--objective {requested} needs {needs[requested]}, and '{name}' is {what}; "
                         f"use --objective {fits} (or leave --objective out)")
    if requested == "mlm+nsp" and model_type != "bert":
        raise ModelError(f"--objective mlm+nsp needs a BERT model (next-sentence head), and '{name}' is {model_type}; "
                         "use --objective mlm")
    return requested


def _to_pretraining(mlm_model, source_dir: str | None):
    """BertForMaskedLM -> BertForPreTraining with the same weights (+ pooler / NSP head if saved)."""
    import torch
    from transformers import BertForPreTraining

    # The fresh pooler / NSP head is the same every time (seed 0 of the CPU generator, where the
    # weights are initialised), drawn inside a fork of the CPU RNG: the job's own seeding (--seed
    # + rank: each rank its own dropout masks) is left as it was, CUDA's RNG is not touched.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(0)
        model = BertForPreTraining(mlm_model.config)
    model.load_state_dict(mlm_model.state_dict(), strict=False)
    if source_dir and (Path(source_dir) / "model.safetensors").is_file():
        from safetensors.torch import load_file

        saved = load_file(str(Path(source_dir) / "model.safetensors"))
        extra = {k: v for k, v in saved.items() if k.startswith(("bert.pooler.", "cls.seq_relationship."))}
        model.load_state_dict(extra, strict=False)
    model.tie_weights()
    return model.to(mlm_model.device)


def load_for_training(name: str, requested: str, *, device) -> TrainModel:
    from mlm_explorer.core.load import models as core

    spec = core.inspect(name)  # config and tokenizer only: the objective is decided before any weight is read
    kind, model_type = spec.kind, spec.model_type
    objective = choose_objective(requested, kind, model_type, name, infill=spec.infill)
    lm = (core.load_seq2seq(name, device=str(device)) if objective in ("span", "infill")
          else core.load_mlm(name, device=str(device), fresh_head=True))   # a headless encoder learns its head
    model = lm.model
    if objective == "mlm+nsp":
        model = _to_pretraining(model, lm.path)
    model.train()
    return TrainModel(model, lm.tokenizer, objective, lm.name, lm.max_length, model_type)
