"""Rich rendering of core results for the terminal (the `--json` forms bypass this module)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()

DECISION_STYLE = {"mask": "bold black on yellow", "random": "bold white on magenta", "keep": "bold black on cyan"}


def _bar(probability: float, width: int = 20) -> str:
    filled = round(probability * width)
    return "█" * filled + "·" * (width - filled)


def _model_line(lm) -> Text:
    line = Text(f"model {lm.name}", style="dim")
    line.append(f" ({lm.source}, {lm.device})", style="dim")
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


def compare(bert, filled, t5, infilled) -> None:
    table = Table(show_lines=True)
    table.add_column("blank", justify="right", style="dim")
    table.add_column(f"{bert.name} (MLM)")
    table.add_column(f"{t5.name} (T5)")
    best = infilled.candidates[0] if infilled.candidates else None
    n = max(len(filled.predictions), len(best.fills) if best else 0)
    for i in range(n):
        left = ""
        if i < len(filled.predictions) and filled.predictions[i].candidates:
            top = filled.predictions[i].candidates[0]
            left = f"{top.text}  p={top.probability:.3f}"
        right = ""
        if best and i < len(best.fills):
            fill = best.fills[i]
            right = f"{fill.text}  p={pow(2.718281828, fill.logprob):.3f}"
        table.add_row(str(i + 1), left, right)
    table.add_row("text", filled.decoded, best.text if best else "")
    console.print(table)


def mask_preview(tt, preview) -> None:
    line = Text()
    for tok in tt.tokens:
        decision = preview.to_dict()["decisions"][tok.index]
        if tok.index and not tok.continues_word:
            line.append(" ")
        if decision == "none":
            line.append(tok.text, style="dim" if tok.special else "")
        elif decision == "random":
            line.append(f"{tok.text}→{preview.replaced[tok.index]}", style=DECISION_STYLE["random"])
        elif decision == "mask":
            line.append(f"[MASK:{tok.text}]", style=DECISION_STYLE["mask"])
        else:
            line.append(tok.text, style=DECISION_STYLE["keep"])
    console.print(line)
    counts = preview.counts()
    legend = Text(f"seed {preview.seed}, rate {preview.rate}: picked {sum(counts.values())} — ")
    legend.append(f"{counts['mask']} → [MASK]", style=DECISION_STYLE["mask"])
    legend.append("  ")
    legend.append(f"{counts['random']} → random token", style=DECISION_STYLE["random"])
    legend.append("  ")
    legend.append(f"{counts['keep']} kept", style=DECISION_STYLE["keep"])
    console.print(legend)


def models(entries) -> None:
    table = Table(show_edge=False)
    for col in ("name", "kind", "source", "path"):
        table.add_column(col)
    for e in entries:
        table.add_row(e.name, e.kind, e.source, str(e.path))
    console.print(table)


def runs(entries) -> None:
    table = Table(show_edge=False)
    for col in ("run", "status", "model", "objective", "step", "best eval loss", "path"):
        table.add_column(col)
    for r in entries:
        d = r.to_dict()
        best = d.get("best_eval_loss")
        table.add_row(str(d.get("name", "")), str(d.get("status", "")), str(d.get("model", "")),
                      str(d.get("objective", "")), str(d.get("step", "")),
                      "" if best is None else f"{best:.4f}", str(d.get("path", "")))
    console.print(table)
