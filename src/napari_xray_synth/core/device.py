"""The one function that picks the torch device, and mixed precision on CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from napari_xray_synth.core.errors import InputError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """The devices this machine has, best first ("cpu" is always last)."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def pick_device(choice: str | torch.device | None = "auto") -> torch.device:
    """Resolve a device choice: an explicit choice wins; "auto" takes cuda, then mps, then cpu.

    Parameters
    ----------
    choice : str, torch.device or None
        "auto" (or None), "cpu", "cuda", "cuda:N" or "mps".

    Raises
    ------
    InputError
        When the chosen device is not on this machine.
    """
    if isinstance(choice, torch.device):
        return choice
    choice = (choice or "auto").lower()
    if choice == "auto":
        return torch.device(available_devices()[0])
    kind = choice.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise InputError(f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if kind not in available_devices():
        raise InputError(f"device {choice!r} is not available on this machine")
    return torch.device(choice)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Mixed precision (float16) on CUDA; a no-op elsewhere."""
    if enabled and device.type == "cuda":
        with torch.autocast("cuda", dtype=torch.float16):
            yield
    else:
        yield
