"""Exports that travel offline: a view (the app's export dict, or a CLI result turned into the
same shape by `views.py`) as one self-contained HTML page (`html.py`) or SVG picture (`svg.py`).
No torch, no textual, no rich: the CLI and the app both use it."""
