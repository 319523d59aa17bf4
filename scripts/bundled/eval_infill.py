"""Evaluate a span infiller through `infill` beside the bundled encoder (issue 14).

    python scripts/bundled/eval_infill.py bundled-infiller      # the shipped infiller
    python scripts/bundled/eval_infill.py RUN_OR_CHECKPOINT     # a training run of it
    ... [--encoder bundled] [--heldout CORPUS/heldout] [--heldout-items 300] [--json] [--show]

Three measurements, each on the infiller and on the encoder with the same blanks:

1. cloze (tests/data/cloze.tsv, one-word answers): the infiller's greedy fill counts when its
   first word is an answer (top-1); top-5: the first words of a 5-beam search's 5 candidates.
   The encoder: its top-1 / top-5 at the one [MASK] (as eval_cloze.py).
2. held-out single-word blanks: up to --heldout-items sentences of the held-out text (seeded),
   one word blanked in each (a word that is one wordpiece, so the encoder can fill it with
   one [MASK]); top-1 of both.
3. multi-word spans (tests/data/spans.tsv, answers of 2-3 words): the infiller's greedy fill,
   whole, against the answers; the encoder's best 1-3-piece fill: the blank as 1, 2 and 3
   [MASK]s, each filled jointly (most confident first), counted when any of the three is an
   answer (an oracle over the length, which the encoder cannot choose by itself). Three
   guesses each: the infiller's are the 3 best of its 5-beam search ("best of 3"); the greedy
   span and any of the 5 beams are reported too.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project, when not pip-installed
import common  # noqa: E402

DEFAULT_HELDOUT = Path.home() / ".cache" / "mlm-explorer" / "bundled-corpus" / "heldout"
SPANS = Path(__file__).resolve().parents[2] / "tests" / "data" / "spans.tsv"
_EDGE_PUNCT = re.compile(r"^[^\w']+|[^\w']+$")


def normalize(text: str) -> str:
    """Lower case, single spaces, no punctuation at the ends, "baker ' s" -> "baker's"."""
    text = re.sub(r"\s*'\s*", "'", text.lower())
    return _EDGE_PUNCT.sub("", " ".join(text.split()))


def first_word(text: str) -> str:
    words = normalize(text).split()
    return _EDGE_PUNCT.sub("", words[0]) if words else ""


def read_spans(path: Path = SPANS) -> list[tuple[str, set[str]]]:
    return [(s, {normalize(a) for a in answers}) for s, answers in common.read_cloze(path)]


def infill_fills(lm, sentence: str, beams: int = 1) -> list[str]:
    """The fill of the one blank, per candidate (greedy: one)."""
    from mlm_explorer.core.infer.infill import infill

    result = infill(lm, sentence, num_beams=beams, num_return=beams)
    return [c.fills[0].text for c in result.candidates]


def encoder_fill(lm, sentence: str, pieces: int) -> str:
    """The blank as `pieces` [MASK]s, filled jointly; the wordpieces joined."""
    from mlm_explorer.core.infer.fill import predict

    result = predict(lm, sentence.replace("[MASK]", " ".join(["[MASK]"] * pieces)), top_k=1, joint=True)
    positions = sorted(p.position for p in result.predictions)
    return lm.tokenizer.decode([result.filled_ids[p] for p in positions])


def encoder_top5(lm, sentence: str) -> list[str]:
    from mlm_explorer.core.infer.fill import predict

    return [c.token for c in predict(lm, sentence, top_k=5).predictions[0].candidates]


def cloze(infiller, encoder, items) -> dict:
    rows = []
    for sentence, answers in items:
        greedy = first_word(infill_fills(infiller, sentence)[0])
        beams = [first_word(f) for f in infill_fills(infiller, sentence, beams=5)]
        enc = encoder_top5(encoder, sentence)
        rows.append({"sentence": sentence, "answers": sorted(answers), "infill": greedy, "infill_beams": beams,
                     "infill_top1": greedy in answers, "infill_top5": bool(answers & set(beams + [greedy])),
                     "encoder_top5": enc, "encoder_top1": enc[0] in answers, "encoder_top5_ok": bool(answers & set(enc))})
    n = len(rows)
    return {"n": n, "infill_top1": sum(r["infill_top1"] for r in rows) / n,
            "infill_top5": sum(r["infill_top5"] for r in rows) / n,
            "encoder_top1": sum(r["encoder_top1"] for r in rows) / n,
            "encoder_top5": sum(r["encoder_top5_ok"] for r in rows) / n, "rows": rows}


def heldout_items(folder: Path, tokenizer, limit: int, seed: int = 1234) -> list[tuple[str, str]]:
    """(sentence with one [MASK], the word) from held-out lines of 6-40 words; seeded."""
    vocab = tokenizer.get_vocab()
    lines = []
    for f in sorted(Path(folder).glob("*.txt")):
        lines += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if 6 <= len(ln.split()) <= 40]
    rng = random.Random(seed)
    rng.shuffle(lines)
    items = []
    for line in lines:
        words = line.split()
        choices = [i for i, w in enumerate(words) if i > 0 and w.isalpha() and w.lower() in vocab]
        if not choices:
            continue
        i = rng.choice(choices)
        items.append((" ".join(words[:i] + ["[MASK]"] + words[i + 1:]), words[i].lower()))
        if len(items) == limit:
            break
    return items


def heldout(infiller, encoder, items) -> dict | None:
    if not items:
        return None
    inf = sum(first_word(infill_fills(infiller, s)[0]) == w for s, w in items)
    enc = sum(encoder_top5(encoder, s)[0] == w for s, w in items)
    return {"n": len(items), "infill_top1": inf / len(items), "encoder_top1": enc / len(items)}


def spans(infiller, encoder, items, *, with_beams: bool = True) -> dict:
    """with_beams=False: the greedy fill only (the test's measurement; "infill_beam5" is then the greedy one)."""
    rows = []
    for sentence, answers in items:
        greedy = normalize(infill_fills(infiller, sentence)[0])
        beams = [normalize(f) for f in infill_fills(infiller, sentence, beams=5)] if with_beams else []
        enc = [normalize(encoder_fill(encoder, sentence, k)) for k in (1, 2, 3)]
        rows.append({"sentence": sentence, "answers": sorted(answers), "infill": greedy, "infill_beams": beams,
                     "infill_ok": greedy in answers, "infill_beam_ok": bool(answers & set(beams + [greedy])),
                     "infill_best3_ok": bool(answers & set(beams[:3] or [greedy])),
                     "encoder_fills": enc, "encoder_ok": bool(answers & set(enc))})
    n = len(rows)
    return {"n": n, "infill": sum(r["infill_ok"] for r in rows) / n,
            "infill_best3": sum(r["infill_best3_ok"] for r in rows) / n,
            "infill_beam5": sum(r["infill_beam_ok"] for r in rows) / n,
            "encoder_best_1_3": sum(r["encoder_ok"] for r in rows) / n, "rows": rows}


def measured_files(model: str, encoder: str) -> dict:
    """sha256 of the shipped files a run of the bundled models measured (the results' key to staleness)."""
    from mlm_explorer.core.load.bundled import head_path
    from mlm_explorer.core.load.bundled_infiller import infiller_path
    from mlm_explorer.files import sha256_file

    files = {}
    if model == "bundled-infiller" and infiller_path().is_file():
        files["mlm_explorer/assets/bundled-infiller/infiller.safetensors"] = sha256_file(infiller_path())
    if encoder == "bundled" and head_path().is_file():
        files["mlm_explorer/assets/bundled/head.safetensors"] = sha256_file(head_path())
    return files


def save(out: dict, path: Path, argv: list[str]) -> None:
    """The results, the command that made them, the files they belong to and the exported step."""
    from mlm_explorer.core.load.bundled_infiller import infiller_info_path

    step = None
    if out["model"] == "bundled-infiller" and infiller_info_path().is_file():
        step = json.loads(infiller_info_path().read_text(encoding="utf-8")).get("step")
    shown = [a if not Path(a).is_absolute() else "CORPUS/" + Path(a).name for a in argv if a != "--save" and a != str(path)]
    record = {"command": " ".join(["python scripts/bundled/eval_infill.py", *shown]), "date": time.strftime("%Y-%m-%d"),
              "step": step, "files": measured_files(out["model"], out["encoder"]), **out}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def load(spec: str, encoder_spec: str):
    from mlm_explorer.core.load.models import load_mlm, load_seq2seq

    return load_seq2seq(spec, device="cpu"), load_mlm(encoder_spec, device="cpu")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="'bundled-infiller', a run directory or a checkpoint")
    ap.add_argument("--encoder", default="bundled", help="the encoder to compare with (default: bundled)")
    ap.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT, help="folder of held-out .txt")
    ap.add_argument("--heldout-items", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", type=Path, help="write the results (with the sha256 of the files measured) here, "
                                               "for render_quality.py: scripts/bundled/results/infill.json")
    ap.add_argument("--show", action="store_true", help="print every cloze and span row")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    infiller, encoder = load(args.model, args.encoder)
    c = cloze(infiller, encoder, common.read_cloze())
    h = heldout(infiller, encoder, heldout_items(args.heldout, encoder.tokenizer, args.heldout_items))
    s = spans(infiller, encoder, read_spans())
    out = {"model": args.model, "encoder": args.encoder, "cloze": c, "heldout": h, "spans": s,
           "seconds": round(time.time() - t0, 1)}
    if args.save:
        save(out, args.save, argv if argv is not None else sys.argv[1:])
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"infiller: {args.model}   encoder: {args.encoder}")
    print(f"{'':44s} {'infiller':>9s} {'encoder':>9s}")
    print(f"{'cloze top-1 (n=%d; infiller: first word)' % c['n']:44s} {c['infill_top1']:9.1%} {c['encoder_top1']:9.1%}")
    print(f"{'cloze top-5 (infiller: 5 beams)':44s} {c['infill_top5']:9.1%} {c['encoder_top5']:9.1%}")
    if h:
        print(f"{'held-out one-word blanks top-1 (n=%d)' % h['n']:44s} {h['infill_top1']:9.1%} {h['encoder_top1']:9.1%}")
    print(f"{'spans of 2-3 words (n=%d): greedy / best 1-3' % s['n']:44s} {s['infill']:9.1%} {s['encoder_best_1_3']:9.1%}")
    print(f"{'spans: best of 3 beams / of 3 lengths':44s} {s['infill_best3']:9.1%} {s['encoder_best_1_3']:9.1%}")
    print(f"{'spans: any of 5 beams':44s} {s['infill_beam5']:9.1%}")
    if args.show:
        for r in c["rows"]:
            print(f"{'ok ' if r['infill_top1'] else '   '} {r['sentence'][:58]:58s} {r['infill']:12s} | {' '.join(r['encoder_top5'])}")
        for r in s["rows"]:
            print(f"{'ok ' if r['infill_ok'] else '   '} {r['sentence'][:58]:58s} {r['infill'][:24]:24s} | {' / '.join(r['encoder_fills'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
