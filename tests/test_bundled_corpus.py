"""The bundled model's training text (scripts/bundled/build_corpus.py) on a small WordNet of
our own: sentences that read alone, articles on countable nouns, hold-out by synset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bundled"))
import build_corpus  # noqa: E402
import sources as corpus_sources  # noqa: E402

# data.POS lines as WordNet writes them: offset lex_filenum ss_type w_cnt (hex) word lex_id ... | gloss
DATA = {
    "noun": [
        "  1 This software and database is being provided ... (licence header)",
        '00000001 06 n 02 lapboard 0 lap_board 0 000 | a writing board used on the lap as a table or desk; '
        '"she wrote on her lapboard"',
        '00000002 15 n 02 Paris 0 City_of_Light 0 000 | the capital and largest city of France; '
        '"Paris is famous for its food"',
        "00000003 27 n 01 water 0 000 | binary compound that occurs at room temperature as a liquid",
        "00000004 06 n 01 apple 0 000 | a fruit with red or yellow or green skin",
    ],
    "verb": ['00000005 30 v 02 bake 0 broil 0 000 | cook and make edible by putting in a hot oven; "bake the bread"'],
    "adj": ["00000006 00 a 02 cold(a) 0 chilly 0 000 | having a low temperature"],
    "adv": [],
}


@pytest.fixture
def sources(tmp_path):
    wordnet = tmp_path / "wordnet"
    wordnet.mkdir()
    for pos, lines in DATA.items():
        (wordnet / f"data.{pos}").write_text("\n".join(lines) + "\n", encoding="latin-1")
    fortunes = tmp_path / "fortunes"
    fortunes.mkdir()
    (fortunes / "wisdom").write_text("A stitch in time saves nine, as my mother always said.\n%\n"
                                     "!!!! ### $$$$ %%%% &&&& **** ++++\n%\n", encoding="latin-1")
    return wordnet, fortunes


def test_every_sentence_names_its_subject(sources):
    wordnet, _ = sources
    synsets = list(corpus_sources.wordnet_synsets(wordnet))
    assert synsets[0] == ["A lapboard is a writing board used on the lap as a table or desk.",
                          "A lapboard is also called lap board.", "She wrote on her lapboard."]
    assert synsets[1][:2] == ["Paris is the capital and largest city of France.", "Paris is also called City of Light."]
    assert synsets[2] == ["Water is binary compound that occurs at room temperature as a liquid."]  # no "a": mass noun
    assert synsets[3][0] == "An apple is a fruit with red or yellow or green skin."
    assert synsets[4][:2] == ["To bake is to cook and make edible by putting in a hot oven.",
                              "Another way to say to bake is to broil."]
    assert synsets[5] == ["Cold means having a low temperature.", "Another word for cold is chilly."]


@pytest.mark.parametrize("unit", ["sentence", "paragraph"])
def test_lines_and_the_hold_out(sources, tmp_path, monkeypatch, unit):
    wordnet, fortunes = sources
    paragraphs = [" ".join(ss) for ss in corpus_sources.wordnet_synsets(wordnet)]
    held = {paragraphs[1]}  # Paris goes to heldout/, all its sentences with it
    monkeypatch.setattr(build_corpus, "is_heldout", lambda text, percent: text in held)
    out = tmp_path / "out"
    build_corpus.main(["--out", str(out), "--unit", unit, "--shards", "2", "--no-austen",
                       "--wordnet-dir", str(wordnet), "--fortune-dir", str(fortunes)])
    train = [line for p in sorted((out / "train").glob("*.txt")) for line in p.read_text().splitlines() if line]
    heldout = (out / "heldout" / "wordnet.txt").read_text().splitlines()
    assert not any("Paris" in line for line in train)
    assert "A stitch in time saves nine, as my mother always said." in train  # fortunes stay whole
    assert not any("$$$$" in line for line in train)  # mostly symbols: skipped
    if unit == "sentence":
        assert "Paris is famous for its food." in heldout and len(heldout) == 3 + 1  # + reversed
        assert "The capital and largest city of France is Paris." in heldout
        assert "A lapboard is also called lap board." in train and "She wrote on her lapboard." in train
        # lapboard, water, apple (+1 reversed each), bake, cold; one fortune
        assert len(train) == 4 + 2 + 2 + 3 + 2 + 1
    else:
        with_reversed = [" ".join(ss) for ss in corpus_sources.wordnet_synsets(wordnet, reverse=True)]
        assert heldout == [with_reversed[1]]
        assert with_reversed[0] in train and len(train) == 5 + 1


def test_reversed_definitions_put_the_word_last(sources):
    wordnet, _ = sources
    last = [ss[-1] for ss in corpus_sources.wordnet_synsets(wordnet, reverse=True)]
    assert last[:4] == ["A writing board used on the lap as a table or desk is a lapboard.",
                        "The capital and largest city of France is Paris.",  # first clause only
                        "Binary compound that occurs at room temperature as a liquid is water.",
                        "A fruit with red or yellow or green skin is an apple."]
    assert last[4:] == ["Bake the bread.", "Another word for cold is chilly."]  # nouns only


def test_no_reverse_holds_out_the_same_synsets(sources, tmp_path, monkeypatch):
    """The hold-out hashes the forward sentences: the reversed one goes wherever its synset goes."""
    wordnet, fortunes = sources
    monkeypatch.setattr(build_corpus, "is_heldout", lambda text, percent: text.startswith("Paris is"))
    held = {}
    for flag in ([], ["--no-reverse"]):
        out = tmp_path / f"out{len(flag)}"
        build_corpus.main(["--out", str(out), "--shards", "1", "--no-austen",
                           "--wordnet-dir", str(wordnet), "--fortune-dir", str(fortunes), *flag])
        held[bool(flag)] = set((out / "heldout" / "wordnet.txt").read_text().splitlines())
    assert held[False] - held[True] == {"The capital and largest city of France is Paris."}
    assert held[True] <= held[False] and len(held[True]) == 3


def test_cloze_sentences_are_never_trained_on(sources, tmp_path):
    wordnet, fortunes = sources
    cloze = tmp_path / "cloze.tsv"
    cloze.write_text("# header\nA stitch in time saves [MASK], as my mother always said.\tnine|ten\n", encoding="utf-8")
    assert build_corpus.cloze_sentences(cloze) == ["a stitch in time saves nine, as my mother always said.",
                                                  "a stitch in time saves ten, as my mother always said."]
    out = tmp_path / "out"
    build_corpus.main(["--out", str(out), "--shards", "1", "--no-austen", "--exclude", str(cloze),
                       "--wordnet-dir", str(wordnet), "--fortune-dir", str(fortunes)])
    assert "stitch in time" not in (out / "train" / "shard-00.txt").read_text()


NOVEL = """SENSE AND SENSIBILITY

by Jane Austen

(1811)


CHAPTER 1


The family of Dashwood had long been settled in Sussex.  Their estate
was large, and their residence was at _Norland_ Park.

"Then you would be very ill-bred," cried Mr. Palmer.
""".splitlines()


def test_austen_paragraphs_drop_headings_and_italics():
    assert list(corpus_sources.austen_paragraphs(NOVEL)) == [
        "The family of Dashwood had long been settled in Sussex. Their estate was large, "
        "and their residence was at Norland Park.",
        '"Then you would be very ill-bred," cried Mr. Palmer.']


def test_austen_goes_into_the_shards_and_its_hold_out(sources, tmp_path, monkeypatch):
    wordnet, fortunes = sources
    monkeypatch.setattr(build_corpus, "austen_lines", lambda: NOVEL)  # as build_corpus imported it
    monkeypatch.setattr(build_corpus, "is_heldout", lambda text, percent: "Palmer" in text)
    out = tmp_path / "out"
    build_corpus.main(["--out", str(out), "--shards", "2",
                       "--wordnet-dir", str(wordnet), "--fortune-dir", str(fortunes)])
    train = [line for p in sorted((out / "train").glob("*.txt")) for line in p.read_text().splitlines()]
    assert any(line.startswith("The family of Dashwood") for line in train)
    assert (out / "heldout" / "austen.txt").read_text().splitlines() == [NOVEL[-1]]
    assert "r-cran-janeaustenr" in (out / "README.md").read_text()


def test_austen_without_r_says_what_to_do(monkeypatch):
    def no_r(*args, **kwargs):
        raise FileNotFoundError("No such file or directory: 'Rscript'")
    monkeypatch.setattr(corpus_sources.subprocess, "run", no_r)
    with pytest.raises(SystemExit, match="apt-get install -y r-cran-janeaustenr, or pass --no-austen"):
        corpus_sources.austen_lines()
