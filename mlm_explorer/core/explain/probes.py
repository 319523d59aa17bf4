"""Probes: pinned masked sentences whose answers are watched while a model is fine-tuned.

A probe is a sentence with exactly one blank (`[MASK]`, `___`, or the model's own mask
token) and the word expected there. `evaluate_probes` runs a masked LM on every probe (in
batches, the MLM head only at the blank) and reports the answer's rank and probability and
the model's top candidates. The training job does this at step 0, at every evaluation and
at the end (`--probes FILE`, `--probe "TEXT|ANSWER"`), emits a `probes` event and keeps the
history in run.json (`probe_history`); `mlm-explorer runs --probes RUN` prints it.

Probe file format (UTF-8), one probe per line:

    The capital of France is [MASK].<TAB>paris
    The cute dog walks in the green ___ . | park
    # a comment; blank lines are skipped

The answer follows the last tab of the line or, with no tab, its last `|`. A bad line is an
`InputError` naming the file and the line number: no blank, two blanks, no answer, an answer
with a space. With the model's tokenizer (`prepare_probes`): an answer that is not ONE token
of the vocabulary is rejected, not scored by its first piece (the first piece's probability
says little about the word: "un" for "unbelievable"); the message lists the pieces so
another word can be picked. An answer that becomes the unknown token is rejected too.
Whether the answer is one token is decided in context: the answer is written into the
blank and the sentence tokenized again, so casing (uncased BERT), and the word-initial
space of byte-level BPE (RoBERTa's "Ġparis") come out as the model sees them.

    from mlm_explorer.core.explain.probes import parse_probe_file, evaluate_probes
    results = evaluate_probes(lm, parse_probe_file("probes.txt"))   # lm: core.models.LoadedModel
    results = evaluate_probes(model, probes, tokenizer=tokenizer)  # a bare transformers model
    [r.to_dict() for r in results]
        # [{"text": ..., "answer": "paris", "rank": 1, "probability": 0.41,
        #   "top3": [["paris", 0.41], ["lyon", 0.12], ["france", 0.05]]}, ...]

No torch at import time, no textual, no rich.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from mlm_explorer.core.infer.forward import masked_logits, require_encoder
from mlm_explorer.core.mask.text import TokenStrings, tokenize
from mlm_explorer.errors import InputError, ModelError

# what counts as a blank before any tokenizer is known (core.text's aliases + RoBERTa's own)
_BLANK_RE = re.compile(r"\[mask\]|_{3,}|<mask>", re.IGNORECASE)
BATCH_SIZE = 32


# ---------------------------------------------------------------------------------------------
# Probes and their results


@dataclass(frozen=True)
class Probe:
    text: str        # a sentence with exactly one blank ([MASK], ___ or the model's own mask token)
    answer: str      # the word expected at the blank: one token of the model's vocabulary
    source: str = ""  # where it came from, for messages: "probes.txt line 3", "--probe 2"

    def to_dict(self) -> dict:
        return {"text": self.text, "answer": self.answer}


@dataclass(frozen=True)
class PreparedProbe:
    """A probe checked against one tokenizer, ready to run (see `prepare_probes`)."""

    probe: Probe
    input_ids: tuple[int, ...]  # the encoded sentence, special tokens included
    position: int               # index of the blank in input_ids
    answer_id: int
    answer_token: str           # the vocabulary piece ("paris", "Ġparis")


@dataclass
class ProbeResult:
    text: str
    answer: str
    rank: int                       # 1 = the model's first choice
    probability: float              # of the answer at the blank (softmax over the vocabulary)
    top3: list[tuple[str, float]]   # the model's top candidates (text as read, probability), best
                                    # first; `top_k` of them (3 unless asked otherwise)

    def to_dict(self) -> dict:
        """{"text", "answer", "rank", "probability", "top3": [[text, p], ...]} (run.json, events)."""
        return {"text": self.text, "answer": self.answer, "rank": self.rank, "probability": self.probability,
                "top3": [[t, p] for t, p in self.top3]}


# ---------------------------------------------------------------------------------------------
# Parsing (no tokenizer needed)


def parse_probe_line(line: str, source: str = "probe") -> Probe:
    """One probe from `TEXT<TAB>ANSWER` or `TEXT | ANSWER`; InputError (prefixed by `source`)."""
    line = line.strip()
    if "\t" in line:
        text, _, answer = line.rpartition("\t")
    elif "|" in line:
        text, _, answer = line.rpartition("|")
    else:
        raise InputError(f"{source}: no answer: write the sentence, a tab (or ' | '), then the expected word")
    text, answer = text.strip(), answer.strip()
    blanks = len(_BLANK_RE.findall(text))
    if blanks == 0:
        raise InputError(f"{source}: no blank in {_short(text)!r}: put [MASK] or ___ where the answer goes")
    if blanks > 1:
        raise InputError(f"{source}: {blanks} blanks in {_short(text)!r}: a probe has exactly one [MASK] or ___")
    if not answer:
        raise InputError(f"{source}: no answer after the separator: write the expected word")
    if _BLANK_RE.search(answer):
        raise InputError(f"{source}: the answer {answer!r} is a blank; write the expected word")
    if any(c.isspace() for c in answer):
        raise InputError(f"{source}: the answer {answer!r} has a space; a probe's answer is one word (one token)")
    return Probe(text, answer, source)


def parse_probe_file(path: str | Path) -> list[Probe]:
    """Every probe of a probe file (format: module docstring); InputError with the line number."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"--probes {path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"--probes {path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"--probes {path}: cannot read it ({exc.strerror or exc})") from None
    probes = [parse_probe_line(line, f"{path.name} line {n}")
              for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]
    if not probes:
        raise InputError(f"--probes {path}: no probes in it; write one 'sentence with [MASK]<TAB>answer' per line")
    return probes


def probes_from_options(file: str | Path | None = None, probes: Iterable[str] | None = None) -> list[Probe]:
    """The probes of `--probes FILE` then each `--probe "TEXT|ANSWER"`, in that order."""
    out = parse_probe_file(file) if file else []
    out += [parse_probe_line(spec, f"--probe {n}") for n, spec in enumerate(probes or [], 1)]
    return out


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Checking against a tokenizer


def prepare_probes(tokenizer, probes: Sequence[Probe], *, max_length: int | None = None) -> list[PreparedProbe]:
    """Tokenize each probe and find its answer's one token id; InputError for a probe that cannot be scored."""
    if tokenizer.mask_token is None or tokenizer.mask_token_id is None:
        raise ModelError("probes need an encoder masked-LM (a tokenizer with a mask token); T5 has none")
    out = []
    for probe in probes:
        where = probe.source or "probe"
        try:
            tt = tokenize(tokenizer, probe.text, max_length=max_length)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        masks = [t.index for t in tt.tokens if t.typed_mask]
        if len(masks) != 1:
            raise InputError(f"{where}: {len(masks)} blanks for this model in {_short(probe.text)!r}; a probe has exactly one")
        position, ids = masks[0], tt.input_ids
        at = tt.text.find(tokenizer.mask_token)
        filled_text = tt.text[:at] + probe.answer + tt.text[at + len(tokenizer.mask_token):]
        filled = tokenizer(filled_text, verbose=False)["input_ids"]
        extra = len(filled) - len(ids)
        if extra != 0 or filled[:position] != ids[:position] or filled[position + 1:] != ids[position + 1:]:
            if extra > 0 and filled[:position] == ids[:position]:
                pieces = tokenizer.convert_ids_to_tokens(filled[position:position + extra + 1])
                raise InputError(f"{where}: the answer {probe.answer!r} is {extra + 1} tokens for this model "
                                 f"({' '.join(pieces)}); a probe's answer must be one token of the vocabulary: "
                                 "pick another word")
            raise InputError(f"{where}: the answer {probe.answer!r} merges with the text around the blank; "
                             "put spaces around the blank")
        answer_id = int(filled[position])
        if answer_id == tokenizer.unk_token_id:
            raise InputError(f"{where}: the answer {probe.answer!r} is not in the model's vocabulary "
                             f"(it becomes {tokenizer.unk_token}); pick another word")
        piece = tokenizer.convert_ids_to_tokens(answer_id)
        out.append(PreparedProbe(probe, tuple(ids), position, answer_id, str(piece)))
    return out


# ---------------------------------------------------------------------------------------------
# Running them


def _blank_logits(model, batch: Sequence[PreparedProbe], pad_id: int):
    """Float32 logits (B, V) at each probe's blank; one padded forward for the batch."""
    import torch

    device = next(model.parameters()).device
    width = max(len(p.input_ids) for p in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)       # (B, L)
    attention = torch.zeros_like(ids)                                      # (B, L): 0 on padding
    for row, p in enumerate(batch):
        ids[row, : len(p.input_ids)] = torch.tensor(p.input_ids)
        attention[row, : len(p.input_ids)] = 1
    ids, attention = ids.to(device), attention.to(device)
    rows = torch.arange(len(batch), device=device)                         # (B,)
    where = torch.tensor([p.position for p in batch], device=device)       # (B,)
    with torch.no_grad():
        logits = masked_logits(model, (rows, where), input_ids=ids, attention_mask=attention)   # (B, V)
    return logits.float().cpu()


def evaluate_probes(
    model: Any,
    probes: Sequence[Probe | PreparedProbe],
    *,
    tokenizer: Any = None,
    top_k: int = 3,
    batch_size: int = BATCH_SIZE,
) -> list[ProbeResult]:
    """Each probe's answer rank and probability, and the model's top-`top_k`, in the probes' order.

    model: a `core.models.LoadedModel`, or a transformers masked-LM (BertForPreTraining too)
        with `tokenizer` given. Its train/eval mode is restored afterwards: the probes run in
        eval mode (no dropout), under no_grad, so a training loop can call this between steps.
    probes: `Probe`s (tokenized here) or `PreparedProbe`s (from `prepare_probes`, to tokenize once).
    The distribution is the one `core.fill.fill_masks` gives at temperature 1 (same probabilities
    up to float rounding of the padded batch; rank: 1 + the number of tokens more probable).
    """
    import torch

    max_length = None
    if tokenizer is None:
        require_encoder(model, "probes")
        max_length, tokenizer, model = model.max_length, model.tokenizer, model.model
    if not probes:
        return []
    raw = [p for p in probes if isinstance(p, Probe)]
    ready = iter(prepare_probes(tokenizer, raw, max_length=max_length)) if raw else iter(())
    prepared = [p if isinstance(p, PreparedProbe) else next(ready) for p in probes]
    vocab = TokenStrings(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    try:
        results = []
        for start in range(0, len(prepared), max(1, batch_size)):
            batch = prepared[start:start + batch_size]
            probs = torch.softmax(_blank_logits(model, batch, pad_id), dim=-1)   # (B, V)
            top_p, top_ids = probs.topk(min(top_k, probs.shape[-1]), dim=-1)     # (B, k)
            for row, p in enumerate(batch):
                p_answer = probs[row, p.answer_id]
                top = [(vocab.strings(i)[1], float(v)) for v, i in zip(top_p[row].tolist(), top_ids[row].tolist())]
                results.append(ProbeResult(p.probe.text, p.probe.answer, int((probs[row] > p_answer).sum()) + 1,
                                           float(p_answer), top))
        return results
    finally:
        model.train(was_training)
