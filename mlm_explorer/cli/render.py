"""Rich rendering for the terminal: every command's human output (the `--json` forms bypass
this module), the probe history and before/after diff of fine-tuned runs. Training runs (the
`runs` list, the job's progress view): cli/render_runs.py."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlm_explorer.core.mask.decision import KEEP, MASK, NONE, RANDOM
from mlm_explorer.core.mask.preview import quoted

console = Console()

DECISION_STYLE = {MASK: "bold black on yellow", RANDOM: "bold white on magenta", KEEP: "bold black on cyan"}


def _bar(probability: float, width: int = 20) -> str:
    filled = round(probability * width)
    return "█" * filled + "·" * (width - filled)


def _model_line(lm) -> Text:
    line = Text(f"model {lm.name}", style="dim")
    spec = getattr(lm, "spec", None)  # core.load.hf.ModelSpec: what the model is
    kind = f"{spec.family}, {spec.tokenizer_style}; " if spec is not None else ""
    line.append(f" ({kind}{lm.source}, {lm.device})", style="dim")
    if lm.info.get("head_trained") is False:
        line.append("  MLM head untrained: predictions are noise", style="bold red")
    return line


def fill_result(lm, text: str, result) -> None:
    console.print(_model_line(lm))
    for number, pred in enumerate(result.predictions, 1):
        table = Table(title=f"mask {number} (position {pred.position})", title_justify="left",
                      show_edge=False, pad_edge=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("token")
        table.add_column("p", justify="right")
        table.add_column("")
        for rank, cand in enumerate(pred.candidates, 1):
            table.add_row(str(rank), cand.text, f"{cand.probability:.4f}", _bar(cand.probability))
        console.print(table)
        console.print(Text(f"entropy {pred.entropy:.3f} nats · mass outside top-{len(pred.candidates)} "
                           f"{pred.mass_outside:.4f}", style="dim"))
    decoded = Text("decode: ", style="bold")
    decoded.append(result.decoded)
    console.print(decoded)
    if result.mode == "joint":
        order = " → ".join(f"{s.text} ({s.probability:.3f})" for s in result.steps)
        console.print(Text(f"joint fill order: {order}; log p = {result.joint_logprob:.3f}", style="dim"))


def infill_result(lm, result) -> None:
    console.print(_model_line(lm))
    console.print(Text(f"input: {result.input_text}", style="dim"))
    for rank, cand in enumerate(result.candidates, 1):
        line = Text(f"{rank}. ", style="dim")
        line.append(cand.text)
        line.append(f"   (score {cand.score:.3f})", style="dim")
        console.print(line)
        for fill in cand.fills:
            console.print(Text(f"   blank {fill.index + 1}: {fill.text!r}  log p {fill.logprob:.3f}", style="dim"))
        if cand.rewritten:
            console.print(Text("   the model also rewrote the text around the blanks; the fills are the spans "
                               "that line up with them", style="dim"))


INFILL_KINDS = {"sentinels": "T5: spans", "mask": "BART: rewrites the text"}
FAMILY_LABELS = {"encoder": "MLM", "t5": INFILL_KINDS["sentinels"], "bart": INFILL_KINDS["mask"]}   # compare's columns


def mask_preview(tt, preview) -> None:
    line = Text()
    for tok in tt.tokens:
        decision = preview.decisions[tok.index]
        if tok.index and not tok.continues_word:
            line.append(" ")
        if decision == NONE:
            line.append(tok.text, style="dim" if tok.special else "")
        elif decision == RANDOM:
            line.append(f"{tok.text}→{quoted(preview.replaced[tok.index])}", style=DECISION_STYLE[RANDOM])
        elif decision == MASK:
            line.append(f"[MASK:{tok.text}]", style=DECISION_STYLE[MASK])
        else:  # kept: picked and predicted, but left as it was (marked, so a pipe shows it too)
            line.append(f"[kept:{tok.text}]", style=DECISION_STYLE[KEEP])
    console.print(line)
    counts = preview.counts()
    legend = Text(f"seed {preview.seed}, rate {preview.rate}: picked {sum(counts.values())} — ")
    legend.append(f"{counts[MASK.label]} → [MASK]", style=DECISION_STYLE[MASK])
    legend.append("  ")
    legend.append(f"{counts[RANDOM.label]} → random token", style=DECISION_STYLE[RANDOM])
    legend.append("  ")
    kept = [tok.text for tok in tt.tokens if preview.decisions[tok.index] == KEEP]
    legend.append(f"{counts[KEEP.label]} kept" + (f" ({', '.join(kept)})" if kept else ""), style=DECISION_STYLE[KEEP])
    console.print(legend)


def models(entries) -> None:
    table = Table(show_edge=False)
    for col in ("name", "kind", "source", "path"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.name, e.kind, e.source, str(e.path))
    console.print(table)


def blank_scores(report) -> None:
    """`predict --candidates`: the given words at one blank, then the best fills of 1-3 subwords."""
    table = Table(title=f"candidates for blank {report.mask} (position {report.position})", title_justify="left",
                  show_edge=False, pad_edge=False)
    for col, justify in (("word", "left"), ("pieces", "left"), ("p", "right"), ("log p", "right"),
                         ("per piece", "right"), ("rank", "right"), ("scored", "left")):
        table.add_column(col, justify=justify)
    for c in report.candidates:
        table.add_row(c.word, " ".join(c.pieces), f"{c.probability:.2e}", f"{c.logprob:.3f}",
                      f"{c.normalized_logprob:.3f}", "—" if c.rank is None else str(c.rank), c.method)
    if report.candidates:
        console.print(table)
        for c in report.candidates:
            if len(c.steps) > 1:
                order = " → ".join(f"{s.token} {s.logprob:.2f}" for s in c.steps)
                console.print(Text(f"  {c.word}, filled most confident first: {order}", style="dim"))
        if any(c.rank is None for c in report.candidates):
            console.print(Text("rank —: not defined for several subwords; compare log p per piece with the fills below",
                               style="dim"))
    if report.fills:
        fills = Table(title="best fills of 1-3 subwords, by log p per piece", title_justify="left",
                      show_edge=False, pad_edge=False)
        for col, justify in (("#", "right"), ("fill", "left"), ("pieces", "left"), ("n", "right"),
                             ("log p", "right"), ("per piece", "right")):
            fills.add_column(col, justify=justify)
        for rank, f in enumerate(report.fills, 1):
            fills.add_row(str(rank), f.text, " ".join(f.pieces), str(f.n_pieces), f"{f.logprob:.3f}",
                          f"{f.normalized_logprob:.3f}")
        console.print(fills)


SURPRISAL_STYLES = ("black on green", "black on yellow", "black on dark_orange", "white on red")  # < 2, 4, 8, more nats


def _surprisal_style(nats: float) -> str:
    return SURPRISAL_STYLES[0 if nats < 2 else 1 if nats < 4 else 2 if nats < 8 else 3]


def sentence_score(lm, result) -> None:
    """`score`: the tokens coloured by surprisal, a per-token table, then PLL and pseudo-perplexity."""
    console.print(_model_line(lm))
    strip = Text()
    for t in result.tokens:
        strip.append(" ")
        strip.append(t.text, style=_surprisal_style(t.surprisal))
    console.print(strip)
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (("pos", "right"), ("token", "left"), ("surprisal", "right"), ("bits", "right"),
                         ("p", "right"), ("rank", "right"), ("model's choice", "left"), ("", "left")):
        table.add_column(col, justify=justify)
    top = max([t.surprisal for t in result.tokens] + [1e-9])
    for t in result.tokens:
        table.add_row(str(t.position), t.text, f"{t.surprisal:.3f}", f"{t.surprisal_bits:.2f}",
                      f"{t.probability:.4f}", str(t.rank), t.top_text,
                      Text(_bar(t.surprisal / top, 16), style=_surprisal_style(t.surprisal).split(" on ")[-1]))
    console.print(table)
    from mlm_explorer.core.infer.score import PLL_NAMES

    console.print(Text(PLL_NAMES.get(result.pll_variant, result.pll_variant), style="dim"))
    console.print(Text(f"PLL {result.pll:.3f} nats over {result.n_tokens} tokens · pseudo-perplexity "
                       f"{result.pseudo_perplexity:.2f} · mean surprisal {result.mean_surprisal:.3f} nats · "
                       f"{result.forward_passes} forward pass(es) of up to {result.batch_size} masked copies",
                       style="bold"))
    if result.truncated:
        console.print(Text("(text truncated to the model's limit)", style="dim"))


def _token_label(tok, lm) -> str:
    """A subword that continues a word: `##` for WordPiece (the model's own mark), `·` for the others."""
    if not tok.continues_word or tok.special:
        return tok.text
    spec = getattr(lm, "spec", None)
    return ("##" if spec is None or spec.tokenizer_style == "wordpiece" else "·") + tok.text


def attention_row(lm, result) -> None:
    """`attention`: one row per token, the selected token's attention to it as a number and a bar."""
    row = result.row
    console.print(_model_line(lm))
    query = result.tokens[row.token_index]
    console.print(Text(f"attention from token {row.token_index} {query.text!r} · {row.label}", style="bold"))
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (("#", "right"), ("token", "left"), ("weight", "right"), ("", "left")):
        table.add_column(col, justify=justify)
    top = max(row.weights + [1e-9])
    for tok, weight in zip(result.tokens, row.weights):
        style = "bold" if tok.index == row.token_index else ("dim" if tok.special else "")
        table.add_row(str(tok.index), Text(_token_label(tok, lm), style=style), f"{weight:.4f}",
                      Text(_bar(weight / top, 20), style="cyan"))
    console.print(table)
    console.print(Text(f"{row.num_layers} layers x {row.num_heads} heads · --layer L --head H: one map "
                       "(0-based, -1 = last)", style="dim"))
    if row.note:
        console.print(Text(row.note, style="dim"))


def saliency_result(lm, result) -> None:
    """`saliency`: per token, integrated gradients and gradient x input, with a signed bar."""
    s = result.saliency
    console.print(_model_line(lm))
    console.print(Text(f"explaining {s.target_text!r} at position {s.position} (p={s.target_probability:.4f}, "
                       f"rank {s.target_rank}) · f = {s.score} of the target", style="bold"))
    table = Table(show_edge=False, pad_edge=False)
    columns = [("#", "right"), ("token", "left")]
    if s.integrated_gradients is not None:
        columns.append(("IG", "right"))
    if s.grad_x_input is not None:
        columns += [("grad x input", "right"), ("|grad|", "right")]
    columns.append(("", "left"))
    for col, justify in columns:
        table.add_column(col, justify=justify)
    shown = s.integrated_gradients if s.integrated_gradients is not None else s.grad_x_input
    top = max([abs(v) for v in shown] + [1e-12])
    for i, tok in enumerate(result.tokens):
        cells = [str(tok.index), Text(_token_label(tok, lm), style="bold" if i == s.position else ("dim" if tok.special else ""))]
        if s.integrated_gradients is not None:
            cells.append(f"{s.integrated_gradients[i]:+.4f}")
        if s.grad_x_input is not None:
            cells += [f"{s.grad_x_input[i]:+.4f}", f"{s.gradient_norm[i]:.4f}"]
        value = shown[i]
        cells.append(Text(_bar(abs(value) / top, 16), style="green" if value >= 0 else "red"))
        table.add_row(*cells)
    console.print(table)
    if s.integrated_gradients is not None:
        console.print(Text(f"IG ({s.steps} steps, baseline: {s.baseline}): sum {s.ig_total:+.4f} vs "
                           f"f(input) - f(baseline) = {s.score_input:.4f} - {s.score_baseline:.4f} = "
                           f"{s.score_input - s.score_baseline:+.4f} (completeness gap {s.completeness_gap:.2%})",
                           style="dim"))
    console.print(Text("green: pushes the prediction up, red: down; bars relative to the largest", style="dim"))


# -- runs --probes RUN, diff: what a fine-tune changed -----------------------------------------
MAX_STEP_COLUMNS = 8  # probe history: evaluations shown as columns (evenly spread; --json has all)


def pick_steps(n: int, most: int = MAX_STEP_COLUMNS) -> list[int]:
    """Indices of at most `most` of n entries, evenly spread, the first and the last included."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def probe_history(payload: dict) -> None:
    """One row per probe, one column per evaluation (rank and probability), then the top-3 at the last."""
    history = payload["probe_history"]
    fit = max(2, min(MAX_STEP_COLUMNS, (console.width - 40) // 12))  # room for the probe text
    shown = [history[i] for i in pick_steps(len(history), fit)]
    console.print(Text(f"run {payload['run']} · base model {payload.get('model')} · {payload.get('status')} · "
                       f"{len(history)} probe evaluations", style="dim"))
    probes: dict[tuple[str, str], dict[int, dict]] = {}  # (text, answer) -> {step: result}
    for entry in history:
        for r in entry["results"]:
            probes.setdefault((r["text"], r["answer"]), {})[entry["step"]] = r
    last = history[-1]
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("probe", ratio=1)
    table.add_column("answer", no_wrap=True)
    for entry in shown:
        table.add_column(f"step {entry['step']}", justify="right", no_wrap=True)
    tops = Table(show_edge=False, pad_edge=False)
    tops.add_column("probe", ratio=1)
    tops.add_column("answer", no_wrap=True)
    tops.add_column(f"top-3 at step {last['step']}")
    for (text, answer), by_step in probes.items():
        cells = []
        for entry in shown:
            r = by_step.get(entry["step"])
            cells.append(Text("") if r is None else
                         Text(f"#{r['rank']} {r['probability']:.3f}", style="bold green" if r["rank"] == 1 else ""))
        final = by_step.get(last["step"])
        table.add_row(text, answer, *cells)
        tops.add_row(text, answer, " · ".join(f"{t} {p:.3f}" for t, p in final["top3"]) if final else "")
    console.print(table)
    if len(shown) < len(history):
        console.print(Text(f"{len(shown)} of {len(history)} evaluations shown; --json for all", style="dim"))
    console.print(Text("#rank (1 = the model's first choice) and the answer's probability", style="dim"))
    console.print(tops)


DIFF_ORDER = {"delta": "largest change first", "tuned": "by tuned probability", "base": "by base probability"}


def diff(result) -> None:
    """`diff`: per blank, both models' probability of each candidate, the change, the ranks."""
    console.print(Text(f"base {result.base}  →  tuned {result.tuned}", style="dim"))
    for n, m in enumerate(result.masks, 1):
        title = (f"mask {n} (position {m.position}): base {m.base_top1.text!r} {m.base_top1.p_base:.3f} → "
                 f"tuned {m.tuned_top1.text!r} {m.tuned_top1.p_tuned:.3f} · KL(tuned‖base) {m.kl:.3f} nats")
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        for col, justify in (("token", "left"), ("p base", "right"), ("p tuned", "right"), ("Δ p", "right"),
                             ("log ratio", "right"), ("rank base → tuned", "right")):
            table.add_column(col, justify=justify)
        for c in m.candidates:
            style = "green" if c.delta > 0 else "red" if c.delta < 0 else ""
            table.add_row(c.text, f"{c.p_base:.4f}", f"{c.p_tuned:.4f}", Text(f"{c.delta:+.4f}", style=style),
                          f"{c.log_ratio:+.2f}", f"{c.rank_base} → {c.rank_tuned}")
        console.print(table)
        console.print(Text(f"union of both top-{result.top_k}, {DIFF_ORDER.get(result.sort, result.sort)}; "
                           f"mass outside: base {m.mass_outside_base:.4f}, tuned {m.mass_outside_tuned:.4f}",
                           style="dim"))
