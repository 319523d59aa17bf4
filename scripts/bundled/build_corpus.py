"""Build the training text of the bundled default model (issue 6) from Debian packages.

Sources (install with `apt-get install -y wordnet-base fortunes r-cran-janeaustenr`):

- WordNet 3.0 (`wordnet-base`, /usr/share/wordnet/data.{noun,verb,adj,adv}): every synset
  gives its definition as a sentence ("Paris is the capital and largest city of France ...",
  "To bake is to cook and make edible by putting in a hot oven."), its other names, and its
  quoted usage examples, and for nouns the definition again with the word last ("The capital
  and largest city of France is Paris."; `--no-reverse` leaves these out); each sentence is a
  line of its own (`--unit sentence`, the default) or the synset one paragraph (`--unit
  paragraph`). Licence: WordNet 3.0 licence (permissive: use, copy, modify and distribute
  with the copyright notice kept), see /usr/share/doc/wordnet-base/copyright.
- fortunes (`fortunes`, /usr/share/games/fortunes/): the non-offensive fortune-mod
  cookie files (the offensive ones live in another package, `fortunes-off`, and are
  never read), one fortune per line. Licence: BSD (fortune-mod), see
  /usr/share/doc/fortunes/copyright. ascii-art and translate-me are left out.
- Jane Austen's six novels (`r-cran-janeaustenr`, read through `Rscript`; `--no-austen`
  leaves them out): narrative and dialogue, one paragraph per line, chapter headings and
  the _italics_ marks dropped. The novels are in the public domain (Project Gutenberg's
  texts); the package is MIT, /usr/share/doc/r-cran-janeaustenr/copyright.

Output (default ~/.cache/mlm-explorer/bundled-corpus, or --out DIR):
  train/shard-NN.txt     one sentence / fortune / paragraph per line, deduplicated, the sources shuffled together
                         (seeded) into --shards files, so that the training job's file-level
                         hold-out (--eval-fraction) takes a mixed shard, not a whole source
  heldout/{wordnet,fortunes,austen}.txt  ~1% of the synsets, fortunes and paragraphs (by a hash of the
                         text, so the split is stable), never trained on: eval_cloze.py's
                         held-out masked-token accuracy
  README.md              sources, licences, counts

Decontaminated: a training line that contains a filled-in sentence of the cloze set
(tests/data/cloze.tsv, or --exclude FILE) is dropped.

Usage:  python scripts/bundled/build_corpus.py [--out DIR] [--unit sentence|paragraph]
                                              [--heldout-percent 1] [--shards 50] [--no-austen]
                                              [--no-reverse] [--exclude CLOZE.tsv]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from sources import (FORTUNE_DIR, WORDNET_DIR, austen_lines, austen_paragraphs,  # noqa: E402
                     fortune_paragraphs, wordnet_entries)

DEFAULT_OUT = Path.home() / ".cache" / "mlm-explorer" / "bundled-corpus"


def cloze_sentences(path: Path) -> list[str]:
    """Every filled-in sentence of a cloze .tsv (sentence with [MASK], TAB, answers|...), lower case."""
    return [sentence.replace("[MASK]", a).lower() for sentence, answers in common.read_cloze(path)
            for a in sorted(answers)]


def is_heldout(text: str, percent: float) -> bool:
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 10000 < percent * 100


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--heldout-percent", type=float, default=1.0)
    ap.add_argument("--shards", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--unit", choices=("sentence", "paragraph"), default="sentence",
                    help="a line per WordNet sentence (default), or per synset as before")
    ap.add_argument("--wordnet-dir", type=Path, default=WORDNET_DIR)
    ap.add_argument("--fortune-dir", type=Path, default=FORTUNE_DIR)
    ap.add_argument("--no-austen", action="store_true", help="leave Jane Austen's novels out")
    ap.add_argument("--no-reverse", action="store_true",
                    help="no noun definitions with the word last (\"The capital ... of France is Paris.\")")
    ap.add_argument("--exclude", type=Path, default=common.CLOZE if common.CLOZE.exists() else None,
                    help="a cloze .tsv: drop training lines that contain one of its filled-in sentences "
                         "(default: tests/data/cloze.tsv)")
    args = ap.parse_args(argv)
    for old in list((args.out / "train").glob("*.txt")) if (args.out / "train").is_dir() else []:
        old.unlink()  # a re-run with fewer shards must not leave stale ones
    for d in ("train", "heldout"):
        (args.out / d).mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    rows = []
    train_lines: list[str] = []
    # no sentence of the evaluation set may be trained on, however it got into the text
    contaminated = cloze_sentences(args.exclude) if args.exclude else []
    dropped = 0
    # --unit sentence: every WordNet sentence is a line of its own, and the shuffle scatters
    # a synset's sentences over the shards. In a paragraph the headword comes back in every
    # sentence, and a model trained on that learns to copy a word of the context into the
    # blank ("The sun rises in the [MASK]." -> sun); alone, a sentence must be filled from
    # what the model knows. The hold-out takes whole synsets by a hash of their forward
    # sentences, so --no-reverse holds out the same synsets.
    entries = wordnet_entries(args.wordnet_dir)
    paragraphs = ((" ".join(ss), ss + [r] if r and not args.no_reverse else ss) for ss, r in entries)
    wordnet = ((p, ss if args.unit == "sentence" else [" ".join(ss)]) for p, ss in paragraphs)
    fortunes = ((f, [f]) for f in fortune_paragraphs(args.fortune_dir))  # natural text: kept whole
    sources = [("wordnet", wordnet), ("fortunes", fortunes)]
    if not args.no_austen:
        # narrative and dialogue: the register of everyday statements that definitions lack
        sources.append(("austen", ((p, [p]) for p in austen_paragraphs(austen_lines()))))
    for name, units in sources:
        split = {"train": [], "heldout": []}
        for paragraph, lines in units:
            part = "heldout" if is_heldout(paragraph, args.heldout_percent) else "train"
            for line in lines:
                key = line.lower()
                if key in seen:
                    continue
                seen.add(key)
                if part == "train" and any(c in key for c in contaminated):
                    dropped += 1
                    continue
                split[part].append(line)
        train_lines += split["train"]
        (args.out / "heldout" / f"{name}.txt").write_text("\n".join(split["heldout"]) + "\n", encoding="utf-8")
        for part, lines in split.items():
            words = sum(len(line.split()) for line in lines)
            rows.append((name, part, len(lines), words))
            print(f"{name:9s} {part:8s} {len(lines):8d} lines {words:9d} words")
    if args.exclude:
        print(f"dropped {dropped} training lines that contain a sentence of {args.exclude.name}")
    random.Random(args.seed).shuffle(train_lines)
    for k in range(args.shards):
        shard = train_lines[k::args.shards]
        (args.out / "train" / f"shard-{k:02d}.txt").write_text("\n".join(shard) + "\n", encoding="utf-8")
    total = sum(r[3] for r in rows)
    print(f"total {sum(r[2] for r in rows)} lines, {total} words -> {args.out}")
    table = "\n".join(f"| {n} | {p} | {l} | {w} |" for n, p, l, w in rows)
    (args.out / "README.md").write_text(README.format(table=table, dropped=f"{dropped} (of {args.exclude.name})" if args.exclude
                                         else "none (no cloze set given)"), encoding="utf-8")


README = """# Training text of mlm-explorer's bundled default model

Made by `scripts/bundled/build_corpus.py` from Debian packages; re-make it any time.

- WordNet 3.0 (Debian `wordnet-base`, /usr/share/wordnet/data.*): synset definitions
  rendered as sentences (nouns also with the word last, unless built with --no-reverse),
  plus their quoted usage examples. Licence: WordNet 3.0 licence
  (permission to use, copy, modify and distribute for any purpose, keeping the notice):
  "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved."
- fortunes (Debian `fortunes`, /usr/share/games/fortunes/, the non-offensive set; ascii-art
  and translate-me skipped). Licence: BSD (fortune-mod, (c) 1991 The Regents of the
  University of California), see /usr/share/doc/fortunes/copyright.
- Jane Austen's six novels (Debian `r-cran-janeaustenr`, unless built with --no-austen):
  one paragraph per line. The novels are in the public domain (Project Gutenberg's texts);
  the R package is MIT, see /usr/share/doc/r-cran-janeaustenr/copyright.

One WordNet sentence (or, with --unit paragraph, one synset), fortune or paragraph per line,
deduplicated (case-insensitive). train/ holds the sources shuffled together into shards;
heldout/ is ~1% of synsets, fortunes and paragraphs, chosen by a hash of their text, never trained on.
Training lines that contain a filled-in sentence of the cloze set are dropped: {dropped}.

| source | split | lines | words |
|---|---|---|---|
{table}
"""

if __name__ == "__main__":
    main()
