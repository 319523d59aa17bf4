"""The random state a checkpoint carries, one entry per rank, and how a resume restores it.

Per rank: the masking generator (on the training device), torch's CPU RNG and, on CUDA, the
device's RNG (dropout). Rank 0 gathers every rank's entry into the checkpoint:

    trainer_state["rng"] = [{"mask_generator": uint8, "torch_rng": uint8, "cuda_rng": uint8?}, ...]
    trainer_state["rng_device"] = "cpu" | "cuda"    (where the mask generators lived)
    trainer_state["world_size"] = N

A resume restores rank r's entry when the run has the same number of processes and the same
device type. Otherwise the states cannot be carried over (a CUDA generator's state is 16 bytes,
a CPU one's 5,056: `set_state` of one on the other raises; with another world size the shares
of each batch change hands), so every rank is reseeded from (seed, rank, step) - distinct per
rank, reproducible - and the job says so in one line. Checkpoints written before this format
(one rank-0 `mask_generator` / `torch_rng`) restore on a single process, else are reseeded.
"""

from __future__ import annotations

import torch

CPU_STATE_BYTES = 5056  # a CPU generator's state (mt19937); a CUDA (Philox) state is 16 bytes


def capture(gen: torch.Generator, device: torch.device) -> dict:
    """This rank's random state."""
    entry = {"mask_generator": gen.get_state(), "torch_rng": torch.get_rng_state()}
    if device.type == "cuda":
        entry["cuda_rng"] = torch.cuda.get_rng_state(device)
    return entry


def checkpoint_fields(entries: list[dict], device: torch.device) -> dict:
    """The trainer-state fields for every rank's entry (gathered on rank 0)."""
    return {"rng": entries, "rng_device": device.type, "world_size": len(entries)}


def _saved(state: dict) -> tuple[list[dict], str]:
    """(entries, device type) of a trainer state, in the current or the earlier format."""
    if "rng" in state:
        return list(state["rng"]), str(state["rng_device"])
    entry = {"mask_generator": state["mask_generator"], "torch_rng": state["torch_rng"]}
    if "cuda_rng" in state:
        entry["cuda_rng"] = state["cuda_rng"]
    kind = "cpu" if state["mask_generator"].numel() == CPU_STATE_BYTES else "cuda"
    entries = [entry] if int(state.get("world_size", 1)) == 1 else []  # other ranks' states were not kept
    return entries, kind


def reseed(gen: torch.Generator, *, seed: int, rank: int, step: int) -> None:
    """Fresh, reproducible streams for this rank at `step` (masks and dropout)."""
    base = (seed * 1_000_003 + step) * 4099 + rank
    gen.manual_seed(base)
    torch.manual_seed(base + 7)  # CPU and every CUDA device


def restore(state: dict, gen: torch.Generator, *, device: torch.device, rank: int, world_size: int,
            seed: int, step: int) -> str | None:
    """Restore this rank's random state from a trainer state; when it cannot be, reseed and
    return the one line that says why (None when restored)."""
    entries, kind = _saved(state)
    if kind != gen.device.type:
        why = (f"the checkpoint's mask generators ran on {kind} and this run is on {gen.device.type}, "
               "so masks and dropout are drawn afresh from --seed and the step")
    elif len(entries) != world_size:
        saved = int(state.get("world_size", len(entries)))
        why = (f"the checkpoint was written by {saved} process(es) and this run has {world_size}, "
               "so every process's masks and dropout are drawn afresh from --seed, its rank and the step")
    else:
        entry = entries[rank]
        gen.set_state(entry["mask_generator"])
        torch.set_rng_state(entry["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in entry:
            torch.cuda.set_rng_state(entry["cuda_rng"], device)
        return None
    reseed(gen, seed=seed, rank=rank, step=step)
    return why
