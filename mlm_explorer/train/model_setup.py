"""Load the model to train and decide the objective (and refuse a model that cannot do it).

    encoder-decoder (config.is_encoder_decoder, T5)  -> span
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


def choose_objective(requested: str, kind: str, model_type: str, name: str) -> str:
    if kind == "other":
        raise ModelError(f"'{name}' is a {model_type} model, which has no masked-LM or span objective; "
                         "train a BERT-family masked LM (objective mlm) or a T5 model (objective span)")
    if requested == "auto":
        return "span" if kind == "seq2seq" else "mlm"
    if requested == "span" and kind != "seq2seq":
        raise ModelError(f"--objective span needs a T5-style encoder-decoder model, and '{name}' is a {model_type} "
                         "encoder; use --objective mlm (or leave --objective out)")
    if requested in ("mlm", "mlm+nsp") and kind == "seq2seq":
        raise ModelError(f"--objective {requested} needs an encoder masked-LM (BERT family), and '{name}' is a "
                         f"{model_type} encoder-decoder; use --objective span (or leave --objective out)")
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
    objective = choose_objective(requested, kind, model_type, name)
    lm = core.load_seq2seq(name, device=str(device)) if objective == "span" else core.load_mlm(name, device=str(device))
    model = lm.model
    if objective == "mlm+nsp":
        model = _to_pretraining(model, lm.path)
    model.train()
    return TrainModel(model, lm.tokenizer, objective, lm.name, lm.max_length, model_type)
