"""The Explore lenses: one view at a time laid over the token chips, as a colour per chip.

- surprisal: -log p of each token with that token masked and the rest of the text as typed
  (`core.score.score_ids`, every token masked in turn, batched); the sentence's PLL and
  pseudo-perplexity in the caption, with the PLL variant named (`pll`: word-l2r, the default,
  masks the later pieces of the token's word too; original masks the token alone; `v` switches).
- attention: the attention of the token under the cursor to every token
  (`core.attention.AttentionMaps.row`), for one layer and head or a mean over them. The maps
  of one input are kept, so moving the cursor or changing layer/head runs no model.
- saliency: which input tokens made the selected mask's prediction (its top candidate, or the
  one highlighted in the distribution): integrated gradients or gradient x input over the
  word embeddings (`core.saliency.explain_position`; both are computed at once).

This module is state and arithmetic only (no widgets, no torch): `Lens` remembers the lens,
the layer/head/method, and the core results, each with the key of the input it belongs to;
`Lens.view(...)` turns the result for the *current* key into a `LensView` (intensity per
chip, caption, scale). A result for another key is never shown, so a stale answer cannot
reach the screen. The screen side (keys, workers, redraws) is `ui/screens/explore/lenses.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlm_explorer.ui.enums import LensKind, SaliencyMethod

UNITS = {LensKind.SURPRISAL: "nats", LensKind.ATTENTION: "weight", LensKind.SALIENCY: "log p"}


@dataclass
class LensView:
    """What the chips and the lens bar show for the active lens."""

    kind: LensKind = LensKind.OFF
    caption: str = ""  # one line: what is shown, for which token, with which numbers
    note: str = ""  # instead of a caption: computing…, nothing to show, an error
    heat: dict[int, float] = field(default_factory=dict)  # position -> chip intensity -1..1
    values: dict[int, float] = field(default_factory=dict)  # position -> the core's number
    low: float = 0.0  # the values at the two ends of the colour scale
    high: float = 0.0
    signed: bool = False  # the scale runs cold..0..hot (saliency)
    anchor: int | None = None  # the token the view is about (attention query, explained mask)
    details: Any = None  # the core result as plain data, for the export

    @property
    def unit(self) -> str:
        return UNITS.get(self.kind, "")

    def to_dict(self, tokens: Any = ()) -> dict:
        text = {t.index: t.text for t in tokens}
        return {
            "kind": self.kind, "caption": self.caption, "note": self.note, "unit": self.unit,
            "scale": [self.low, self.high], "signed": self.signed, "anchor": self.anchor,
            "tokens": [{"index": i, "text": text.get(i, ""), "value": v, "intensity": self.heat.get(i)}
                       for i, v in sorted(self.values.items())],
            "details": self.details,
        }


def normalise(values: dict[int, float], *, skip: int | None = None) -> tuple[dict[int, float], float]:
    """Intensities value / max |value| (the `skip` position left out) and that max."""
    top = max((abs(v) for i, v in values.items() if i != skip), default=0.0)
    if top <= 0:
        return {i: 0.0 for i in values if i != skip}, 0.0
    return {i: v / top for i, v in values.items() if i != skip}, top


@dataclass
class Lens:
    kind: LensKind = LensKind.OFF
    layer: int | None = -1  # attention: 0-based layer, None = mean over layers, -1 = the last
    head: int | None = None  # attention: 0-based head, None = mean over heads
    method: SaliencyMethod = SaliencyMethod.IG  # saliency: which attribution colours the chips
    pll: str = "word-l2r"  # surprisal: the PLL variant (core/infer/score.py PLL_VARIANTS)
    shape: tuple[int, int] | None = None  # (layers, heads) of the model, once a map was computed
    target: tuple | None = None  # (input ids, position, token id): the saliency target picked in the distribution
    data: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # kind -> (key, core result)
    errors: dict[str, tuple[Any, str]] = field(default_factory=dict)  # kind -> (key, message)
    asked: dict[str, Any] = field(default_factory=dict)  # kind -> key of the last request

    # -- keys: which input a result belongs to ----------------------------------------------------
    def key(self, kind: str, *, model: Any, tt: Any, input_ids: list[int], selected: int | None) -> Any:
        """What `kind` is computed on, `model` (a version number) included; None: nothing to compute."""
        if tt is None or not input_ids:
            return None
        if kind == LensKind.SURPRISAL:  # the text as typed (typed blanks stay masks and are not scored), the variant
            return (LensKind.SURPRISAL, model, tuple(tt.input_ids), self.pll)
        if kind == LensKind.ATTENTION:  # what the model sees, masks included
            return (LensKind.ATTENTION, model, tuple(input_ids))
        if kind == LensKind.SALIENCY:  # the model input, the explained mask, the target (None: the top one)
            if selected is None:
                return None
            ids = tuple(input_ids)
            target = self.target[2] if self.target and self.target[:2] == (ids, selected) else None
            return (LensKind.SALIENCY, model, ids, selected, target)
        return None

    def result(self, kind: str, key: Any) -> Any:
        found = self.data.get(kind)
        return found[1] if found is not None and key is not None and found[0] == key else None

    def error(self, kind: str, key: Any) -> str | None:
        found = self.errors.get(kind)
        return found[1] if found is not None and key is not None and found[0] == key else None

    def store(self, kind: str, key: Any, result: Any, error: str | None) -> None:
        if error is not None:
            self.errors[kind] = (key, error)
            return
        self.errors.pop(kind, None)
        self.data[kind] = (key, result)
        if kind == LensKind.ATTENTION:
            self.shape = (result.num_layers, result.num_heads)

    # -- attention layer / head -------------------------------------------------------------------
    def _resolved(self) -> tuple[int | None, int | None]:
        if self.shape is None:
            return self.layer, self.head
        layers, heads = self.shape
        layer = None if self.layer is None else self.layer % layers
        head = None if self.head is None else self.head % heads
        return layer, head

    def step(self, what: str, step: int) -> bool:
        """Next/previous layer or head; the mean comes after the last. False before any map is known."""
        if self.shape is None:
            return False
        layer, head = self._resolved()
        count = self.shape[0] if what == "layer" else self.shape[1]
        cycle: list[int | None] = [*range(count), None]
        current = layer if what == "layer" else head
        new = cycle[(cycle.index(current) + step) % len(cycle)]
        if what == "layer":
            self.layer = new
        else:
            self.head = new
        return True

    # -- the view ---------------------------------------------------------------------------------
    def view(self, *, model: Any, tt: Any, input_ids: list[int], selected: int | None, cursor: int | None,
             positions: list[int]) -> LensView:
        """The active lens on the current input: its result for exactly this key, or a note."""
        kind = self.kind
        if kind == LensKind.OFF or tt is None:
            return LensView()
        key = self.key(kind, model=model, tt=tt, input_ids=input_ids, selected=selected)
        if key is None:
            return LensView(kind, note="mask a token: saliency explains the prediction at the selected mask")
        error = self.error(kind, key)
        if error is not None:
            return LensView(kind, note=error)
        result = self.result(kind, key)
        if result is None:
            return LensView(kind, note=f"computing {kind}…")
        draw = {LensKind.SURPRISAL: self._surprisal_view, LensKind.ATTENTION: self._attention_view,
                LensKind.SALIENCY: self._saliency_view}[kind]
        return draw(result, tt=tt, cursor=cursor, selected=selected, positions=positions)

    def _surprisal_view(self, score: Any, *, tt: Any, cursor: int | None, **_: Any) -> LensView:
        values = {t.position: t.surprisal for t in score.tokens}
        heat, top = normalise(values)
        name = "PLL-word-l2r" if score.pll_variant == "word-l2r" else "original PLL"
        here = ""  # the number of the token under the cursor, so the colour can be read
        if cursor in values:
            here = f"{tt.tokens[cursor].text!r} {values[cursor]:.2f} nats · "
        elif cursor is not None and 0 <= cursor < len(tt.tokens):
            here = f"{tt.tokens[cursor].text!r} not scored · "
        caption = (f"{here}−log p per token ({name}) · PLL {score.pll:.2f} nats · "
                   f"pseudo-perplexity {score.pseudo_perplexity:.2f} · {score.n_tokens} tokens")
        return LensView(LensKind.SURPRISAL, caption, heat=heat, values=values, high=top,
                        details=score.to_dict())

    def _attention_view(self, maps: Any, *, tt: Any, cursor: int | None, **_: Any) -> LensView:
        query = cursor if cursor is not None and 0 <= cursor < len(tt.tokens) else None
        if query is None:
            return LensView(LensKind.ATTENTION, note="move the cursor onto a token (←/→) to see its attention")
        layer, head = self._resolved()
        row = maps.row(query, layer=layer, head=head)
        values = dict(enumerate(row.weights))
        heat, top = normalise(values)
        where = (f"layer {row.layer + 1}/{row.num_layers}" if row.layer is not None
                 else f"mean of {row.num_layers} layers")
        heads = f"head {row.head + 1}/{row.num_heads}" if row.head is not None else f"mean of {row.num_heads} heads"
        caption = f"attention from {tt.tokens[query].text!r} (token {query}) · {where} · {heads}"
        if row.note:   # layers that change the length (Funnel) are left out
            caption += f" · {row.note}"
        return LensView(LensKind.ATTENTION, caption, heat=heat, values=values, high=top, anchor=query,
                        details=row.to_dict())

    def _saliency_view(self, s: Any, *, positions: list[int], **_: Any) -> LensView:
        raw = s.integrated_gradients if self.method == SaliencyMethod.IG else s.grad_x_input
        values = dict(enumerate(raw or []))
        heat, top = normalise(values, skip=s.position)
        which = f"mask {positions.index(s.position) + 1}/{len(positions)}" if s.position in positions \
            else f"token {s.position}"
        how = self.method.label
        if self.method == SaliencyMethod.IG:
            how += f", {s.steps} steps · completeness gap {s.completeness_gap:.1%}"  # baseline: details
        caption = f"{s.target_text!r} at {which} (p {s.target_probability:.1%}, rank {s.target_rank}) · {how}"
        return LensView(LensKind.SALIENCY, caption, heat=heat, values=values, low=-top, high=top, signed=True,
                        anchor=s.position, details={**s.to_dict(), "shown": str(self.method)})


def markdown(data: dict) -> list[str]:
    """Markdown lines for the export's `lens` and `candidates` (ui/export.py)."""
    lines: list[str] = []
    lens = data.get("lens")
    if lens:
        lines += [f"## Lens: {lens['kind']}", "", lens.get("caption") or lens.get("note") or "", ""]
        if lens.get("tokens"):
            lines += [f"| position | token | {lens['unit']} | intensity |", "|---:|---|---:|---:|"]
            for t in lens["tokens"]:
                shade = "" if t["intensity"] is None else f"{t['intensity']:.3f}"
                lines.append(f"| {t['index']} | `{t['text']}` | {t['value']:.4f} | {shade} |")
            lines.append("")
    cand = data.get("candidates")
    if cand:
        lines += [f"## Candidates at position {cand['position']} (temperature {cand['temperature']})", ""]
        if cand.get("score_error"):
            lines += [cand["score_error"], ""]
        if cand.get("scores"):
            lines += ["| word | pieces | probability | rank | scored |", "|---|---|---:|---:|---|"]
            for s in cand["scores"]:
                rank = s["rank"] if s["rank"] is not None else f"n/a, {len(s['token_ids'])} pieces"
                lines.append(f"| {s['word']} | `{' '.join(s['pieces'])}` | {s['probability']:.6g} | {rank} | "
                             f"{s['method']} |")
            lines.append("")
        if cand.get("fill_error"):
            lines += [cand["fill_error"], ""]
        if cand.get("fills"):
            lines += ["Best fills of 1-3 pieces, by log-probability per piece:", "",
                      "| # | fill | pieces | log p / piece | probability |", "|---:|---|---|---:|---:|"]
            for i, f in enumerate(cand["fills"], 1):
                lines.append(f"| {i} | {f['text']} | `{' '.join(f['pieces'])}` | {f['normalized_logprob']:.4f} | "
                             f"{f['probability']:.6g} |")
            lines.append("")
    return lines
