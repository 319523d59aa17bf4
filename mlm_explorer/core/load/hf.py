"""The Hugging Face glue: quiet loading, config reading, one-line errors, and what a model is.

Everything the project asks of transformers / huggingface_hub before (or beside) loading
weights lives here, so the model layer (models.py), the bundled model (bundled.py), the
listing (catalog.py), the sources (sources.py) and the training job (train/model_setup.py)
share one rule each:

- `quiet_transformers()`: silence transformers' logging and progress bars;
- `read_config(src)`: the config of a source, no weights, no remote code;
- `explain(exc, src, what)`: a transformers / hub failure as one `ModelError` line;
- `kind_of(model_type, is_encoder_decoder)`: "mlm", "seq2seq" or "other";
- `describe(...)` -> `ModelSpec`: what kind of model this is (family, tokenizer style, mask
  token, head, sentinels, length limit...), the one description the CLI, the app and the
  training job read (`core.load.models.inspect` builds it for a name).

Nothing here imports torch; transformers is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlm_explorer.errors import ModelError

# Config classes whose position embeddings are offset by pad_token_id + 1 (514 -> 512 tokens).
PADDED_POSITION_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "xlm-roberta-xl", "data2vec-text"}
# Architectures (config.architectures) that carry a language-modelling head.
HEAD_SUFFIXES = ("ForMaskedLM", "ForPreTraining", "ForConditionalGeneration")


# ---------------------------------------------------------------------------------------------
# Quiet loading


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' logging and progress bars (load reports, "newly initialized ...")."""
    from transformers.utils import logging as tf_logging

    level = tf_logging.get_verbosity()
    bars = tf_logging.is_progress_bar_enabled()
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tf_logging.set_verbosity(level)
        if bars:
            tf_logging.enable_progress_bar()


def quiet_inference() -> None:
    """From now on, transformers logs errors only: its warnings about inputs (BigBird falling back
    to full attention on a short text, Longformer padding to its window...) are notes for library
    authors, not for the person at the terminal. Called once a model is loaded (this process runs
    mlm-explorer; the training job's own events say what matters)."""
    import warnings

    from transformers.utils import logging as tf_logging

    tf_logging.set_verbosity_error()
    # EncoderDecoderModel (the bundled span infiller) warns on every forward that its loss moved
    # in transformers 4.12: advice for training code written before then, not for this user.
    warnings.filterwarnings("ignore", message="Version v4.12.0 introduces", category=FutureWarning)


# ---------------------------------------------------------------------------------------------
# The hub and its cache


def offline() -> bool:
    """True when the hub must not be contacted (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return bool(constants.HF_HUB_OFFLINE) or any(f.strip().lower() in {"1", "true", "yes", "on"} for f in flags)


def not_cached_message(repo_id: str) -> str:
    return (
        f"model '{repo_id}' is not in the Hugging Face cache and the hub is unreachable; "
        f"run once with network: `hf download {repo_id}`"
    )


def partly_cached_message(repo_id: str) -> str:
    return f"model '{repo_id}' is only partly in the Hugging Face cache; run once with network: `hf download {repo_id}`"


def snapshot_dir(repo_id: str | None) -> str | None:
    """The cached snapshot directory of a hub model (None when not cached)."""
    if not repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    return str(Path(cached).parent) if isinstance(cached, str) else None


# ---------------------------------------------------------------------------------------------
# Errors from transformers / huggingface_hub -> one line


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(exc: BaseException, src: Any, what: str = "model") -> ModelError:
    """One ModelError line for a failed load of `what` ("config", "tokenizer", "weights") from
    `src` (a `sources.ModelSource`: its name, source and repo_id are read)."""
    from huggingface_hub import errors as hf

    name = src.name
    for err in _chain(exc):
        if src.repo_id:
            if isinstance(err, hf.GatedRepoError):
                return ModelError(
                    f"model '{name}' is gated on the Hugging Face hub: accept its terms on huggingface.co/{name}, "
                    "then run `hf auth login`"
                )
            if isinstance(err, hf.RepositoryNotFoundError):
                return ModelError(
                    f"there is no model '{name}' on the Hugging Face hub (check the spelling, "
                    "e.g. google-bert/bert-base-uncased) and no such local directory"
                )
            if isinstance(err, hf.RevisionNotFoundError):
                return ModelError(f"model '{name}' has no such revision on the Hugging Face hub")
            if isinstance(err, hf.LocalEntryNotFoundError):
                if src.source == "hub-cache":
                    return ModelError(partly_cached_message(name))
                return ModelError(not_cached_message(name))
    return ModelError(f"could not load the {what} of '{name}': {first_line(exc)}")


# ---------------------------------------------------------------------------------------------
# Configs and kinds


def where(src: Any) -> str:
    """What to pass to from_pretrained for a source: its directory, else its hub name."""
    return str(src.path) if src.path is not None else src.repo_id


REMOTE_CODE = ("needs its own Python code from its repository (trust_remote_code), which mlm-explorer never "
               "runs; pick a model that transformers supports by itself, e.g. FacebookAI/roberta-base")


def read_config(src: Any):
    """The transformers config of a non-bundled source (no weights read, no remote code); ModelError."""
    from transformers import AutoConfig

    with quiet_transformers():
        try:
            return AutoConfig.from_pretrained(where(src), trust_remote_code=False, local_files_only=src.path is not None)
        except (OSError, ValueError, KeyError) as exc:
            if "custom code" in str(exc) or "trust_remote_code" in str(exc):
                raise ModelError(f"'{src.name}' {REMOTE_CODE}") from exc
            raise explain(exc, src, "config") from exc


def kind_of(model_type: str | None, is_encoder_decoder: bool = False) -> str:
    """"seq2seq", "mlm" or "other" from a config's model_type (names from transformers' auto maps)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES and (
        is_encoder_decoder or model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    ):
        return "seq2seq"
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    return "other"


def what_it_is(model_type: str) -> str:
    """A model that is neither an encoder masked-LM nor a seq2seq model, in words: "a decoder-only ..."."""
    from transformers.models.auto import modeling_auto as auto

    def among(*maps: str) -> bool:
        return any(model_type in getattr(auto, f"MODEL_FOR_{m}_MAPPING_NAMES", {}) for m in maps)

    if among("CAUSAL_LM"):
        return (f"a decoder-only language model ({model_type}): it reads left to right, so it cannot fill a blank "
                "from both sides")
    if among("IMAGE_CLASSIFICATION", "IMAGE", "MASKED_IMAGE_MODELING", "IMAGE_SEGMENTATION", "OBJECT_DETECTION"):
        return f"a vision model ({model_type}): it reads images, not text"
    if among("AUDIO_CLASSIFICATION", "CTC", "SPEECH_SEQ_2_SEQ"):
        return f"a speech model ({model_type}): it reads audio, not text"
    return f"a {model_type} model, which has neither a masked-LM nor an infill head"


NEEDS = ("mlm-explorer needs an encoder masked-LM (e.g. FacebookAI/roberta-base, google-bert/bert-base-uncased) "
         "or, for infill, a T5 or BART model (e.g. google-t5/t5-small, facebook/bart-base)")


def has_lm_head(architectures) -> bool | None:
    """Whether a checkpoint's listed architectures carry an LM head; None when it lists none."""
    archs = list(architectures or [])
    if not archs:
        return None
    return any(a.endswith(HEAD_SUFFIXES) for a in archs)


def max_length(tokenizer, config) -> int:
    """Longest input in tokens: the tokenizer's limit, capped by the position embeddings."""
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        if getattr(config, "model_type", "") in PADDED_POSITION_TYPES:
            positions -= (getattr(config, "pad_token_id", None) or 0) + 1
        limits.append(positions)
    return min(limits) if limits else 512


# ---------------------------------------------------------------------------------------------
# What kind of model is this


@dataclass(frozen=True)
class ModelSpec:
    """What a model is, read from its config and tokenizer (no weights needed)."""

    name: str                       # as the user wrote it
    source: str                     # "bundled" | "local" | "run" | "hub-cache" | "hub"
    path: str | None                # the checkpoint directory (None: hub, not cached)
    kind: str                       # "mlm" (encoder masked-LM) | "seq2seq" | "other"
    model_type: str                 # config.model_type: "bert", "roberta", "t5", "bart", ...
    family: str                     # the config class's name: "Bert", "XLMRoberta", "DebertaV2", "T5"
    architectures: tuple[str, ...]  # config.architectures as saved
    has_lm_head: bool | None        # the checkpoint says it has an MLM / LM head (None: it does not say)
    tokenizer_style: str            # "wordpiece" | "byte-level BPE" | "sentencepiece" | "bytes" | "other"
    cased: bool | None              # False when the tokenizer lower-cases its input (None: no tokenizer read)
    mask_token: str | None          # "[MASK]", "<mask>"; None for T5
    sentinels: int                  # how many <extra_id_N> the tokenizer has (T5 infill)
    infill: str | None              # seq2seq: "sentinels" (T5 spans) or "mask" (BART regenerates); else None
    max_length: int                 # longest input in tokens
    remote_code: bool = False       # the config asks for custom code (auto_map): never run

    def to_dict(self) -> dict:
        return asdict(self)


def tokenizer_style(tokenizer) -> str:
    """How the tokenizer writes pieces: "wordpiece" (##), "byte-level BPE" (Ġ), "sentencepiece" (▁),
    "bytes" (ByT5: one token per UTF-8 byte), or "other"."""
    from mlm_explorer.core.mask.text import PieceStyle

    if getattr(tokenizer, "backend_tokenizer", None) is None:
        return "bytes" if type(tokenizer).__name__.startswith("ByT5") else "other"
    style = PieceStyle.of(tokenizer)
    if style.wordpiece_prefix:
        return "wordpiece"
    if style.byte_level:
        return "byte-level BPE"
    if style.metaspace:
        return "sentencepiece"
    return "other"


def _cased(tokenizer) -> bool:
    """False when the tokenizer lower-cases its input (its normalizer, or a slow one's do_lower_case)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return backend.normalizer is None or backend.normalizer.normalize_str("Paris") == "Paris"
    return not getattr(tokenizer, "do_lower_case", False)


def describe(src: Any, config, tokenizer) -> ModelSpec:
    """The ModelSpec of a source from its config and tokenizer (see `core.load.models.inspect`)."""
    from mlm_explorer.core.mask.text import sentinel_token_ids

    model_type = getattr(config, "model_type", None) or "unknown"
    kind = kind_of(model_type, bool(getattr(config, "is_encoder_decoder", False)))
    sentinels = len(sentinel_token_ids(tokenizer)) if tokenizer is not None else 0
    mask = getattr(tokenizer, "mask_token", None) if tokenizer is not None else None
    infill = None
    if kind == "seq2seq":
        infill = "sentinels" if sentinels else ("mask" if mask else None)
    return ModelSpec(
        name=src.name, source=src.source, path=str(src.path) if src.path is not None else None,
        kind=kind, model_type=model_type, family=type(config).__name__.removesuffix("Config"),
        architectures=tuple(getattr(config, "architectures", None) or ()),
        has_lm_head=has_lm_head(getattr(config, "architectures", None)),
        tokenizer_style=tokenizer_style(tokenizer) if tokenizer is not None else "other",
        cased=_cased(tokenizer) if tokenizer is not None else None,
        mask_token=mask, sentinels=sentinels, infill=infill,
        max_length=max_length(tokenizer, config),
        remote_code=bool(getattr(config, "auto_map", None)),
    )
