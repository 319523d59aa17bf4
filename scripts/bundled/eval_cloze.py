"""Evaluate a masked LM for the bundled default (issue 6): cloze top-1/top-5 on
tests/data/cloze.tsv, and masked-token top-1 on held-out corpus text.

    python scripts/bundled/eval_cloze.py bundled            # the shipped model
    python scripts/bundled/eval_cloze.py untrained          # encoder + random head (baseline)
    python scripts/bundled/eval_cloze.py identity           # encoder + the app's untrained head:
                                                            #   identity transform, zero bias
    python scripts/bundled/eval_cloze.py DIR                # a saved model / a training run
    python scripts/bundled/eval_cloze.py untrained --params FILE.safetensors   # baseline + params
    ... [--heldout CORPUS/heldout] [--json] [--show-misses]

Loads through mlm_explorer.core (load_mlm, fill_masks) when it is importable, else with
transformers directly; the untrained baseline always uses scripts/bundled/common.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, when not pip-installed
import common  # noqa: E402

DEFAULT_HELDOUT = Path.home() / ".cache" / "mlm-explorer" / "bundled-corpus" / "heldout"


def load(spec: str, params: Path | None):
    """-> (model, tokenizer, how) for 'bundled', 'untrained', 'identity' or a directory."""
    if spec == "identity":
        import torch

        model, tok = common.load_base()
        t = model.cls.predictions.transform
        with torch.no_grad():  # what core/bundled.py uses when no trained head is shipped
            t.dense.weight.copy_(torch.eye(t.dense.weight.shape[0]))
            t.dense.bias.zero_()
            t.LayerNorm.weight.fill_(1.0)
            t.LayerNorm.bias.zero_()
            model.cls.predictions.bias.zero_()
        return model, tok, "untrained head, identity init (as the job starts from)"
    if spec == "untrained":
        model, tok = common.load_base()
        if params:
            common.apply_params(model, params)
        return model, tok, "untrained head" + (f" + {params}" if params else "")
    try:
        from mlm_explorer.core.load.models import load_mlm
    except ImportError:
        load_mlm = None
    if load_mlm is not None:
        lm = load_mlm(spec, device="cpu")
        return lm.model.eval(), lm.tokenizer, "core.models.load_mlm"
    if spec == "bundled":
        model, tok = common.load_bundled_fallback()
        return model, tok, "fallback loader (core not importable)"
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    return AutoModelForMaskedLM.from_pretrained(spec).eval(), AutoTokenizer.from_pretrained(spec), "transformers"


def mask_logits(model, tok, sentence: str):
    """(V,) logits at the sentence's one [MASK]."""
    import torch

    enc = tok(sentence, return_tensors="pt")
    pos = (enc["input_ids"][0] == tok.mask_token_id).nonzero()[0].item()
    with torch.no_grad():
        return model(**enc).logits[0, pos]


def top5(model, tok, sentence: str) -> list[str]:
    logits = mask_logits(model, tok, sentence)
    return [tok.convert_ids_to_tokens(i) for i in logits.topk(5).indices.tolist()]


def cloze(model, tok, items):
    import re

    rows = []
    for sentence, answers in items:
        preds = top5(model, tok, sentence)
        context = set(re.findall(r"[a-z]+", sentence.replace("[MASK]", " ").lower()))
        rows.append({"sentence": sentence, "answers": sorted(answers), "top5": preds,
                     "top1_ok": preds[0] in answers, "top5_ok": any(p in answers for p in preds),
                     # the copying failure: the first choice is a word the sentence already has
                     "top1_copied": preds[0] in context and preds[0] not in answers})
    n = len(rows)
    return {"n": n, "top1": sum(r["top1_ok"] for r in rows) / n, "top5": sum(r["top5_ok"] for r in rows) / n,
            "copied": sum(r["top1_copied"] for r in rows) / n, "rows": rows}


def heldout(model, tok, folder: Path, max_rows: int):
    import torch

    files = sorted(folder.glob("*.txt"))
    if not files:
        return None
    hit = total = 0
    loss_sum = 0.0
    for x, am, labels in common.heldout_batches(tok, files, max_rows=max_rows):
        with torch.no_grad():
            logits = model(input_ids=x, attention_mask=am).logits
        sel = labels != -100
        hit += (logits.argmax(-1)[sel] == labels[sel]).sum().item()
        total += sel.sum().item()
        loss_sum += torch.nn.functional.cross_entropy(logits[sel], labels[sel], reduction="sum").item()
    return {"tokens": total, "top1": hit / total, "loss": loss_sum / total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="'bundled', 'untrained', 'identity' or a model directory")
    ap.add_argument("--params", type=Path, help="(with 'untrained') a params .safetensors to apply")
    ap.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT, help="folder of held-out .txt")
    ap.add_argument("--heldout-rows", type=int, default=128, help="rows of 128 tokens (default 128)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model, tok, how = load(args.model, args.params)
    c = cloze(model, tok, common.read_cloze())
    h = heldout(model, tok, args.heldout, args.heldout_rows)
    out = {"model": args.model, "loaded_by": how, "cloze_n": c["n"], "cloze_top1": c["top1"],
           "cloze_top5": c["top5"], "cloze_top1_copied": c["copied"], "heldout": h, "seconds": round(time.time() - t0, 1)}
    if args.json:
        print(json.dumps(dict(out, cloze_rows=c["rows"]), indent=1))
        return 0
    print(f"model: {args.model}  ({how})")
    print(f"{'metric':32s} value")
    print(f"{'cloze top-1 (n=%d)' % c['n']:32s} {c['top1']:.1%}")
    print(f"{'cloze top-5':32s} {c['top5']:.1%}")
    print(f"{'cloze top-1 copies the context':32s} {c['copied']:.1%}")
    if h:
        print(f"{'held-out masked top-1 (%d tok)' % h['tokens']:32s} {h['top1']:.1%}")
        print(f"{'held-out masked loss':32s} {h['loss']:.3f}")
    if args.show_misses:
        for r in c["rows"]:
            mark = "ok " if r["top1_ok"] else ("ok5" if r["top5_ok"] else "   ")
            print(f"{mark} {r['sentence'][:60]:60s} {' '.join(r['top5'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
