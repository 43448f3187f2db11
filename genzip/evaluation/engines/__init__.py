"""Evaluation engines: the local process pool (default) and a Ray cluster."""

from __future__ import annotations

from ...errors import InputError
from ...predictor import RuntimeOptions
from .base import Engine

ENGINES = ("local", "ray")


def make_engine(name: str, options: RuntimeOptions, native_only: bool, address: str | None = None) -> Engine:
    """The engine called `name`; `address` joins a running Ray cluster (ray engine only)."""
    if name == "local":
        if address is not None:
            raise InputError("--address needs --engine ray")
        from .local import LocalEngine

        return LocalEngine(options, native_only)
    if name == "ray":
        from .ray import RayEngine

        return RayEngine(options, native_only, address)
    raise InputError(f"unknown engine {name!r}; use {' or '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "make_engine"]
