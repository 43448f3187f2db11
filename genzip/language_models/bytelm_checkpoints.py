"""bytelm checkpoints: the shipped ones, saving (atomically), reading with clear errors, and the tensor digest."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from ..errors import SpecError
from ..files import atomic_path
from .bytelm import ByteTransformer, Config

#: where the shipped checkpoints live inside the package
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
CHECKPOINT_FORMAT = "genzip-bytelm-1"


def shipped_checkpoint(size: str) -> Path:
    """Path of the checkpoint shipped in the package for `size` (may not exist)."""
    return CHECKPOINT_DIR / f"bytelm-{size}.pt"


def save_checkpoint(path: Path, model: ByteTransformer, size: str, **extra: Any) -> None:
    """Write a checkpoint atomically (`genzip.files.atomic_path`): weights, config and `extra` metadata."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "size": size,
        "config": asdict(model.config),
        "model": {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()},
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint dict, with a clear error when it is missing or not a bytelm checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"bytelm: no checkpoint file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise SpecError(f"bytelm: {path} is not a readable checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SpecError(f"bytelm: {path} is not a genzip bytelm checkpoint")
    return state


def load_model(state: dict[str, Any]) -> ByteTransformer:
    """Build the model a checkpoint dict describes and load its weights."""
    model = ByteTransformer(Config(**state["config"]))
    model.load_state_dict(state["model"])
    return model


def parameters_blake2b(model: nn.Module) -> str:
    """blake2b-128 over every parameter's name, shape and float32 bytes, in state-dict order."""
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()
