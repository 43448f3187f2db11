"""The general-purpose compression libraries as code-length predictors: bz2, zstd, brotli, ppmd
(lzma: `genzip.compressors.xz`).

Each says how to compress and, for ``resolution=bits``, the finest length its
library lets us reach (`BITS_MEANING`); the adapter (`genzip.adapter`) does the rest.
"""

from __future__ import annotations

import bz2
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import CodeLengthPredictor
from ..predictor import RuntimeOptions
from .bitstreams import bz2_bits, zstd_bits
from .brotli_words import word_continuations


class Bz2Predictor(CodeLengthPredictor):
    BITS_MEANING = "exact bits: the zero padding after the end-of-stream marker and CRC is not counted"

    def __init__(self, options: RuntimeOptions, level: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.level = level

    def compressed_size(self, data: bytes) -> int:
        return len(bz2.compress(data, self.level))

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        return np.array(
            [bz2_bits(bz2.compress(context + c, self.level)) for c in continuations], dtype=np.int64
        )


class ZstdPredictor(CodeLengthPredictor):
    BITS_MEANING = "bits of the entropy-coded streams: the end-marker padding of every bitstream removed"

    def __init__(self, options: RuntimeOptions, level: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.level = level
        self._zstd: Any = None

    def _compress(self, data: bytes) -> bytes:
        if self._zstd is None:
            import zstandard

            self._zstd = zstandard.ZstdCompressor(level=self.level)
        return self._zstd.compress(data)

    def compressed_size(self, data: bytes) -> int:
        return len(self._compress(data))

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        return np.array([zstd_bits(self._compress(context + c)) for c in continuations], dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_zstd"] = None
        return state


class BrotliPredictor(CodeLengthPredictor):
    """brotli at a quality; with ``words`` the lookahead also asks about its dictionary's completions of
    a partial word (`genzip.compressors.brotli_words`)."""

    BITS_MEANING = "bits up to the last set bit of the stream (trailing zero data bits are not seen)"

    def __init__(self, options: RuntimeOptions, quality: int, words: bool, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.quality = quality
        self.words = words

    def proposals(self, context: bytes) -> Sequence[bytes]:
        return word_continuations(context) if self.words else ()

    def compressed_size(self, data: bytes) -> int:
        import brotli

        return len(brotli.compress(data, quality=self.quality))

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        import brotli

        out = np.empty(len(continuations), dtype=np.int64)
        for i, c in enumerate(continuations):
            stream = brotli.compress(context + c, quality=self.quality)
            out[i] = 8 * (len(stream) - 1) + max(1, stream[-1].bit_length())
        return out


class PpmdPredictor(CodeLengthPredictor):
    """PPMd variant I as `pyppmd.compress(data, max_order=order, mem_size=memory)` writes it."""

    BITS_MEANING = "whole bytes: pyppmd exposes neither its range coder state nor its model probabilities"
    #: pyppmd 1.3.1 never frees an encoder's model struct (~7 KB per call, ~2 MB per predicted byte)
    LEAKS_MEMORY = True

    def __init__(self, options: RuntimeOptions, order: int, memory: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.order = order
        self.memory = memory

    def compressed_size(self, data: bytes) -> int:
        import pyppmd

        return len(pyppmd.compress(data, max_order=self.order, mem_size=self.memory))
