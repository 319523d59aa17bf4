"""Core results in the shape of the app's export dict, so one HTML/SVG renderer serves both.

The app exports `ui.export.view_dict(app)`; the command line builds the same keys from its
results here: `tokens` (core.text Token dicts), `masked_positions`, `result` (FillResult),
`k_best` (KBestResult), `lens` ({kind, caption, unit, scale, signed, anchor, tokens: [{index,
text, value, intensity}], details}: the Explore lens's export), `diff` (MaskDiff dicts),
`compare`, `run` ({name, losses, evals, forgetting}) and `probe_history`. Pure data in, dicts out.
"""

from __future__ import annotations

from typing import Any

from mlm_explorer.report.colors import intensities


def _tokens(tokens) -> list[dict]:
    return [t if isinstance(t, dict) else t.to_dict() for t in tokens]


def lens_dict(kind: str, tokens, values: dict[int, float], *, caption: str, unit: str, signed: bool = False,
              anchor: int | None = None, skip: int | None = None, details: Any = None) -> dict:
    """The export form of a lens: per-token values, their intensities (value / max |value|), the scale."""
    heat, top = intensities(values, skip=skip)
    text = {t["index"]: t["text"] for t in _tokens(tokens)}
    return {"kind": kind, "caption": caption, "note": "", "unit": unit, "scale": [-top if signed else 0.0, top],
            "signed": signed, "anchor": anchor, "details": details,
            "tokens": [{"index": i, "text": text.get(i, ""), "value": v, "intensity": heat.get(i)}
                       for i, v in sorted(values.items())]}


def predict_view(model: dict, tt, result, kbest=None) -> dict:
    return {"title": "mlm-explorer predict", "model": model, "text": tt.text, "tokens": _tokens(tt.tokens),
            "masked_positions": [t.index for t in tt.tokens if t.typed_mask], "result": result.to_dict(),
            "k_best": kbest.to_dict() if kbest is not None else None}


def score_view(model: dict, tt, score) -> dict:
    values = {t.position: t.surprisal for t in score.tokens}
    caption = (f"−log p of each token ({score.pll_variant} PLL) · PLL {score.pll:.2f} "
               f"nats · pseudo-perplexity {score.pseudo_perplexity:.2f} · {score.n_tokens} tokens")
    return {"title": "mlm-explorer score", "model": model, "text": tt.text, "tokens": _tokens(tt.tokens),
            "lens": lens_dict("surprisal", tt.tokens, values, caption=caption, unit="nats", details=score.to_dict())}


def attention_view(model: dict, result) -> dict:
    row = result.row
    query = result.tokens[row.token_index]
    caption = f"attention from {query.text!r} (token {row.token_index}) · {row.label}"
    return {"title": "mlm-explorer attention", "model": model, "text": result.text, "tokens": _tokens(result.tokens),
            "lens": lens_dict("attention", result.tokens, dict(enumerate(row.weights)), caption=caption,
                              unit="weight", anchor=row.token_index, details=row.to_dict())}


def saliency_view(model: dict, result) -> dict:
    s = result.saliency
    raw = s.integrated_gradients if s.integrated_gradients is not None else s.grad_x_input
    how = (f"integrated gradients, {s.steps} steps · completeness gap {s.completeness_gap:.1%}"
           if s.integrated_gradients is not None else "gradient × input")
    caption = f"{s.target_text!r} at position {s.position} (p {s.target_probability:.1%}, rank {s.target_rank}) · {how}"
    return {"title": "mlm-explorer saliency", "model": model, "text": result.text, "tokens": _tokens(result.tokens),
            "masked_positions": [s.position],
            "lens": lens_dict("saliency", result.tokens, dict(enumerate(raw or [])), caption=caption, unit="log p",
                              signed=True, anchor=s.position, skip=s.position, details=s.to_dict())}


def diff_view(base: dict, tuned: dict, tt, result) -> dict:
    return {"title": "mlm-explorer diff", "model": tuned, "base_model": base.get("name"), "text": result.text,
            "tokens": _tokens(tt.tokens), "masked_positions": [m.position for m in result.masks],
            "diff": [m.to_dict() if hasattr(m, "to_dict") else _asdict(m) for m in result.masks]}


def compare_view(result) -> dict:
    return {"title": "mlm-explorer compare", "model": {"name": ", ".join(c.model for c in result.columns)},
            "text": result.text, "compare": result.to_dict()}


def run_view(run_dir, data: dict) -> dict:
    """A run's curves from its run.json (train/run/runs.py): loss, held-out loss, probes, forgetting meter."""
    history = data.get("history") or {}
    name = getattr(run_dir, "name", str(run_dir))
    return {"title": f"mlm-explorer run {name}", "model": {"name": data.get("model")},
            "run": {"name": name, "losses": [[e["step"], e["loss"]] for e in history.get("step", []) if "loss" in e],
                    "evals": [[e["step"], e["loss"]] for e in history.get("eval", []) if "loss" in e],
                    "forgetting": data.get("forgetting_history") or []},
            "probe_history": data.get("probe_history") or []}


def _asdict(obj) -> dict:
    from dataclasses import asdict

    return asdict(obj)
