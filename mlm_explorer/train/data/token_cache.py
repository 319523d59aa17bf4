"""Tokenise the corpus once, batched, and cache the ids by content hash.

Each document (a file's extracted text, extract/documents.py) becomes a `FileTokens`: its
token ids (no special tokens) as one flat int32 array, plus where each sentence starts and
which paragraph it belongs to (for the next-sentence objective). The cache key is
sha256(CACHE_VERSION + tokenizer fingerprint + the document's token_key), and the token_key
names the file's bytes, its reader's version and options and the lines dropped as repeats:
an edited file, a better reader, another tokenizer or another set of repeats is tokenised
again, and nothing else is. The text is streamed from the document, never held whole.

Cache layout: cache_dir()/tokens/<key[:2]>/<key>.npz (numpy, loaded with allow_pickle=False),
written to a temporary name and renamed, so a kill mid-write leaves no broken entry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from mlm_explorer.files import atomic_write

CACHE_VERSION = 2
BATCH_SEGMENTS = 4096  # sentences per tokenizer call
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class FileTokens:
    path: Path
    ids: np.ndarray  # (T,) int32, the whole file's tokens without special tokens
    seg_starts: np.ndarray  # (S+1,) int64 offsets into ids: sentence s is ids[seg_starts[s]:seg_starts[s+1]]
    seg_para: np.ndarray  # (S,) int32 paragraph index of each sentence
    replaced_bytes: int
    cache_hit: bool

    @property
    def num_tokens(self) -> int:
        return int(self.ids.shape[0])


def tokenizer_fingerprint(tokenizer) -> str:
    """A hash that changes whenever the tokenizer would produce other ids."""
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:  # slow tokenizer: the vocabulary is what matters
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    return h.hexdigest()[:16]


def document_key(doc, fingerprint: str) -> str:
    return hashlib.sha256(f"v{CACHE_VERSION}:{fingerprint}:{doc.token_key}".encode()).hexdigest()


def split_segments(text: str) -> Iterator[tuple[str, bool]]:
    """Yield (sentence, starts_new_paragraph) for a piece of text.

    Paragraphs are separated by blank lines; lines inside a paragraph are joined (hard-wrapped
    prose); sentences end at . ! or ? followed by white space.
    """
    for para in _PARAGRAPH.split(text):
        joined = " ".join(line.strip() for line in para.splitlines() if line.strip())
        first = True
        for sentence in _SENTENCE_END.split(joined):
            if sentence:
                yield sentence, first
                first = False


def _tokenise(chunks: Iterator[str], tokenizer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    paras: list[int] = []
    pending: list[str] = []
    para = -1

    def flush():
        if pending:
            enc = tokenizer(pending, add_special_tokens=False, return_attention_mask=False,
                            verbose=False)["input_ids"]  # long sentences are fine: blocks cut them
            for ids in enc:
                pieces.append(np.asarray(ids, dtype=np.int32))
                lengths.append(len(ids))
            pending.clear()

    for chunk in chunks:
        for sentence, new_para in split_segments(chunk):
            if new_para or para < 0:
                para += 1
            pending.append(sentence)
            paras.append(para)
            if len(pending) >= BATCH_SEGMENTS:
                flush()
    flush()
    # sentences that tokenise to nothing (e.g. only control characters) are dropped
    keep = [i for i, n in enumerate(lengths) if n > 0]
    ids = np.concatenate([pieces[i] for i in keep]) if keep else np.zeros(0, np.int32)
    starts = np.zeros(len(keep) + 1, dtype=np.int64)
    if keep:
        np.cumsum([lengths[i] for i in keep], out=starts[1:])
    return ids, starts, np.asarray([paras[i] for i in keep], dtype=np.int32)


def _cache_path(cache_root: Path, key: str) -> Path:
    return cache_root / "tokens" / key[:2] / f"{key}.npz"


def _save_cache(path: Path, ft: FileTokens) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            np.savez(f, ids=ft.ids, seg_starts=ft.seg_starts, seg_para=ft.seg_para)
    except OSError:  # a cache that cannot be written only costs time next run
        pass


def load_document_tokens(doc, tokenizer, *, fingerprint: str, cache_root: Path | None) -> FileTokens:
    """Tokens of one document, from the cache when its text was seen before."""
    key = document_key(doc, fingerprint)
    cached = _cache_path(cache_root, key) if cache_root is not None else None
    replaced = doc.notes.replaced_bytes
    if cached is not None and cached.exists():
        try:
            with np.load(cached, allow_pickle=False) as z:
                return FileTokens(doc.path, z["ids"], z["seg_starts"], z["seg_para"], replaced, cache_hit=True)
        except (OSError, ValueError, KeyError):
            pass  # a damaged entry is rebuilt below
    ids, starts, paras = _tokenise(doc.chunks(), tokenizer)
    ft = FileTokens(doc.path, ids, starts, paras, replaced, cache_hit=False)
    if cached is not None:
        _save_cache(cached, ft)
    return ft


def tokenise_documents(docs: list, tokenizer, *, cache_root: Path | None,
                       progress: Callable[[int, int, Path], None] | None = None) -> list[FileTokens]:
    """Tokenise every document (or take it from the cache), one FileTokens per document, in order."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    out = []
    for i, doc in enumerate(docs):
        out.append(load_document_tokens(doc, tokenizer, fingerprint=fingerprint, cache_root=cache_root))
        if progress is not None:
            progress(i + 1, len(docs), doc.path)
    return out
