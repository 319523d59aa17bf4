"""A claim's goal and whether a measured value meets it: the one rule the results files, the
benchmarks' printouts and the README table all use (torch-free)."""

from __future__ import annotations

OPS = {">=": lambda v, g: v >= g, "<=": lambda v, g: v <= g, "<": lambda v, g: v < g, ">": lambda v, g: v > g}


def goal_met(goal: dict | None, value: float) -> bool | None:
    """None without a goal; else whether `value` meets `goal` ({"op": ">=", "value": 10})."""
    if goal is None:
        return None
    return OPS[goal["op"]](value, goal["value"])


def format_value(value: float, unit: str) -> str:
    """8.94 x -> '8.9x'; 33.1 ms -> '33 ms'; 1234.5 tokens/s -> '1,234 tokens/s'."""
    if unit == "x":
        return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "%":
        return f"{value:.1f}%"
    return f"{value:,.0f} {unit}"


def format_goal(goal: dict | None, unit: str) -> str:
    """{"op": ">=", "value": 10} -> '≥ 10x'; {"op": "<", "value": 50} with ms -> '< 50 ms'."""
    if goal is None:
        return "—"
    op = {">=": "≥", "<=": "≤"}.get(goal["op"], goal["op"])
    sep = "" if unit in ("x", "%") else " "
    return f"{op} {goal['value']:g}{sep}{unit}"
