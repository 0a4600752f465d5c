"""Which precision a run's network pass uses on a device, and the memory layout that goes with it.

`Settings.precision` is "fp32", "bf16" or "auto". "auto" is bf16 where the hardware has
bf16 matrix units, so that autocast pays, and fp32 elsewhere:

- a CPU with AMX (`amx_bf16`) or AVX-512 BF16 (`avx512_bf16`) among its /proc/cpuinfo flags;
- a CUDA GPU of compute capability 8.0 or more (Ampere, Hopper: bf16 tensor cores);
- fp32 on every other device (an AVX2-only CPU converts bf16 in software, slower than fp32).

Under bf16 the network runs under autocast in channels_last (NHWC), the layout oneDNN's and
cuDNN's bf16 convolutions take without a reorder per layer; the losses, their statistics
and the optimizer stay float32 (`nst.objective.feature_matrix`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

__all__ = ["BF16_CPU_FLAGS", "BF16_CUDA_CAPABILITY", "cpu_info", "bf16_pays", "precision_used", "memory_format",
           "describe_cpu"]

# /proc/cpuinfo flags of the bf16 matrix units that make CPU autocast pay.
BF16_CPU_FLAGS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")
# Ampere and later: bf16 tensor cores.
BF16_CUDA_CAPABILITY = (8, 0)


@functools.lru_cache(maxsize=1)
def cpu_info() -> tuple[str, frozenset[str]]:
    """This CPU's model name and its flags, as Linux's /proc/cpuinfo lists them ("", {} elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", frozenset()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:  # the first processor's; every core has the same
            fields[key.strip()] = value.strip()
    return fields.get("model name", ""), frozenset(fields.get("flags", "").split())


def bf16_pays(device: torch.device) -> bool:
    """Whether bf16 autocast is faster than fp32 on `device`: a CPU with one of `BF16_CPU_FLAGS`,
    or a CUDA GPU of compute capability `BF16_CUDA_CAPABILITY` or more."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= BF16_CUDA_CAPABILITY
    if device.type == "cpu":
        return any(flag in cpu_info()[1] for flag in BF16_CPU_FLAGS)
    return False


def precision_used(precision: str, device: torch.device) -> str:
    """"fp32" or "bf16": `precision` itself, or for "auto" bf16 where it pays (`bf16_pays`)."""
    if precision != "auto":
        return precision
    return "bf16" if bf16_pays(device) else "fp32"


def memory_format(precision: str) -> torch.memory_format:
    """The layout of the network's weights and activations under a resolved `precision`:
    channels_last for bf16, the ordinary contiguous one for fp32 (its results stay bit for bit)."""
    return torch.channels_last if precision == "bf16" else torch.contiguous_format


def describe_cpu() -> str:
    """'AMD EPYC; AMX no, AVX-512 BF16 no' (the units `bf16_pays` looks for)."""
    name, flags = cpu_info()
    return (f"{name or 'CPU'}; AMX {'yes' if 'amx_bf16' in flags else 'no'}, "
            f"AVX-512 BF16 {'yes' if 'avx512_bf16' in flags else 'no'}")
