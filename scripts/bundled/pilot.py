"""Pilot measurements (issue 6): which parameters of the bundled model to train.

A minimal loop, one thread, used only to choose the trainable set before the project's
own training job existed; the shipped model is trained with `python -m mlm_explorer.train`.

    python scripts/bundled/pilot.py --config head|head+norms|head+top:N|all --steps 150
Prints one JSON line: config, trainable params, seconds/step, held-out top-1, cloze top-1/5.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, when not pip-installed
import common  # noqa: E402
import eval_cloze  # noqa: E402


def trainable(name: str, config: str) -> str | None:
    """-> 'head' / 'enc' (the learning-rate group) or None (frozen). Configs mirror the job's
    --train-params (head, head+norms, head+top:N), plus all-but-embeddings ("all")."""
    from mlm_explorer.train.params import _top_layers, is_head, is_norm_or_bias

    if is_head(name):
        return "head"
    if "word_embeddings" in name:
        return None  # tied to the decoder; 23 MB in fp16: never shipped
    if config == "all":
        return "enc"
    if config == "head+norms" and is_norm_or_bias(name):
        return "enc"
    if config.startswith("head+top:") and name in _top_layers([name, "bert.encoder.layer.5.x"], int(config[9:])):
        return "enc"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--head-lr", type=float, default=2e-3)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--corpus", type=Path, default=Path("/root/bundled-corpus"))
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    model, tok = common.load_base()
    groups = {"head": [], "enc": []}
    for n, p in model.named_parameters():
        g = trainable(n, a.config)
        p.requires_grad = g is not None
        if g:
            groups[g].append(p)
    n_train = sum(p.numel() for g in groups.values() for p in g)
    opt = torch.optim.AdamW([{"params": groups["head"], "lr": a.head_lr},
                             {"params": groups["enc"], "lr": a.lr}], weight_decay=0.01)
    rng = random.Random(0)
    lines = []
    for f in sorted((a.corpus / "train").glob("*.txt")):
        lines += f.read_text().splitlines()
    rng.shuffle(lines)
    ids = []
    for enc in tok(lines[:40000], add_special_tokens=False)["input_ids"]:
        ids.extend(enc + [tok.sep_token_id])
    body = a.seq - 2
    g = torch.Generator().manual_seed(0)
    model.train()
    t0 = time.time()
    for step in range(a.steps):
        starts = torch.randint(0, len(ids) - body, (a.batch,), generator=g).tolist()
        x = torch.tensor([[tok.cls_token_id] + ids[s:s + body] + [tok.sep_token_id] for s in starts])
        labels = x.clone()
        picked = torch.rand(x.shape, generator=g) < 0.15
        picked[:, 0] = picked[:, -1] = False
        labels[~picked] = -100
        u = torch.rand(x.shape, generator=g)
        xc = x.clone()
        xc[picked & (u < 0.8)] = tok.mask_token_id
        r = picked & (u >= 0.8) & (u < 0.9)
        xc[r] = torch.randint(1000, tok.vocab_size, x.shape, generator=g)[r]
        for pg, base in zip(opt.param_groups, (a.head_lr, a.lr)):
            pg["lr"] = base * min(1.0, (step + 1) / 20)
        hidden = model.bert(input_ids=xc).last_hidden_state  # (B, L, H)
        sel = labels != -100
        logits = model.cls(hidden[sel])  # (M, V): the vocabulary projection at masked positions only
        loss = torch.nn.functional.cross_entropy(logits, labels[sel])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step % 25 == 0:
            print(f"# step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s", file=sys.stderr)
    sec = (time.time() - t0) / a.steps
    model.eval()
    c = eval_cloze.cloze(model, tok, common.read_cloze())
    h = eval_cloze.heldout(model, tok, a.corpus / "heldout", 64)
    print(json.dumps({"config": a.config, "trainable": n_train, "steps": a.steps, "batch": a.batch,
                      "head_lr": a.head_lr, "lr": a.lr, "sec_per_step": round(sec, 2),
                      "heldout_top1": round(h["top1"], 4), "heldout_loss": round(h["loss"], 3),
                      "cloze_top1": round(c["top1"], 4), "cloze_top5": round(c["top5"], 4)}))


if __name__ == "__main__":
    main()
