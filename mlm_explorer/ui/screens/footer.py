"""The footer's order: the app's help and screen keys (F1-F4) first, so a narrow terminal (80
columns) still shows how to get around; the footer cuts what does not fit at its end.

A screen uses it by overriding `active_bindings` (which only the footer and the key panel read;
the keys themselves are dispatched along the binding chain, untouched):

    @property
    def active_bindings(self):
        return footer_first(super().active_bindings)
"""

from __future__ import annotations

FOOTER_FIRST = ("f1", "f2", "f3", "f4")


def footer_first(active: dict) -> dict:
    """`Screen.active_bindings` with the FOOTER_FIRST keys moved to the front."""
    first = {key: active[key] for key in FOOTER_FIRST if key in active}
    return {**first, **{key: value for key, value in active.items() if key not in first}}
