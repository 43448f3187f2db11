"""Real compressors as predictors, through their code lengths (the paper's adapter).

For a compressor C with code length l(s) in bits, the next-byte distribution is

    p(b | x) = 2^-(l(x.b) - l(x)) / sum_c 2^-(l(x.c) - l(x))

over all 256 bytes, with x cut to its last `context` bytes. l(x) cancels in the
normalisation, so only l(x.b) for the 256 candidates is computed. Lengths are
whole bytes times 8, exactly what the library writes at the stated settings.

Work is spread over processes: the encoder and `score` split *positions*
across workers (each position's lengths are independent integers, so the
result is bit-identical to stepping); a single `distribution()` call (the
decoder, the sampler) splits the 256 *candidates* across workers.
"""

from __future__ import annotations

import bz2
import lzma
import multiprocessing
import zlib
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .predictor import RuntimeOptions, SequencePredictor, normalise

#: a candidate more than this many bits longer than the best gets this penalty, not more
MAX_LENGTH_GAP_BITS = 60
_CANDIDATES = [bytes([b]) for b in range(256)]
#: below this many positions, or candidates, spawning work on other processes does not pay
_MIN_PARALLEL_POSITIONS = 8


def probabilities_from_lengths(lengths_bits: np.ndarray) -> np.ndarray:
    """Distribution(s) p ∝ 2^-length over the last axis; deterministic in the integer lengths."""
    lengths = np.asarray(lengths_bits, dtype=np.float64)
    gap = np.minimum(lengths - lengths.min(axis=-1, keepdims=True), MAX_LENGTH_GAP_BITS)
    return normalise(np.exp2(-gap))


class CodeLengthPredictor(SequencePredictor):
    """Base for compressors seen as predictors; subclasses say how to compress."""

    def __init__(self, options: RuntimeOptions, context: int = 2048) -> None:
        self.options = options
        self.window = context
        self._history = bytearray()
        self._pool: ProcessPoolExecutor | None = None

    # -- what a subclass provides ------------------------------------------
    def compressed_size(self, data: bytes) -> int:
        """Bytes the real compressor writes for `data` at this predictor's settings."""
        raise NotImplementedError

    def candidate_lengths(self, context: bytes, candidates: range = range(256)) -> np.ndarray:
        """Code lengths in bits of C(context + b) for each candidate byte b.

        The default compresses every candidate from scratch; compressors with
        copyable state override it to compress the context once.
        """
        return np.array(
            [8 * self.compressed_size(context + _CANDIDATES[b]) for b in candidates], dtype=np.int64
        )

    # -- SequencePredictor ---------------------------------------------------
    def reset(self, context: bytes = b"") -> None:
        self._history = bytearray(context[-self.window :] if self.window else b"")

    def observe(self, symbol: int) -> None:
        if self.window:
            self._history.append(symbol)
            if len(self._history) > self.window:
                del self._history[: len(self._history) - self.window]

    def distribution(self) -> np.ndarray:
        context = bytes(self._history)
        workers = self.options.worker_count
        if workers == 1:
            lengths = self.candidate_lengths(context)
        else:
            parts = np.array_split(np.arange(256), workers)
            futures = [
                self._executor().submit(_worker_candidates, self.spec, context, int(p[0]), int(p[-1]) + 1)
                for p in parts
            ]
            lengths = np.concatenate([f.result() for f in futures])
        return probabilities_from_lengths(lengths)

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        symbols = np.asarray(symbols, dtype=np.int64)
        buffer = bytes(self._history) + bytes(symbols.astype(np.uint8).tolist())
        offset = len(self._history)
        positions = np.arange(offset, offset + len(symbols))
        workers = self.options.worker_count
        if workers == 1 or len(symbols) < _MIN_PARALLEL_POSITIONS:
            lengths = _lengths_at(self, buffer, positions)
        else:
            parts = [p for p in np.array_split(positions, workers * 4) if len(p)]
            futures = [self._executor().submit(_worker_positions, self.spec, buffer, p) for p in parts]
            lengths = np.concatenate([f.result() for f in futures])
        for s in symbols.tolist():
            self.observe(s)
        return probabilities_from_lengths(lengths)

    def fork(self) -> CodeLengthPredictor:
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._history = bytearray(self._history)
        return twin

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None
        return state

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.options.worker_count, mp_context=multiprocessing.get_context("fork")
            )
        return self._pool


def _lengths_at(predictor: CodeLengthPredictor, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    """Candidate lengths for the context ending before each position of `buffer`."""
    window = predictor.window
    out = np.empty((len(positions), 256), dtype=np.int64)
    for row, pos in enumerate(positions.tolist()):
        out[row] = predictor.candidate_lengths(buffer[max(0, pos - window) : pos] if window else b"")
    return out


_WORKER_PREDICTORS: dict[str, CodeLengthPredictor] = {}


def _worker_predictor(spec: str) -> CodeLengthPredictor:
    if spec not in _WORKER_PREDICTORS:
        from .registry import build

        predictor = build(spec, RuntimeOptions(jobs=1))
        assert isinstance(predictor, CodeLengthPredictor)
        _WORKER_PREDICTORS[spec] = predictor
    return _WORKER_PREDICTORS[spec]


def _worker_positions(spec: str, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    return _lengths_at(_worker_predictor(spec), buffer, positions)


def _worker_candidates(spec: str, context: bytes, lo: int, hi: int) -> np.ndarray:
    return _worker_predictor(spec).candidate_lengths(context, range(lo, hi))


# --- the real compressors ---------------------------------------------------


class _DeflatePredictor(CodeLengthPredictor):
    """Deflate at a zlib level; the context is compressed once and its state copied."""

    WBITS = 15

    def __init__(self, options: RuntimeOptions, level: int = 9, context: int = 2048) -> None:
        super().__init__(options, context)
        self.level = level

    def _compressobj(self) -> Any:
        return zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS)

    def compressed_size(self, data: bytes) -> int:
        c = self._compressobj()
        return len(c.compress(data)) + len(c.flush())

    def candidate_lengths(self, context: bytes, candidates: range = range(256)) -> np.ndarray:
        base = self._compressobj()
        head = len(base.compress(context))
        out = np.empty(len(candidates), dtype=np.int64)
        for i, b in enumerate(candidates):
            c = base.copy()
            out[i] = 8 * (head + len(c.compress(_CANDIDATES[b])) + len(c.flush()))
        return out


class GzipPredictor(_DeflatePredictor):
    """gzip framing (wbits 31, mtime 0): what `gzip.compress(data, level, mtime=0)` writes."""

    WBITS = 31


class ZlibPredictor(_DeflatePredictor):
    """zlib framing: what `zlib.compress(data, level)` writes."""


class Bz2Predictor(CodeLengthPredictor):
    def __init__(self, options: RuntimeOptions, level: int = 9, context: int = 2048) -> None:
        super().__init__(options, context)
        self.level = level

    def compressed_size(self, data: bytes) -> int:
        return len(bz2.compress(data, self.level))


#: xz's dictionary size per preset (liblzma's lzma_lzma_preset)
_PRESET_DICT_SIZE = [1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 22, 1 << 23, 1 << 23, 1 << 24, 1 << 25, 1 << 26]


class LzmaPredictor(CodeLengthPredictor):
    def __init__(self, options: RuntimeOptions, preset: int = 9, context: int = 2048) -> None:
        super().__init__(options, context)
        self.preset = preset

    def compressed_size(self, data: bytes) -> int:
        """Length of `lzma.compress(data, preset=preset)` (xz container).

        The preset's LZMA2 filter is used with its dictionary cut to the next
        power of two >= the input (min 4 KiB): the bytes written differ only in
        the dictionary-size header field, the length is the same (tested), and
        it skips allocating preset 9's 64 MiB dictionary per call (~270x faster
        on 2 KB inputs).
        """
        dict_size = max(4096, 1 << max(len(data) - 1, 1).bit_length())
        if dict_size >= _PRESET_DICT_SIZE[self.preset]:
            return len(lzma.compress(data, format=lzma.FORMAT_XZ, preset=self.preset))
        lzma2 = {"id": lzma.FILTER_LZMA2, "preset": self.preset, "dict_size": dict_size}
        return len(lzma.compress(data, format=lzma.FORMAT_XZ, filters=[lzma2]))


class ZstdPredictor(CodeLengthPredictor):
    def __init__(self, options: RuntimeOptions, level: int = 19, context: int = 2048) -> None:
        super().__init__(options, context)
        self.level = level
        self._zstd: Any = None

    def compressed_size(self, data: bytes) -> int:
        if self._zstd is None:
            import zstandard

            self._zstd = zstandard.ZstdCompressor(level=self.level)
        return len(self._zstd.compress(data))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_zstd"] = None
        return state


class BrotliPredictor(CodeLengthPredictor):
    def __init__(self, options: RuntimeOptions, quality: int = 11, context: int = 2048) -> None:
        super().__init__(options, context)
        self.quality = quality

    def compressed_size(self, data: bytes) -> int:
        import brotli

        return len(brotli.compress(data, quality=self.quality))


class PpmdPredictor(CodeLengthPredictor):
    """PPMd variant I as `pyppmd.compress(data, max_order=order, mem_size=memory)` writes it."""

    def __init__(self, options: RuntimeOptions, order: int = 6, memory: int = 16 << 20, context: int = 2048) -> None:
        super().__init__(options, context)
        self.order = order
        self.memory = memory

    def compressed_size(self, data: bytes) -> int:
        import pyppmd

        return len(pyppmd.compress(data, max_order=self.order, mem_size=self.memory))
