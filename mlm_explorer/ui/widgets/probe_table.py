"""Probes on the Train screen: the pinned list (removable) and the table of results.

`ProbeList` lists the pinned probes (Explore's `p`); delete / backspace unpins the
highlighted one. `ProbeTable` shows the training job's latest `probes` event (core.probes
ProbeResult dicts): per probe the answer's rank and probability, with the change since the
first evaluation of the run ("rank 12 → 3"), and the model's top-3.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable, OptionList
from textual.widgets.option_list import Option

from mlm_explorer.ui.messages import ProbeUnpinned

EMPTY = "none pinned: in Explore, mask a token and press p"
PROBE_WIDTH = 30  # the probe column: the sentence around its blank, and the top-3 below it


class ProbeList(OptionList):
    """The pinned probes; delete or backspace unpins the highlighted one."""

    BINDINGS = [Binding("delete,backspace", "unpin", "Unpin", tooltip="Remove the highlighted probe")]

    def show(self, probes: list[dict]) -> None:
        """`probes`: [{"text", "answer"}, ...] (the app's settings.probes)."""
        if not probes:
            self.set_options([Option(Text(EMPTY, style="italic dim"), disabled=True)])
            return
        self.set_options([Option(Text.assemble((p["answer"], "bold"), ": ", p["text"]), id=f"probe-{i}")
                          for i, p in enumerate(probes)])

    def action_unpin(self) -> None:
        option = self.highlighted_option
        if option is not None and option.id and option.id.startswith("probe-"):
            self.post_message(ProbeUnpinned(int(option.id.removeprefix("probe-"))))


def _rank(first: dict | None, last: dict) -> Text:
    if first is None:
        return Text(str(last["rank"]))
    style = "green" if last["rank"] < first["rank"] else "red" if last["rank"] > first["rank"] else ""
    return Text(f"{first['rank']} → {last['rank']}", style=style)


def _probability(first: dict | None, last: dict) -> Text:
    if first is None:
        return Text(f"{last['probability']:.1%}")
    up, down = last["probability"] > first["probability"], last["probability"] < first["probability"]
    return Text(f"{first['probability']:.1%} → {last['probability']:.1%}",
                style="green" if up else "red" if down else "")


def probe_rows(history: list[dict]) -> tuple[int | None, int | None, list[tuple]]:
    """(first step, latest step, rows) of a probe history [{"step", "results"}, ...]; each row
    (probe text, answer, rank, probability, top-3), the change since the first step when
    the latest is a later one. Plain strings (Markdown export) come from `str()` of each cell."""
    if not history:
        return None, None, []
    first, last = history[0], history[-1]
    since = {(r["text"], r["answer"]): r for r in first["results"]} if last is not first else {}
    rows = []
    for r in last["results"]:
        before = since.get((r["text"], r["answer"]))
        top3 = " · ".join(f"{t} {p:.0%}" for t, p in r.get("top3", []))
        rows.append((r["text"], r["answer"], _rank(before, r), _probability(before, r), top3))
    return first["step"], last["step"], rows


_BLANK = re.compile(r"\[mask\]|_{3,}|<mask>", re.IGNORECASE)


def probe_cell(text: str, answer: str, width: int = 28) -> Text:
    """The probe with its answer in the blank ("…the green [park]."), cut around the blank to `width`."""
    m = _BLANK.search(text)
    if m is None:
        return Text(text[:width])
    before, after, mid = text[: m.start()], text[m.end():], f"[{answer}]"
    room = max(0, width - len(mid))
    left = min(len(before), max(room // 2, room - len(after)))
    right = min(len(after), room - left)
    head = before if left >= len(before) else "…" + before[len(before) - left + 1:]
    tail = after if right >= len(after) else after[: max(0, right - 1)] + "…"
    return Text.assemble(head, (mid, "bold"), tail)


class ProbeTable(DataTable):
    """The latest probe results of the run, with the change since its first evaluation."""

    DEFAULT_CSS = """
    ProbeTable { height: auto; max-height: 12; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns(Text("probe [answer] / top-3"), "rank", "p(answer)")

    def show(self, history: list[dict]) -> None:
        first, last, rows = probe_rows(history)
        self.clear()
        for text, answer, rank, p, top3 in rows:  # two lines a row: the probe, then the top-3
            cell = probe_cell(text, answer, PROBE_WIDTH)
            cell.append("\n" + (top3 if len(top3) <= PROBE_WIDTH else top3[: PROBE_WIDTH - 1] + "…"), style="dim")
            self.add_row(cell, rank, p, height=2)
        if last is None:
            self.border_title = "probes"
        elif first == last:
            self.border_title = f"probes · step {last}"
        else:
            self.border_title = f"probes · step {last} (change since step {first})"
