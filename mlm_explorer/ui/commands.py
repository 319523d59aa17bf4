"""Command palette (ctrl+p): switch models.

Lists what `core.models.list_models()` finds (the bundled default, encoder and T5 models in
the Hugging Face cache, fine-tuning runs), and offers whatever is typed as a hub name or a
path. Listing imports transformers, so it runs in a thread the first time the palette opens.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


def _list_models() -> list[Any]:
    from mlm_explorer.core.load.models import list_models

    return list_models()


class ModelCommands(Provider):
    """Use a model in Explore (encoder MLMs) or in Compare (T5 models)."""

    entries: list[Any] = []

    async def startup(self) -> None:
        try:
            self.entries = await asyncio.to_thread(_list_models)
        except Exception as exc:  # a broken cache must not break the palette
            self.entries = []
            self.app.log.warning(f"list_models failed: {exc}")

    def _commands(self) -> list[tuple[str, str, Any]]:
        out = []
        for e in self.entries:
            detail = f" ({e.detail})" if getattr(e, "detail", "") else ""
            if e.kind == "mlm":
                out.append((f"Use model: {e.name}", f"{e.source}: {e.path}{detail}", partial(self.app.use_model, e.name)))
            elif e.kind == "seq2seq":
                out.append((f"Use T5 for Compare: {e.name}", f"{e.source}: {e.path}{detail}",
                            partial(self.app.use_t5, e.name if e.source == "bundled" else (e.path or e.name))))
        if not any(e.name == "bundled" for e in self.entries):
            out.append(("Use model: bundled", "the bundled default", partial(self.app.use_model, None)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, command in self._commands():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
        typed = query.strip()
        if typed and " " not in typed:
            yield Hit(0.05, f"Load model: {typed}", partial(self.app.use_model, typed),
                      help="an encoder MLM: a hub name (e.g. google-bert/bert-base-uncased) or a directory")
            yield Hit(0.04, f"Load T5 for Compare: {typed}", partial(self.app.use_t5, typed),
                      help="a T5 model: a hub name (e.g. google-t5/t5-small) or a directory")
