"""The two views of a token model, behind one registry entry: `view=tokens` (symbols are token ids,
`hf.HFPredictor`) and `view=bytes` (an exact next-byte predictor, `ByteViewPredictor`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from ..predictor import RuntimeOptions, SequencePredictor
from .byte_streams import ByteViewStreams
from .byte_view import (
    DEFAULT_BEAM,
    DEFAULT_LAZY,
    DEFAULT_PRUNE,
    BeamSettings,
    BeamStats,
    TokenModel,
)
from .files import smollm2_path
from .hf import DEFAULT_WINDOW_TOKENS, HFPredictor
from .hf_engines import LlamaEngine

VIEWS = ("tokens", "bytes")


class ByteViewPredictor(SequencePredictor):
    """A token model as a byte-level predictor (alphabet 256): see `byte_view`."""

    def __init__(
        self,
        tokens: HFPredictor,
        prune: float = DEFAULT_PRUNE,
        beam: int = DEFAULT_BEAM,
        lazy: float = DEFAULT_LAZY,
    ) -> None:
        if not isinstance(tokens.engine, LlamaEngine):
            raise SpecError(f"view=bytes needs a Llama-family model (llama, qwen2); {tokens.path} is not one")
        self.tokens = tokens
        tokens.close()  # only its model, codec and identity are used
        self.settings = BeamSettings(prune=prune, beam=beam, lazy=lazy)
        self.model = TokenModel(tokens.engine, tokens.codec, tokens.bos, tokens.window)
        self.streams: ByteViewStreams
        self.reset(b"")

    def reset(self, context: bytes = b"") -> None:
        """Start from BOS and read `context` byte by byte (so a prompt ending mid-token is exact)."""
        self.streams = ByteViewStreams(self.model, 1, self.settings)
        for byte in bytes(context):
            self.streams.observe(np.array([byte]))

    def distribution(self) -> np.ndarray:
        return self.streams.distributions()[0]

    def observe(self, symbol: int) -> None:
        self.streams.observe(np.array([int(symbol)]))

    def fork(self) -> ByteViewPredictor:
        twin = object.__new__(ByteViewPredictor)
        twin.__dict__.update(self.__dict__)
        twin.streams = self.streams.clone()
        return twin

    def open_streams(self, count: int) -> ByteViewStreams:
        return ByteViewStreams(self.model, count, self.settings)

    @property
    def stats(self) -> BeamStats:
        """Branches and pruned mass of the current stream since `reset`."""
        return self.streams.stats

    def fingerprint(self) -> dict[str, Any]:
        return {
            **self.tokens.fingerprint(),
            "view": "bytes",
            "prune": self.settings.prune,
            "beam": self.settings.beam,
            "lazy": self.settings.lazy,
        }

    def model_size_bytes(self) -> int:
        return self.tokens.model_size_bytes()


def build_view(
    tokens: HFPredictor, view: str | None, prune: float | None, beam: int | None, lazy: float | None
) -> SequencePredictor:
    """The token predictor itself, or its byte view."""
    if (view or "tokens") == "tokens":
        if prune is not None or beam is not None or lazy is not None:
            raise SpecError("prune=, beam= and lazy= only apply to view=bytes")
        return tokens
    return ByteViewPredictor(
        tokens,
        DEFAULT_PRUNE if prune is None else prune,
        DEFAULT_BEAM if beam is None else beam,
        DEFAULT_LAZY if lazy is None else lazy,
    )


def hf_predictor(
    options: RuntimeOptions,
    path: str,
    window: int = DEFAULT_WINDOW_TOKENS,
    view: str | None = None,
    prune: float | None = None,
    beam: int | None = None,
    lazy: float | None = None,
) -> SequencePredictor:
    """`hf:PATH[,window=N,view=tokens|bytes,prune=P,beam=K,lazy=L]`."""
    return build_view(HFPredictor(options, path, window), view, prune, beam, lazy)


def smollm2_predictor(
    options: RuntimeOptions,
    window: int = DEFAULT_WINDOW_TOKENS,
    view: str | None = None,
    prune: float | None = None,
    beam: int | None = None,
    lazy: float | None = None,
) -> SequencePredictor:
    """`smollm2[:window=N,view=tokens|bytes,prune=P,beam=K,lazy=L]`."""
    return build_view(HFPredictor(options, str(smollm2_path()), window), view, prune, beam, lazy)
