"""The one model layer: load encoder MLMs and seq2seq (T5) models, pick the device, say what a model is.

Where a model comes from is decided by core/load/sources.py (`resolve_source`: bundled, a local
directory, a fine-tuning run, a hub name cached or not); what can be listed, by
core/load/catalog.py (`list_models`); the Hugging Face glue (quiet loading, config reading,
one-line errors, `ModelSpec`) is core/load/hf.py. `resolve_source`, `list_models` and
`ModelSpec` are re-exported here.

`inspect(name)` says what a model is (a `ModelSpec`: kind, family, tokenizer style, mask
token, head, sentinels, length limit) from its config and tokenizer, without reading weights.
`load_mlm` / `load_seq2seq` check the same things before any weight is read: the config's
kind (a T5 where an MLM is needed and the reverse), then the tokenizer (no mask token, no T5
sentinels). Weights load as safetensors only, `trust_remote_code` is never set, the model is in
eval mode, and `LoadedModel.spec` keeps the description; callers run it under
`torch.inference_mode()`. Every failure becomes one `ModelError` line that says what to do.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from mlm_explorer.core.load import hf
from mlm_explorer.core.load.catalog import ModelEntry, list_models  # noqa: F401  (re-exported)
from mlm_explorer.core.load.hf import ModelSpec  # noqa: F401  (re-exported)
from mlm_explorer.core.load.sources import (  # noqa: F401  (re-exported: the model layer's public names)
    BUNDLED,
    BUNDLED_INFILLER,
    RUN_PREFIX,
    ModelSource,
    resolve_source,
)
from mlm_explorer.errors import InputError, ModelError

Kind = Literal["mlm", "seq2seq"]

SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLE_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model", "vocab.json")
SENTINEL = "<extra_id_0>"
# One load at a time: transformers builds a model on the meta device under process-wide state, and two
# loads in two threads (the app loads its T5 and a Compare column at once) fail with "Cannot copy out of
# meta tensor". Loads are rare and slow anyway; inference is not serialised by this.
_LOAD_LOCK = threading.RLock()


# ---------------------------------------------------------------------------------------------
# The loaded model


@dataclass
class LoadedModel:
    model: Any                     # a transformers PreTrainedModel in eval mode on `device`
    tokenizer: Any                 # its fast tokenizer
    kind: Kind                     # "mlm" (encoder, fill-mask) or "seq2seq" (T5, infill)
    name: str                      # what the user asked for ("bundled", a hub name, a path)
    path: str | None               # the directory the weights came from
    device: Any                    # torch.device
    source: str = "local"          # "bundled" | "hub-cache" | "hub" | "local" | "run"
    info: dict = field(default_factory=dict)
    # info: "model_type"; "head_trained" (False when the MLM head was freshly initialised:
    # predictions are then meaningless); "missing_keys"; the bundled model adds "encoder", "head".
    spec: ModelSpec | None = None  # what the model is (core/load/hf.py)

    @property
    def max_length(self) -> int:
        """Longest input in tokens: the tokenizer's limit, capped by the position embeddings."""
        return hf.max_length(self.tokenizer, self.model.config)

    def to_dict(self) -> dict:
        """What a script needs to know of the model (the `model` block of every `--json` answer and
        export): a few hundred bytes, not the bundled head's whole manifest."""
        spec = self.spec
        return {
            "name": self.name, "kind": self.kind, "family": spec.family if spec else None,
            "model_type": self.info.get("model_type") or (spec.model_type if spec else None),
            "tokenizer": spec.tokenizer_style if spec else None, "cased": spec.cased if spec else None,
            "vocab_size": len(self.tokenizer), "max_length": self.max_length,
            "mask_token": getattr(self.tokenizer, "mask_token", None),
            "infill": spec.infill if spec else None, "head_trained": self.info.get("head_trained", True),
            "device": str(self.device), "source": self.source, "path": self.path,
        }


# ---------------------------------------------------------------------------------------------
# Device


def resolve_device(spec: str | None = "auto"):
    """"auto" -> cuda if available else cpu; "cpu", "cuda", "cuda:N", "mps". Bad value -> InputError."""
    import torch

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if match:
        if not torch.cuda.is_available():
            raise InputError(
                f"--device {spec}: no CUDA GPU is available to torch (a CPU build of torch, or no driver); "
                "use --device cpu or install a CUDA build of torch (see README)"
            )
        index = int(match.group(1) or 0)
        if index >= torch.cuda.device_count():
            raise InputError(f"--device {spec}: there are only {torch.cuda.device_count()} CUDA device(s); use cuda:0")
        return torch.device("cuda", index)
    if spec == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise InputError("--device mps: Apple MPS is not available here; use --device cpu")
        return torch.device("mps")
    raise InputError(f"--device {spec!r} is not a device; use auto, cpu, cuda or cuda:N")


# ---------------------------------------------------------------------------------------------
# Kinds


def _kind_mismatch(name: str, model_type: str, kind: str, want: Kind) -> ModelError:
    if want == "mlm" and kind == "seq2seq":
        return ModelError(
            f"'{name}' is a {model_type} encoder-decoder model: use it with `mlm-explorer infill`; "
            "`predict` needs an encoder masked-LM (BERT family)"
        )
    if want == "seq2seq" and kind == "mlm":
        return ModelError(
            f"'{name}' is a {model_type} encoder masked-LM: use it with `mlm-explorer predict`; "
            "`infill` needs an encoder-decoder model such as T5 or BART"
        )
    return ModelError(f"'{name}' is {hf.what_it_is(model_type)}; {hf.NEEDS}")


def _no_head(name: str, spec: ModelSpec) -> ModelError:
    archs = ", ".join(spec.architectures) or spec.family
    return ModelError(
        f"'{name}' is a {archs} checkpoint without a masked-LM head, so its predictions would be random; pick the "
        f"masked-LM it was made from (e.g. a *ForMaskedLM checkpoint), or train a head on your text first: "
        f"`mlm-explorer train DOCS --model {name}`"
    )


# ---------------------------------------------------------------------------------------------
# Loading


def load_mlm(name_or_path: str | os.PathLike | None = None, *, device: str = "auto",
             fresh_head: bool = False) -> LoadedModel:
    """An encoder masked-LM (AutoModelForMaskedLM) in eval mode. None / "bundled" -> the bundled default.

    A checkpoint without an MLM head (a sentence encoder, a classifier) is refused (ModelError),
    unless `fresh_head` (training: the head starts fresh and is learned).
    """
    return _load(name_or_path, want="mlm", device=device, fresh_head=fresh_head)


def load_seq2seq(name_or_path: str | os.PathLike, *, device: str = "auto") -> LoadedModel:
    """A seq2seq model that can infill (AutoModelForSeq2SeqLM), in eval mode: T5-style (sentinel
    tokens) or BART-style (a mask token; the decoder regenerates the whole text)."""
    if name_or_path is None or str(name_or_path).strip() in ("", BUNDLED):
        raise ModelError(
            "infill needs a seq2seq model and the bundled default is an encoder masked-LM; "
            f"pass --model {BUNDLED_INFILLER} (the bundled span infiller) or a T5 model "
            "(a hub name such as google-t5/t5-small, or a local directory)"
        )
    return _load(name_or_path, want="seq2seq", device=device, fresh_head=False)


def inspect(name_or_path: str | os.PathLike | None) -> ModelSpec:
    """What a model is (`ModelSpec`), from its config and tokenizer; no weights are read.

    A model of another kind ("other": GPT-2, a vision model...) is described from its config
    alone. ModelError when it cannot be found or its config / tokenizer cannot be read.
    """
    src = resolve_source(name_or_path)
    if src.source == "bundled":
        return _infiller_spec() if src.name == BUNDLED_INFILLER else _bundled_spec()
    config = hf.read_config(src)
    if hf.kind_of(getattr(config, "model_type", None), bool(getattr(config, "is_encoder_decoder", False))) == "other":
        return hf.describe(src, config, None)
    return hf.describe(src, config, _load_tokenizer(src))


def _bundled_spec(model=None, tokenizer=None, info: dict | None = None) -> ModelSpec:
    """The bundled model's spec: its encoder's config and tokenizer, and our MLM head."""
    from mlm_explorer.core.load.bundled import bundled_encoder_dir, head_path

    encoder = bundled_encoder_dir()
    src = ModelSource(BUNDLED, "bundled", encoder)
    if model is None:
        config, tokenizer = hf.read_config(src), _load_tokenizer(src)
    else:
        config = model.config
    head = info["head_trained"] if info is not None else head_path().is_file()
    return replace(hf.describe(src, config, tokenizer), kind="mlm", has_lm_head=head)


def _infiller_spec(model=None, tokenizer=None, info: dict | None = None) -> ModelSpec:
    """The bundled infiller's spec: its EncoderDecoderConfig and sentinel tokenizer (built from the package)."""
    from mlm_explorer.core.load import bundled_infiller
    from mlm_explorer.core.load.bundled import bundled_encoder_dir

    encoder = bundled_encoder_dir()
    src = ModelSource(BUNDLED_INFILLER, "bundled", encoder)
    if model is None:
        with hf.quiet_transformers():
            tokenizer = bundled_infiller.build_tokenizer(encoder)
            config = bundled_infiller.build_config(encoder, tokenizer)
    else:
        config = model.config
    trained = info["head_trained"] if info is not None else bundled_infiller.infiller_path().is_file()
    return replace(hf.describe(src, config, tokenizer), has_lm_head=trained)


def _load_tokenizer(src: ModelSource):
    """The tokenizer of a source (from the checkpoint, or its run directory when it has none)."""
    from transformers import AutoTokenizer

    tok_where = hf.where(src)
    if src.path is not None and not any((src.path / f).is_file() for f in TOKENIZER_FILES):
        if any((src.path.parent / f).is_file() for f in TOKENIZER_FILES):
            tok_where = str(src.path.parent)
        elif src.source == "hub-cache":
            raise ModelError(hf.partly_cached_message(src.name))
        else:
            raise ModelError(f"'{src.name}' has no tokenizer files (tokenizer.json / tokenizer_config.json) in {src.path}")
    with hf.quiet_transformers():
        try:
            return AutoTokenizer.from_pretrained(tok_where, trust_remote_code=False, local_files_only=src.path is not None)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise hf.explain(exc, src, "tokenizer") from exc


def load_any(name_or_path: str | os.PathLike | None, *, device: str = "auto") -> LoadedModel:
    """An encoder MLM or a seq2seq model (T5, BART), whichever the config says (compare takes both)."""
    src = resolve_source(name_or_path)
    if src.source == "bundled":
        if src.name == BUNDLED_INFILLER:
            return load_seq2seq(name_or_path, device=device)
        return load_mlm(name_or_path, device=device)
    config = hf.read_config(src)
    model_type = getattr(config, "model_type", None) or "unknown"
    kind = hf.kind_of(model_type, bool(getattr(config, "is_encoder_decoder", False)))
    if kind == "other":
        raise _kind_mismatch(src.name, model_type, kind, "mlm")
    return _load(name_or_path, want=kind, device=device, fresh_head=False)


def _load(name_or_path, *, want: Kind, device: str, fresh_head: bool) -> LoadedModel:
    with _LOAD_LOCK:
        lm = _load_quietly(name_or_path, want=want, device=device, fresh_head=fresh_head)
    hf.quiet_inference()   # warnings about inputs from here on are not for the user (core/load/hf.py)
    return lm


def _load_quietly(name_or_path, *, want: Kind, device: str, fresh_head: bool) -> LoadedModel:
    dev = resolve_device(device)
    src = resolve_source(name_or_path)
    if src.source == "bundled" and src.name == BUNDLED_INFILLER:
        if want != "seq2seq":
            raise _kind_mismatch(src.name, "BERT2BERT span infiller", "seq2seq", want)
        from mlm_explorer.core.load.bundled_infiller import load_infiller

        model, tokenizer, info = load_infiller(dev)
        spec = _infiller_spec(model, tokenizer, info)
        return LoadedModel(model, tokenizer, "seq2seq", BUNDLED_INFILLER, info["encoder_dir"], dev, "bundled", info, spec)
    if src.source == "bundled":
        from mlm_explorer.core.load.bundled import bundled_encoder_dir, load_bundled

        model, tokenizer, info = load_bundled(dev)
        info = {"model_type": "bert", **info}
        spec = _bundled_spec(model, tokenizer, info)
        return LoadedModel(model, tokenizer, "mlm", BUNDLED, str(bundled_encoder_dir()), dev, "bundled", info, spec)

    import torch
    from transformers import AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    # 1. The config: its kind decides before any weight is read.
    config = hf.read_config(src)
    model_type = getattr(config, "model_type", None) or "unknown"
    kind = hf.kind_of(model_type, bool(getattr(config, "is_encoder_decoder", False)))
    if kind != want:
        raise _kind_mismatch(src.name, model_type, kind, want)

    # 2. The weights on disk: safetensors only (pickle files can run code when loaded).
    if src.path is not None:
        _check_weights(src)

    # 3. The tokenizer, and what the model is: a masked-LM needs a mask token, T5 its sentinels.
    tokenizer = _load_tokenizer(src)
    spec = hf.describe(src, config, tokenizer)
    if want == "mlm" and (tokenizer.mask_token is None or tokenizer.mask_token_id is None):
        raise ModelError(
            f"'{src.name}' has no mask token in its tokenizer, so it cannot fill masks; pick a masked-LM such as BERT"
        )
    if want == "seq2seq" and spec.infill is None:
        raise ModelError(
            f"'{src.name}' has no T5 sentinel tokens ({SENTINEL}, ...) and no mask token in its tokenizer, so it "
            "cannot infill blanks; pick a T5 or BART model"
        )

    # 4. The weights.
    from safetensors import SafetensorError

    auto = AutoModelForMaskedLM if want == "mlm" else AutoModelForSeq2SeqLM
    with hf.quiet_transformers():
        try:
            model, loading = auto.from_pretrained(
                hf.where(src), config=config, use_safetensors=True, dtype=torch.float32,
                output_loading_info=True, trust_remote_code=False, local_files_only=src.path is not None,
            )
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            raise hf.explain(exc, src, "weights") from exc
    missing = sorted(loading.get("missing_keys", []) or [])
    if missing and spec.has_lm_head is not True and not fresh_head:
        raise _no_head(src.name, spec)   # the checkpoint says it has no head, and the head's weights are missing
    model.to(dev).eval()
    info = {"model_type": model_type, "head_trained": not missing, "missing_keys": missing}
    path = str(src.path) if src.path is not None else hf.snapshot_dir(src.repo_id)
    return LoadedModel(model, tokenizer, want, src.name, path, dev, src.source, info, spec)


def _check_weights(src: ModelSource) -> None:
    path = src.path
    files = {p.name for p in path.iterdir() if p.is_file()}
    if any(f in files for f in SAFETENSORS_FILES) or any(f.endswith(".safetensors") for f in files):
        return
    pickles = sorted(f for f in files if f in PICKLE_FILES or f.endswith((".bin", ".pt", ".pth", ".ckpt")))
    if pickles:
        raise ModelError(
            f"'{src.name}' has only pickle weights ({pickles[0]}), which can run code when loaded; "
            "convert it once with save_pretrained(safe_serialization=True) in code you trust, or use a safetensors model"
        )
    if src.source == "hub-cache":
        raise ModelError(hf.partly_cached_message(src.name))
    raise ModelError(f"'{src.name}' has a config.json but no weights (model.safetensors) in {path}")
