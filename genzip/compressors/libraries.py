"""The general-purpose compression libraries as code-length predictors: bz2, lzma, zstd, brotli, ppmd.

Each says how to compress and, for ``resolution=bits``, the finest length its
library lets us reach (`BITS_MEANING`); the adapter (`genzip.adapter`) does the rest.
"""

from __future__ import annotations

import bz2
import lzma
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import CodeLengthPredictor
from ..predictor import RuntimeOptions
from .bitstreams import bz2_bits, zstd_bits
from .brotli_words import word_continuations
from .lzma_bits import COST_SCALE, context_costs


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


#: xz's dictionary size per preset (liblzma's lzma_lzma_preset)
_PRESET_DICT_SIZE = [1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 22, 1 << 23, 1 << 23, 1 << 24, 1 << 25, 1 << 26]


class LzmaPredictor(CodeLengthPredictor):
    """xz at a preset; with ``exact`` the raw LZMA2 stream is decoded again to sum the information
    content of its range-coded decisions (`genzip.compressors.lzma_bits`), finer than its bytes."""

    BITS_MEANING = (
        "exact: the information content of the raw LZMA2 stream's coded decisions, decoded again "
        "(without exact: its whole bytes; neither counts the xz container)"
    )

    def __init__(self, options: RuntimeOptions, preset: int, exact: bool, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.preset = preset
        self.exact = exact

    def _filter(self, size: int) -> dict[str, Any]:
        """The preset's LZMA2 filter, its dictionary cut to the next power of two >= size (min 4 KiB).

        The bytes written differ only in the dictionary-size header field (the
        raw stream not even there; tested), and it skips allocating preset 9's
        64 MiB dictionary per call (~270x faster on 2 KB inputs).
        """
        dict_size = max(4096, 1 << max(size - 1, 1).bit_length())
        if dict_size >= _PRESET_DICT_SIZE[self.preset]:
            return {"id": lzma.FILTER_LZMA2, "preset": self.preset}
        return {"id": lzma.FILTER_LZMA2, "preset": self.preset, "dict_size": dict_size}

    def compressed_size(self, data: bytes) -> int:
        """Length of `lzma.compress(data, preset=preset)` (xz container)."""
        return len(lzma.compress(data, format=lzma.FORMAT_XZ, filters=[self._filter(len(data))]))

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        streams = [
            lzma.compress(context + c, format=lzma.FORMAT_RAW, filters=[self._filter(len(context) + len(c))])
            for c in continuations
        ]
        if self.exact:  # multiples of 2^-16 bit: exact in float64
            return context_costs(context, continuations, streams) / COST_SCALE
        return np.array([8 * len(s) for s in streams], dtype=np.int64)


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
