"""What the app's thread workers do: thin calls into `mlm_explorer.core`, nothing else.

Every function here runs in a worker thread (or, queued with `submit`, on the model thread),
so this is where torch and transformers get imported (inside the functions, never at module
level: the first frame must not wait for torch). None of them touches a widget; they return
core objects, and the worker body that called them posts a message. (A "job" in this app is
only ever the training job, `python -m mlm_explorer.train`; what runs here is "work".)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

# Every model call runs on this one long-lived thread: torch keeps one warm intra-op pool
# (a fresh thread per request would build a new one each time), and requests run one at a
# time, so a burst of edits cannot start a pile of forwards that fight for the cores.
_MODEL_THREAD_PREFIX = "mlm-explorer-model"
_MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_MODEL_THREAD_PREFIX)


class Superseded(Exception):
    """A newer request arrived before this one started: it was skipped."""


def on_model_thread(fn: Callable[[], Any], stale: Callable[[], bool] = lambda: False) -> Any:
    """Run fn on the model thread and wait; skip it (Superseded) if it went stale while queued.
    Called on the model thread itself (inside `submit`), fn runs there and then."""

    def run() -> Any:
        if stale():
            raise Superseded()
        return fn()

    if threading.current_thread().name.startswith(_MODEL_THREAD_PREFIX):
        return run()
    return _MODEL_THREAD.submit(run).result()


def submit(fn: Callable[[], Any], *, done: Callable[[Any], None], failed: Callable[[BaseException], None],
           stale: Callable[[], bool] = lambda: False) -> Future:
    """Queue fn on the model thread without waiting (no worker thread in between): `done(value)`
    or `failed(exception)` is called there when it ends. Skipped silently (neither is called)
    if it went stale while queued, or fn raised Superseded."""

    def run() -> None:
        if stale():
            return
        try:
            value = fn()
        except Superseded:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, whatever it is
            failed(exc)
            return
        done(value)

    return _MODEL_THREAD.submit(run)


def load_model(role: str, name: str | None, device: str) -> Any:
    """Load the model for `role` (enums.Role: "t5" -> seq2seq, "compare" -> whichever the config says:
    an encoder, a T5 or a BART; any other -> encoder MLM)."""
    from mlm_explorer.core.load import models

    if role == "t5":
        return models.load_seq2seq(name, device=device)
    if role == "compare":
        return models.load_any(name, device=device)
    return models.load_mlm(name, device=device)


def load_default_t5(device: str) -> Any | None:
    """Compare's seq2seq model when none is named: the bundled span infiller, else (its encoder
    package missing) the first cached seq2seq model; None when there is neither."""
    from mlm_explorer.core.load.sources import BUNDLED_INFILLER
    from mlm_explorer.errors import ModelError

    try:
        return load_model("t5", BUNDLED_INFILLER, device)
    except ModelError:
        found = find_cached_t5()
        return load_model("t5", found, device) if found is not None else None


def gpu_models(*lms: Any) -> list:
    """The loaded models among `lms` (None allowed) whose weights sit on a GPU."""
    out = []
    for lm in lms:
        if lm is not None and getattr(getattr(lm, "device", None), "type", None) == "cuda" and lm not in out:
            out.append(lm)
    return out


def model_bytes(lms: list) -> int:
    """Bytes of the models' parameters and buffers."""
    return sum(t.numel() * t.element_size() for lm in lms
               for t in (*lm.model.parameters(), *lm.model.buffers()))


def move_models(lms: list, device: Any) -> None:
    """Move the models (weights, and `LoadedModel.device`) to `device`, on the model thread so
    that no prediction runs half on one device; then give the GPU's cached blocks back."""
    import torch

    def move() -> None:
        for lm in lms:
            lm.model.to(device)
            lm.device = torch.device(device)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    on_model_thread(move)


def find_cached_t5() -> str | None:
    """The first seq2seq model in the local Hugging Face cache, if any (no network)."""
    from mlm_explorer.core.load import models

    for entry in models.list_models():
        if entry.kind == "seq2seq" and entry.source != "bundled":
            return entry.path or entry.name
    return None


@dataclass
class PredictRequest:
    """Exactly what goes into the model: the (corrupted) ids and the positions to predict."""

    input_ids: list[int]
    positions: list[int]
    original_ids: dict[int, int]  # known originals (clicked / random masking), for rank and loss
    top_k: int
    joint: bool
    temperature: float
    text: Any = None  # core.text.TokenizedText the ids come from: the decode keeps its case and spacing


def predict(lm: Any, request: PredictRequest, base_lm: Any = None, *,
            stale: Callable[[], bool] = lambda: False) -> tuple[Any, Any, float]:
    """core.fill.fill_masks on lm (and on base_lm for before/after); (result, base_result, seconds)."""
    from mlm_explorer.core.infer.fill import fill_masks

    kwargs = dict(
        top_k=request.top_k, joint=request.joint, original_ids=request.original_ids or None,
        temperature=request.temperature, tokenized=request.text,
    )

    def run() -> tuple[Any, Any, float]:
        started = time.perf_counter()
        result = fill_masks(lm, request.input_ids, request.positions, **kwargs)
        base = fill_masks(base_lm, request.input_ids, request.positions, **kwargs) if base_lm is not None else None
        return result, base, time.perf_counter() - started

    return on_model_thread(run, stale)


def diff(base_lm: Any, lm: Any, request: PredictRequest, *, stale: Callable[[], bool] = lambda: False) -> Any:
    """core.diff.compare_distributions(base, fine-tuned) at the request's masks -> list[MaskDiff]
    (the numbers `mlm-explorer diff` prints: temperature 1, the union of both top-k)."""
    from mlm_explorer.core.infer.diff import compare_distributions

    return on_model_thread(lambda: compare_distributions(base_lm, lm, request.input_ids, request.positions,
                                                         top_k=request.top_k), stale)


_VOCABS: dict[int, Any] = {}


def random_mask(lm: Any, tt: Any, *, rate: float, seed: int, whole_word: bool) -> Any:
    """core.preview.preview_masking (the masking engine on one text) -> MaskPreview. The first
    call per tokenizer builds its masking vocabulary (0.1 s for BERT's 30k pieces)."""
    from mlm_explorer.core.mask.masking import MaskingVocab

    def run() -> Any:
        key = id(lm.tokenizer)
        if key not in _VOCABS:
            _VOCABS[key] = MaskingVocab.from_tokenizer(lm.tokenizer)
        return random_mask_now(lm, tt, rate=rate, seed=seed, whole_word=whole_word)

    return on_model_thread(run)


def random_mask_now(lm: Any, tt: Any, *, rate: float, seed: int, whole_word: bool) -> Any:
    """The same, right here, when the vocabulary is built (about a millisecond: cheap enough for
    the UI thread, so a burst of `r` presses is applied press by press); else None."""
    from mlm_explorer.core.mask.preview import preview_masking

    vocab = _VOCABS.get(id(lm.tokenizer))
    if vocab is None:
        return None
    return preview_masking(lm.tokenizer, tt, rate=rate, seed=seed, whole_word=whole_word, vocab=vocab)


def infill(lm: Any, text: str) -> Any:
    """core.infill.infill with the defaults (greedy, one candidate)."""
    from mlm_explorer.core.infer.infill import infill as core_infill

    return on_model_thread(lambda: core_infill(lm, text))


# -- the Explore lenses and the candidate box (ui/screens/explore/lenses.py, candidates.py) ------
SALIENCY_STEPS = 32  # integrated-gradients intervals (the CLI's default)


def sentence_score(lm: Any, input_ids: list[int], positions: list[int], *, pll: str = "word-l2r",
                   word_ids: list | None = None, stale: Callable[[], bool] = lambda: False) -> Any:
    """core.score.score_ids: each position masked in turn (with the variant's pieces), batched -> SentenceScore."""
    from mlm_explorer.core.infer.score import score_ids

    return on_model_thread(lambda: score_ids(lm, input_ids, positions=positions, pll=pll, word_ids=word_ids), stale)


def attention_maps(lm: Any, input_ids: list[int], *, stale: Callable[[], bool] = lambda: False) -> Any:
    """core.attention.attention_maps: one forward, every layer and head -> AttentionMaps."""
    from mlm_explorer.core.explain.attention import attention_maps as core_maps

    return on_model_thread(lambda: core_maps(lm, input_ids), stale)


def saliency(lm: Any, input_ids: list[int], position: int, target_id: int | None, *,
             stale: Callable[[], bool] = lambda: False) -> Any:
    """core.saliency.explain_position with both methods (one call) -> Saliency."""
    from mlm_explorer.core.explain.saliency import explain_position

    return on_model_thread(lambda: explain_position(lm, input_ids, position, target_id=target_id,
                                                    steps=SALIENCY_STEPS, method="both"), stale)


def candidates(lm: Any, input_ids: list[int], position: int, words: list[str], *, fills: bool,
               temperature: float, stale: Callable[[], bool] = lambda: False) -> dict:
    """core.candidates at the mask at `position`: the words' scores, and (if `fills`) the best
    fills of 1-3 pieces. A UserError of either part is returned as its message, not raised."""
    from mlm_explorer.core.infer.candidates import score_candidates, variable_length_fill
    from mlm_explorer.errors import UserError

    def run() -> dict:
        out: dict = {"scores": None, "score_error": None, "fills": None, "fill_error": None}
        if words:
            try:
                out["scores"] = score_candidates(lm, input_ids, position, words, temperature=temperature)
            except UserError as exc:
                out["score_error"] = str(exc)
        if fills:
            try:
                out["fills"] = variable_length_fill(lm, input_ids, position, max_pieces=3, top=5,
                                                    temperature=temperature)
            except UserError as exc:
                out["fill_error"] = str(exc)
        return out

    return on_model_thread(run, stale)


def kbest(lm: Any, input_ids: list[int], positions: list[int], words: list[list[int]], shapes: dict, *, k: int,
          temperature: float, stale: Callable[[], bool] = lambda: False) -> Any:
    """core.infer.kbest.kbest_fills: the k best joint fills of the masks by PLL -> KBestResult."""
    from mlm_explorer.core.infer.kbest import kbest_fills

    return on_model_thread(lambda: kbest_fills(lm, input_ids, positions, k=k, words=words, shapes=shapes,
                                               temperature=temperature), stale)


def compare_column(lm: Any, text: str, *, top_k: int, joint: bool) -> Any:
    """core.infer.compare.fill_column: one model's fill of the blanks -> ModelColumn (its UserError inside)."""
    from mlm_explorer.core.infer.compare import fill_column

    return on_model_thread(lambda: fill_column(lm, text, top_k=top_k, joint=joint))
