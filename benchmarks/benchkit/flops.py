"""Model FLOPs of a BERT-shaped masked LM, and model FLOPs utilisation (MFU).

Per token and layer, the forward pass multiplies and adds
    4 H^2        the query, key, value and output projections
    2 H I        the feed-forward block (H -> I -> H)
    2 L H        attention scores (Q K^T) and mixing (A V) over a block of L tokens
and the MLM head, at each position it runs at, H^2 (transform) + H V (vocabulary projection).
A multiply-add is 2 FLOPs and training (forward + backward) costs 3 forwards, so

    training FLOPs per token = 6 * layers * (4 H^2 + 2 H I + 2 L H) + 6 * f * (H^2 + H V)

where f is the fraction of positions the head runs at: 1 for the usual full head, the masked
fraction (~0.15) for our sparse head. Embedding look-ups, layer norms, softmax and biases are
left out (PaLM's convention; they are a few percent). MFU = achieved FLOPs/s / the device's
peak dense bf16 FLOPs/s. `tests/test_bench_kit.py` checks the formula against
torch.utils.flop_counter on a small BERT.
"""

from __future__ import annotations

# Dense bf16 tensor-core peaks in TFLOPs/s, from the vendors' data sheets (no sparsity).
PEAK_BF16_TFLOPS = {
    "H200": 989.0, "H100": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0,  # "NVIDIA H100 80GB HBM3" is the SXM part
    "A100": 312.0, "A800": 312.0, "L40S": 362.0, "L40": 181.0, "L4": 121.0, "A10G": 70.0, "A10": 125.0,
    "A40": 150.0, "A6000": 155.0, "RTX 4090": 165.0, "RTX 3090": 71.0,
    "V100": 125.0, "T4": 65.0,  # fp16: these have no bf16
}


def encoder_macs_per_token(layers: int, hidden: int, intermediate: int, block: int) -> int:
    return layers * (4 * hidden * hidden + 2 * hidden * intermediate + 2 * block * hidden)


def head_macs_per_position(hidden: int, vocab: int) -> int:
    return hidden * hidden + hidden * vocab


def training_flops_per_token(config, block: int, head_fraction: float = 1.0) -> float:
    """Training FLOPs per token of a BERT-shaped `config` (hidden_size, intermediate_size,
    num_hidden_layers, vocab_size) at block length `block`, the head at `head_fraction` of positions."""
    enc = encoder_macs_per_token(config.num_hidden_layers, config.hidden_size, config.intermediate_size, block)
    head = head_macs_per_position(config.hidden_size, config.vocab_size)
    return 6.0 * (enc + head_fraction * head)


def peak_flops(gpu_name: str | None, override_tflops: float | None = None) -> float | None:
    """The device's peak dense bf16 FLOPs/s: `override_tflops` if given, else looked up by the
    longest matching name in PEAK_BF16_TFLOPS; None when unknown (MFU is then not printed)."""
    if override_tflops:
        return override_tflops * 1e12
    if not gpu_name:
        return None
    matches = [k for k in PEAK_BF16_TFLOPS if k.lower() in gpu_name.lower()]
    return PEAK_BF16_TFLOPS[max(matches, key=len)] * 1e12 if matches else None


def mfu(tokens_per_s: float, flops_per_token: float, peak: float | None) -> float | None:
    """Model FLOPs utilisation, 0..1 (None without a known peak)."""
    return None if not peak else tokens_per_s * flops_per_token / peak
