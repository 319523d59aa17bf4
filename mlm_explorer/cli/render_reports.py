"""Rich rendering of issue 18's reports: the k best joint fills (`predict --k-best`), the masking
audit (`mask --audit`) and the columns of `compare`. Like cli/render.py (the other commands'
terminal text), it only draws: the numbers come from the core and the audit process."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mlm_explorer.cli.render import console


def kbest(result) -> None:
    """The k best fills (one column per blank word), the search, and the most-confident-first fill."""
    table = Table(title=f"{len(result.fills)} best joint fills, by the masks' PLL", title_justify="left",
                  show_edge=False, pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    for i in range(len(result.words)):
        table.add_column(f"blank {i + 1}")
    table.add_column("PLL", justify="right")
    table.add_column("log p per mask", justify="right", style="dim")

    def row(fill, label: str, style: str = "") -> None:
        table.add_row(label, *[Text(w, style=style) for w in fill.words], f"{fill.pll:.3f}",
                      " ".join(f"{v:.2f}" for v in fill.logprobs))

    for fill in result.fills:
        row(fill, str(fill.rank), "bold" if fill.token_ids == result.greedy.token_ids else "")
    console.print(table)
    console.print(Text(f"search: {result.description}", style="dim"))
    greedy = result.greedy
    where = (f"rank {greedy.rank}" if greedy.rank is not None else "outside the search")
    line = Text("most confident first (--joint): ", style="bold")
    line.append(" · ".join(greedy.words))
    line.append(f"  PLL {greedy.pll:.3f}, {where}", style="dim")
    console.print(line)
    if result.agrees:
        console.print(Text("the two agree: the most-confident-first fill is the best by PLL", style="green"))
    else:
        best = result.fills[0]
        console.print(Text(f"they disagree: the best by PLL is {' · '.join(best.words)} "
                           f"({best.pll - greedy.pll:+.3f} nats)", style="yellow"))
    if result.note:
        console.print(Text(result.note, style="dim"))


SHORT = {"DataCollatorForLanguageModeling": "HF collator"}   # engine names in the tables


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def audit(audit: dict) -> None:
    ours, ref = audit["ours"], audit["reference"]
    data = audit.get("data", {})
    console.print(Text(f"model {audit['model']} · objective {audit['objective']} · {audit['blocks']} of "
                       f"{audit['total_blocks']} training blocks of {data.get('block_size', '?')} tokens "
                       f"({data.get('files', '?')} files)", style="bold"))
    if audit["objective"] == "span":
        _span_table(ours, ref)
    else:
        _mlm_tables(ours, ref)
    if audit["differences"]:
        console.print(Text("where they differ:", style="bold yellow"))
        for line in audit["differences"]:
            console.print(Text(f"  · {line}", style="yellow"))
    else:
        console.print(Text("no difference beyond sampling noise", style="green"))


def _mlm_tables(ours: dict, ref: dict) -> None:
    policy = ours["policy"]
    console.print(Text(f"policy: rate {policy['rate']} of the {'words' if policy['whole_word'] else 'tokens'}, "
                       f"then {policy['mask']:.0%} [MASK] / {policy['random']:.0%} random / {policy['keep']:.0%} kept",
                       style="dim"))
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (("tokens", "left"), ("n", "right"), ("selected", "right"), ("[MASK]", "right"),
                         ("random", "right"), ("kept", "right"), ("engine", "left")):
        table.add_column(col, justify=justify)
    rows = [("all", "overall")] + [(name.replace("_", " "), name) for name in ours["classes"]]
    for label, key in rows:
        for side in (ours, ref):
            c = side["overall"] if key == "overall" else side["classes"][key]
            table.add_row(label if side is ours else "", str(c["tokens"]), _pct(c["rate"]), _pct(c["mask_share"]),
                          _pct(c["random_share"]), _pct(c["keep_share"]),
                          Text(SHORT.get(side["engine"], side["engine"]), style="bold" if side is ours else "dim"))
    console.print(table)
    checks = Table(show_edge=False, pad_edge=False)
    for col in ("", ours["engine"], SHORT.get(ref["engine"], ref["engine"])):
        checks.add_column(col, justify="left" if not col else "right")
    for label, key in (("special tokens selected", "special_touched"), ("padding selected", "padding_touched"),
                       ("random draws that are special tokens", "random_drew_special")):
        checks.add_row(label, _count(ours[key], must_be_zero=True), _count(ref[key]))
    for label, key in (("words", "words"), ("multi-piece words", "multi_piece"), ("words selected", "selected"),
                       ("words partly selected", "partly_selected"), ("selected words with mixed decisions",
                                                                      "mixed_decisions")):
        checks.add_row(label, str(ours["words"][key]), str(ref["words"][key]))
    console.print(checks)


def _count(value: int, *, must_be_zero: bool = False) -> Text:
    return Text(str(value), style=("green" if value == 0 else "bold red") if must_be_zero else "")


def _span_table(ours: dict, ref: dict) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col in ("", ours["engine"], ref["engine"]):
        table.add_column(col, justify="left" if not col else "right")
    fmt = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    rows = [("rows", "rows", "d"), ("raw tokens", "raw_tokens", "d"), ("noise tokens", "noise_tokens", "d"),
            ("noise density", "noise_density", ".4f"), ("mean span length", "mean_span_length", ".3f"),
            ("tokens dropped (truncation)", "truncated_tokens", "d")]
    for label, key, spec in rows:
        table.add_row(label, fmt(ours[key], spec), fmt(ref[key], spec))
    for side_label, key in (("sentinels per row (mean)", "mean"), ("sentinels per row (min-max)", None)):
        if key:
            table.add_row(side_label, fmt(ours["sentinels_per_row"]["mean"], ".2f"), fmt(ref["sentinels_per_row"]["mean"], ".2f"))
        else:
            spread = lambda s: f"{s['sentinels_per_row']['min']}-{s['sentinels_per_row']['max']}"  # noqa: E731
            table.add_row(side_label, spread(ours), spread(ref))
    console.print(Text(f"asked: noise density {ours['expected_density']}, mean span {ours['expected_mean_span']}",
                       style="dim"))
    console.print(table)


def compare_columns(result) -> None:
    from mlm_explorer.cli.render import FAMILY_LABELS
    from mlm_explorer.core.infer.infill import DIFFERENCE
    from mlm_explorer.core.load.sources import BUNDLED_INFILLER

    table = Table(show_lines=True, caption=DIFFERENCE)
    table.add_column("blank", justify="right", style="dim")
    for col in result.columns:
        # the bundled infiller is no T5: a BERT2BERT model trained with T5's span corruption
        label = "BERT2BERT (span infiller)" if col.model == BUNDLED_INFILLER else FAMILY_LABELS.get(col.family, col.family)
        table.add_column(f"{label}\n{col.model}")
    for i in range(result.n_blanks):
        cells = []
        for col in result.columns:
            if col.error:
                cells.append(Text(col.error if i == 0 else "", style="red"))
            elif i < len(col.blanks):
                b = col.blanks[i]
                cells.append(f"{b.text}  p={b.probability:.3f}" if b.probability is not None else b.text)
            else:
                cells.append("")
        table.add_row(str(i + 1), *cells)
    table.add_row("text", *[Text(col.text, style="bold") for col in result.columns])
    table.add_row("", *[Text(col.note, style="dim") for col in result.columns])
    console.print(table)
