"""The texts of the bundled model's corpus (issue 6), each read from its Debian package:
WordNet's synsets as sentences, the fortunes, Jane Austen's novels. build_corpus.py mixes,
splits and writes them; its docstring says what each source gives and under which licence."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNE_DIR = Path("/usr/share/games/fortunes")
FORTUNE_SKIP = {"ascii-art", "translate-me"}  # pictures; not English


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
