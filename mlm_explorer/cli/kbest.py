"""`predict --k-best K`: the K best joint fills of every mask, by the masks' PLL (core/infer/kbest.py)."""

from __future__ import annotations


def kbest_for(lm, args):
    """The KBestResult of `predict --k-best`, or None when not asked."""
    if getattr(args, "k_best", None) is None:
        if getattr(args, "top_n", None) is not None or getattr(args, "beam", None) is not None:
            from mlm_explorer.errors import InputError

            raise InputError("--top-n and --beam shape the search of --k-best: add --k-best K")
        return None
    from mlm_explorer.core.infer.kbest import kbest_text

    return kbest_text(lm, args.text, k=args.k_best, top_n=args.top_n, beam=args.beam,
                      temperature=args.temperature, truncate=args.truncate)
