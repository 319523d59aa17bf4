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
import re
import subprocess
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNE_DIR = Path("/usr/share/games/fortunes")
FORTUNE_SKIP = {"ascii-art", "translate-me"}  # pictures; not English
DEFAULT_OUT = Path.home() / ".cache" / "mlm-explorer" / "bundled-corpus"
CLOZE = Path(__file__).resolve().parents[2] / "tests" / "data" / "cloze.tsv"


def _sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop unless punctuated."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _or_list(words: list[str]) -> str:
    """["a"] -> "a"; ["a", "b", "c"] -> "a, b or c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _lemma(word: str) -> str:
    word = re.sub(r"\([a-z]+\)$", "", word)  # adjective markers: "(a)", "(p)", "(ip)"
    return word.replace("_", " ")


def wordnet_synsets(data_dir: Path = WORDNET_DIR, reverse: bool = False):
    """One list of sentences per synset: the definition, the other names, the usage examples,
    and (reverse=True, nouns) the definition with the word last."""
    for sentences, reversed_definition in wordnet_entries(data_dir):
        yield sentences + [reversed_definition] if reverse and reversed_definition else sentences


def wordnet_entries(data_dir: Path = WORDNET_DIR):
    """(the synset's sentences, its definition with the word last or None) per synset."""
    for pos in ("noun", "verb", "adj", "adv"):
        for line in (data_dir / f"data.{pos}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue  # licence header
            head, gloss = line.split(" | ", 1)
            fields = head.split()
            count = int(fields[3], 16)
            words = [_lemma(fields[4 + 2 * i]) for i in range(count)]
            examples = re.findall(r'"([^"]+)"', gloss)
            definition = re.sub(r'"[^"]*"', "", gloss)
            definition = re.sub(r"(\s*;\s*)+", "; ", definition).strip(" ;")
            if not definition:
                continue
            name = words[0]
            also = [w for w in words[1:4] if w.lower() != name.lower()]
            # Synonyms go in a sentence of their own: the earlier "X (also Y) is ..." taught
            # the head to predict ")" where everyday text has none.
            # Each sentence names its subject, so that it still reads alone (--unit sentence).
            if pos == "noun":
                # "A lapboard is a writing board ...": a common noun whose gloss is "a/an ..."
                # is countable, so it takes an article too (WordNet's headwords have none)
                subject = name
                if name[:1].islower() and re.match(r"an? ", definition):
                    subject = ("an " if name[0] in "aeiou" else "a ") + name
                first = f"{subject} is {definition}"
                alias = f"{subject} is also called {_or_list(also)}" if also else ""
            elif pos == "verb":
                first = f"to {name} is to {definition}"
                alias = f"another way to say to {name} is to {_or_list(also)}" if also else ""
            else:
                first = f"{name} means {definition}"
                alias = f"another word for {name} is {_or_list(also)}" if also else ""
            sentences = [_sentence(first), _sentence(alias)] + [_sentence(e) for e in examples]
            reversed_definition = None
            if pos == "noun":
                # the definition first, the word last ("The capital and largest city of France
                # is Paris."): the word must be recalled from its description, which is what
                # a cloze asks ("You can buy medicine at the [MASK]."); forwards, the masked
                # words are the description's, and the headword is in the context to copy
                reversed_definition = _sentence(f"{definition.split('; ')[0]} is {subject}")
            yield [s for s in sentences if s], reversed_definition


def fortune_paragraphs(fortune_dir: Path = FORTUNE_DIR):
    """One paragraph per fortune, whitespace collapsed; pictures and code skipped."""
    for path in sorted(fortune_dir.iterdir()):
        if path.suffix or path.name in FORTUNE_SKIP or not path.is_file():
            continue
        for entry in re.split(r"^%\s*$", path.read_text(encoding="latin-1"), flags=re.M):
            text = re.sub(r"\s+", " ", entry).strip()
            letters = sum(c.isalpha() or c.isspace() for c in text)
            if len(text) < 20 or letters < 0.85 * len(text):
                continue  # too short, or mostly symbols (art, code, tables)
            yield text


# The data set of r-cran-janeaustenr as text: one line of the novels per line, as printed.
AUSTEN_R = "library(janeaustenr); writeLines(austen_books()$text)"


def austen_lines() -> list[str]:
    """The six novels' lines, read through R (the package's data is an R data file)."""
    try:
        done = subprocess.run(["Rscript", "-e", AUSTEN_R], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise SystemExit("build_corpus: cannot read Jane Austen's novels "
                         f"({err}); apt-get install -y r-cran-janeaustenr, or pass --no-austen")
    return done.stdout.splitlines()


def austen_paragraphs(lines: list[str]):
    """One paragraph per blank-line-separated block; headings and title pages skipped."""
    block: list[str] = []
    for line in lines + [""]:
        if line.strip():
            block.append(line.strip())
            continue
        text = re.sub(r"\s+", " ", " ".join(block)).replace("_", "").strip()
        block = []
        # headings ("CHAPTER XII", "VOLUME I", "by Jane Austen", "(1811)") have no sentence end
        if len(text.split()) >= 4 and text[-1] in '.!?"\'':
            yield text


def cloze_sentences(path: Path) -> list[str]:
    """Every filled-in sentence of a cloze .tsv (sentence with [MASK], TAB, answers|...), lower case."""
    filled = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            sentence, answers = line.split("\t")[:2]
            filled += [sentence.replace("[MASK]", a).lower() for a in answers.split("|")]
    return filled


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
    ap.add_argument("--exclude", type=Path, default=CLOZE if CLOZE.exists() else None,
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
    # --unit sentence: every WordNet sentence is a line of its own, and the shuffle scatters
    # a synset's sentences over the shards. In a paragraph the headword comes back in every
    # sentence, and a model trained on that learns to copy a word of the context into the
    # blank ("The sun rises in the [MASK]." -> sun); alone, a sentence must be filled from
    # what the model knows. The hold-out still takes whole synsets (hash of the paragraph).
    # the hold-out hashes the synset's forward sentences, so --no-reverse holds out the same synsets
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
                split[part].append(line)
        train_lines += split["train"]
        (args.out / "heldout" / f"{name}.txt").write_text("\n".join(split["heldout"]) + "\n", encoding="utf-8")
        for part, lines in split.items():
            words = sum(len(line.split()) for line in lines)
            rows.append((name, part, len(lines), words))
            print(f"{name:9s} {part:8s} {len(lines):8d} lines {words:9d} words")
    contaminated = cloze_sentences(args.exclude) if args.exclude else []
    dropped = "none (no cloze set given)"
    if contaminated:
        # no sentence of the evaluation set may be trained on, however it got into the text
        before = len(train_lines)
        train_lines = [line for line in train_lines if not any(c in line.lower() for c in contaminated)]
        dropped = f"{before - len(train_lines)} (of {args.exclude.name})"
        print(f"dropped {before - len(train_lines)} training lines that contain a sentence of {args.exclude.name}")
    random.Random(args.seed).shuffle(train_lines)
    for k in range(args.shards):
        shard = train_lines[k::args.shards]
        (args.out / "train" / f"shard-{k:02d}.txt").write_text("\n".join(shard) + "\n", encoding="utf-8")
    total = sum(r[3] for r in rows)
    print(f"total {sum(r[2] for r in rows)} lines, {total} words -> {args.out}")
    table = "\n".join(f"| {n} | {p} | {l} | {w} |" for n, p, l, w in rows)
    (args.out / "README.md").write_text(README.format(table=table, dropped=dropped), encoding="utf-8")


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
