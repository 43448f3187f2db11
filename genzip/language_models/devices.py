"""Where and in what precision a language model runs: `--device` and `--dtype` to torch."""

from __future__ import annotations

import torch

from ..errors import InputError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class torch_threads:
    """Run CPU torch work on `threads` threads (default one), then restore the previous count.

    Stepping a small model is latency-bound: more threads only add
    synchronisation (and on a busy machine, a lot of it). One thread also makes
    the stepped floats independent of the machine's core count. Scoped, so that
    building a predictor never changes the thread count of the caller's process.
    """

    def __init__(self, threads: int = 1):
        self.wanted = threads

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        if self.threads != self.wanted:
            torch.set_num_threads(self.wanted)

    def __exit__(self, *exc: object) -> None:
        if self.threads != self.wanted:
            torch.set_num_threads(self.threads)


def resolve_device(name: str) -> torch.device:
    """cpu | cuda | auto -> a torch device (auto: cuda when torch sees one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise InputError(f"unknown device {name!r}; use cpu, cuda or auto")
    return torch.device(name)


def resolve_dtype(name: str | None) -> torch.dtype:
    """float32 (the default) | float16 | bfloat16 -> a torch dtype."""
    if name is None:
        return torch.float32
    if name not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; use {', '.join(DTYPES)}")
    return DTYPES[name]
