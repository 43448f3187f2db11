"""Spec parameters and registry entries: what a predictor family declares."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import SpecError
from ..predictor import SequencePredictor


class _NoLegacy:
    """Marks a parameter that every stored spec names (it existed from the start)."""

    def __repr__(self) -> str:
        return "NO_LEGACY"


NO_LEGACY: Any = _NoLegacy()


@dataclass(frozen=True)
class Param:
    """One spec parameter: its type, default, allowed values and meaning."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    positional: bool = False
    #: the behaviour before this parameter existed; a stored spec (a container header) that does not
    #: name the parameter was written by an older genzip and gets this value instead of `default`
    legacy: Any = NO_LEGACY

    def parse(self, raw: str, predictor: str) -> Any:
        """Convert and validate a raw string value; raise SpecError with a clear message."""
        try:
            if self.type is bool:
                lowered = raw.lower()
                if lowered not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(raw)
                value: Any = lowered in ("1", "true", "yes")
            elif self.type is int:
                value = _parse_int(raw)
            else:
                value = self.type(raw)
        except ValueError:
            raise SpecError(
                f"{predictor}: parameter {self.name}={raw!r} is not a valid {self.type.__name__}"
            ) from None
        self.validate(value, predictor)
        return value

    def validate(self, value: Any, predictor: str) -> None:
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            raise SpecError(f"{predictor}: {self.name}={value} is not one of {allowed}")
        if self.minimum is not None and value < self.minimum:
            raise SpecError(f"{predictor}: {self.name}={value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(f"{predictor}: {self.name}={value} is above the maximum {self.maximum}")

    def describe(self) -> str:
        """`name=allowed [default]`, one short line for `genzip list`."""
        default = "required" if self.default is None and self.positional else _fmt_value(self.default)
        return f"{self.name}={self.allowed()} [{default}]"

    def allowed(self) -> str:
        if self.choices is not None:
            allowed = "|".join(str(c) for c in self.choices)
        elif self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else _fmt(self.minimum)
            hi = "" if self.maximum is None else _fmt(self.maximum)
            allowed = f"{lo}..{hi}"
        else:
            allowed = self.type.__name__
        return allowed


def _fmt_value(value: Any) -> str:
    """Defaults as a user would type them: 16m rather than 16777216."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 << 20 or value % (1 << 20):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return f"{value >> 20}m"


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _parse_int(raw: str) -> int:
    """Integers with optional k/m suffix (``16m`` = 16 * 2**20)."""
    raw = raw.strip().lower()
    scale = 1
    if raw.endswith("k"):
        scale, raw = 1 << 10, raw[:-1]
    elif raw.endswith("m"):
        scale, raw = 1 << 20, raw[:-1]
    return int(raw) * scale


class Kind(StrEnum):
    """What a predictor is inside; tools schedule work by it (language models run in one process)."""

    COMPRESSOR = "compressor"
    CONTEXT_MODEL = "context model"
    LANGUAGE_MODEL = "language model"
    MIXTURE = "mixture"  # mix:A+B, made of other predictors


@dataclass(frozen=True)
class Entry:
    """A registered predictor family."""

    name: str
    target: str  # "module:Class"; the class is built as Class(options=..., **params)
    summary: str
    kind: Kind  # a plain string naming a kind is accepted and converted (an unknown one is an error)
    params: tuple[Param, ...] = field(default_factory=tuple)
    #: named sets of parameter values (spec key PRESET, e.g. gzip:adapter=paper); explicit values override them
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    nested: bool = False  # takes component specs: name:[options+]A+B+...

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))

    def load_class(self) -> Callable[..., SequencePredictor]:
        module_name, class_name = self.target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, class_name)
