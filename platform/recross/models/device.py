"""Where models run: one rule for every module, so a GPU is used when present without a code change."""

from __future__ import annotations

import torch

from recross.errors import ConfigError


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; an explicit device must exist."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"models.device={device!r} is not a torch device ({exc}). "
                          "Fix: use 'auto', 'cpu' or 'cuda[:N]'.") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"models.device={device!r} but no CUDA GPU is visible. "
                          "Fix: set models.device to 'auto' or 'cpu'.")
    return chosen


def bf16_supported(device: torch.device) -> bool:
    """Mixed precision only where the hardware has native bf16 (Ampere+ GPUs); CPU stays fp32."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def use_cpu_threads(threads: int) -> None:
    """Run torch's CPU ops on ``threads`` threads; ONNX Runtime sessions opened afterwards read
    the same count (models/onnx_runtime.py), so one budget covers both runtimes."""
    if threads < 1:
        raise ConfigError(f"{threads} CPU threads asked for. Fix: ask for 1 or more.")
    torch.set_num_threads(threads)
