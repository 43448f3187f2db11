"""Real compressors as predictors, through their code lengths (the paper's adapter, improved).

For a compressor C with code length l(s) in bits, the paper's next-byte distribution is

    p(b | x) = 2^-(l(x.b) - l(x)) / sum_c 2^-(l(x.c) - l(x))

over all 256 bytes, with x cut to its last `context` bytes. l(x) cancels in the
normalisation, so only l(x.b) for the 256 candidates is needed.

Four options (spec parameters) improve on it; see `genzip.lookahead`:

* ``resolution=bytes`` is the paper's formula exactly: l = 8 x the bytes the
  library writes. ``resolution=bits`` (the default) uses the finest length each
  library lets us reach: exact bits for deflate (ctypes on the system zlib) and
  bzip2 (end-of-stream marker found in the tail), entropy-coded bits for zstd
  (bitstream end markers), the last byte's used bits for brotli, and the raw
  LZMA2 stream in bytes for xz (no container, no 4-byte padding). PPMd stays
  at whole bytes: pyppmd exposes neither its range coder state nor its model.
* ``calibrate=true``: an online Bayesian mixture over temperatures and uniform
  mixing, fitted only on bytes already coded.
* ``lookahead=K``: multi-byte continuations copied from the context are scored
  too and credited to their first byte at their per-byte rate.
* ``dither=D``: lengths are measured after D contexts with shifted starts and
  averaged, which turns whole-byte lengths into finer ones (D times the work).
* ``candidates=seen``: only the bytes present in the context window are measured
  one by one; the bytes it lacks share the length of one of them (the lowest),
  measured too. Text uses ~70 distinct bytes, so this is ~3x less work for the
  same bits/byte (within 2% either way in `benchmarks/adapter_quality.py`).

Work is spread over processes: the encoder and `score` split *positions*
across workers (each position's lengths are independent integers, so the
result is bit-identical to stepping); a single `distribution()` call (the
decoder, the sampler) splits the *candidates* across workers. A library that
leaks memory on every call (pyppmd) is only ever called in worker processes,
which are replaced after ~20,000 calls each.
"""

from __future__ import annotations

import bz2
import lzma
import multiprocessing
import multiprocessing.util
import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .errors import SpecError
from .lookahead import MAX_CONTINUATIONS, Calibrator, combine, continuation_candidates, evidence
from .predictor import RuntimeOptions, SequencePredictor, normalise

#: a candidate more than this many bits longer than the best gets this penalty, not more
MAX_LENGTH_GAP_BITS = 60
_CANDIDATES = [bytes([b]) for b in range(256)]
#: below this many positions, workers share each position's candidates instead of whole positions
_MIN_PARALLEL_POSITIONS = 8
#: for a library that leaks memory per call (LEAKS_MEMORY): library calls per worker before the workers are replaced
LEAKY_CALLS_PER_WORKER = 20_000
RESOLUTIONS = ("bits", "bytes")
CANDIDATE_SETS = ("all", "seen")
#: dithered contexts drop this many more bytes from their start each
DITHER_STEP = 3
MAX_DITHER = 64


@dataclass(frozen=True)
class MeasurementPlan:
    """What to measure after one context, and how to read the lengths back.

    `items` holds the single bytes to measure, then (when `relative`) b"" and
    the continuations. `slot[b]` is the measured single whose length byte b
    takes (the identity when every byte is measured).
    """

    items: list[bytes]
    singles: int
    slot: np.ndarray
    continuations: list[bytes]
    relative: bool

    def single_lengths(self, lengths: np.ndarray) -> np.ndarray:
        """Lengths of all 256 single bytes, shape (..., 256), from lengths over `items`."""
        return lengths[..., self.slot]


_ALL_SLOTS = np.arange(256)
_ALL_SLOTS.flags.writeable = False


def probabilities_from_lengths(lengths_bits: np.ndarray) -> np.ndarray:
    """Distribution(s) p ∝ 2^-length over the last axis; deterministic in the integer lengths."""
    lengths = np.asarray(lengths_bits, dtype=np.float64)
    gap = np.minimum(lengths - lengths.min(axis=-1, keepdims=True), MAX_LENGTH_GAP_BITS)
    return normalise(np.exp2(-gap))


class CodeLengthPredictor(SequencePredictor):
    """Base for compressors seen as predictors; subclasses say how to compress."""

    #: what ``resolution=bits`` measures for this compressor (README table)
    BITS_MEANING = "whole bytes: no finer length is reachable"
    #: the library leaks memory on every call: compress only in worker processes that get replaced
    LEAKS_MEMORY = False

    def __init__(
        self,
        options: RuntimeOptions,
        context: int = 2048,
        resolution: str = "bits",
        calibrate: bool = False,
        lookahead: int = 0,
        dither: int = 1,
        candidates: str = "all",
    ) -> None:
        if resolution not in RESOLUTIONS:
            raise SpecError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        if lookahead < 0 or lookahead == 1:
            raise SpecError(f"lookahead must be 0 (off) or >= 2 bytes, got {lookahead}")
        if not 1 <= dither <= MAX_DITHER:
            raise SpecError(f"dither must be 1 (off) to {MAX_DITHER}, got {dither}")
        if candidates not in CANDIDATE_SETS:
            raise SpecError(f"candidates must be one of {', '.join(CANDIDATE_SETS)}, got {candidates!r}")
        self.options = options
        self.window = context
        self.resolution = resolution
        self.calibrate = calibrate
        self.lookahead = lookahead
        self.dither = dither
        self.candidates = candidates
        self._history = bytearray()
        self._workers: _Workers | None = None
        self._calibrator: Calibrator | None = Calibrator(bool(lookahead)) if calibrate else None
        self._experts: np.ndarray | None = None  # calibration experts of the current position

    # -- what a subclass provides ------------------------------------------
    def compressed_size(self, data: bytes) -> int:
        """Bytes the real compressor writes for `data` at this predictor's settings."""
        raise NotImplementedError

    def byte_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """8 x the bytes the library writes for context + c, for each continuation c.

        The default compresses each from scratch; compressors with copyable
        state override it to compress the context once.
        """
        return np.array([8 * self.compressed_size(context + c) for c in continuations], dtype=np.int64)

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """The finest reachable length in bits of context + c (see BITS_MEANING); up to a constant."""
        return self.byte_lengths(context, continuations)

    # -- derived ---------------------------------------------------------------
    def candidate_lengths(self, context: bytes, candidates: range = range(256)) -> np.ndarray:
        """The paper's lengths: 8 x the bytes the library writes for context + b, per candidate byte b."""
        return self.byte_lengths(context, [_CANDIDATES[b] for b in candidates])

    def code_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """Lengths in bits at this predictor's resolution."""
        if self.resolution == "bytes":
            return self.byte_lengths(context, continuations)
        return self.bit_lengths(context, continuations)

    def plan(self, context: bytes) -> MeasurementPlan:
        """What to measure after `context`: the single bytes (all 256, or those in the context plus
        one stand-in for the rest), then (lookahead or dither) b"" and the continuations."""
        if self.candidates == "all":
            singles, slot = _CANDIDATES, _ALL_SLOTS
        else:
            present = np.zeros(256, dtype=bool)
            present[np.frombuffer(context, dtype=np.uint8)] = True
            measured = np.flatnonzero(present)
            absent = np.flatnonzero(~present)
            slot = np.empty(256, dtype=np.int64)
            slot[measured] = np.arange(len(measured))
            if len(absent):  # the lowest absent byte stands in for all of them (equal weights, no tie-break)
                slot[absent] = len(measured)
                measured = np.append(measured, absent[0])
            singles = [_CANDIDATES[b] for b in measured.tolist()]
        relative = bool(self.lookahead) or self.dither > 1
        if not relative:
            return MeasurementPlan(singles, len(singles), slot, [], False)
        continuations = continuation_candidates(context, self.lookahead) if self.lookahead else []
        return MeasurementPlan([*singles, b"", *continuations], len(singles), slot, continuations, True)

    def measure(self, context: bytes, items: Sequence[bytes]) -> np.ndarray:
        """Lengths of context + item, shape (dither, len(items)): one row per dithered context,
        the d-th dropping the first d * DITHER_STEP bytes of `context`."""
        return np.stack([self.code_lengths(context[d * DITHER_STEP :], items) for d in range(self.dither)])

    def units_from_lengths(self, lengths: np.ndarray, plan: MeasurementPlan) -> np.ndarray:
        """One position's evidence (int64 (2, 256), see `genzip.lookahead.evidence`) from `measure`'s lengths.

        With dither D the lengths of the D contexts are taken relative to each
        context's own length and summed, so whole-byte lengths average into
        finer ones (the byte boundaries fall at different points for each).
        """
        if not plan.relative:
            return evidence(plan.single_lengths(lengths[0]))
        relative = (lengths - lengths[:, plan.singles : plan.singles + 1]).sum(axis=0)
        return evidence(
            plan.single_lengths(relative), 0, plan.continuations, relative[plan.singles + 1 :], divisor=self.dither
        )

    def calls_per_position(self) -> int:
        """Library calls one position's evidence takes at most (every byte, b"" and every continuation,
        in each dithered context)."""
        return (256 + (1 + MAX_CONTINUATIONS if self.lookahead or self.dither > 1 else 0)) * self.dither

    def units(self, context: bytes) -> np.ndarray:
        """One position's evidence after `context`, computed in this process."""
        plan = self.plan(context)
        return self.units_from_lengths(self.measure(context, plan.items), plan)

    def probabilities(self, units: np.ndarray) -> np.ndarray:
        """The distribution(s) for evidence of one position (2, 256) or many (n, 2, 256), uncalibrated."""
        return normalise(combine(units))

    # -- SequencePredictor ---------------------------------------------------
    def reset(self, context: bytes = b"") -> None:
        self._history = bytearray(context[-self.window :] if self.window else b"")
        self._calibrator = Calibrator(bool(self.lookahead)) if self.calibrate else None
        self._experts = None

    def _push(self, symbol: int) -> None:
        if self.window:
            self._history.append(symbol)
            if len(self._history) > self.window:
                del self._history[: len(self._history) - self.window]

    def observe(self, symbol: int) -> None:
        if self._calibrator is not None:
            if self._experts is None:
                self._experts = self._calibrator.experts(self._position_units(self._context()))
            self._calibrator.update(self._experts, int(symbol))
            self._experts = None
        self._push(symbol)

    def _context(self) -> bytes:
        return bytes(self._history) if self.window else b""

    def _units_split(self, context: bytes) -> np.ndarray:
        """One position's evidence with its candidates split over the worker processes."""
        plan = self.plan(context)
        items = plan.items
        parts = [p for p in np.array_split(np.arange(len(items)), self.options.worker_count) if len(p)]
        pool = self._executor(len(items) * self.dither)
        futures = [pool.submit(_worker_items, self.spec, context, items[p[0] : p[-1] + 1]) for p in parts]
        lengths = np.concatenate([f.result() for f in futures], axis=1)
        return self.units_from_lengths(lengths, plan)

    def _units_pooled(self, buffer: bytes, positions: np.ndarray) -> np.ndarray:
        """Evidence for many positions, the positions split over the worker processes (in batches
        of at most LEAKY_CALLS_PER_WORKER calls per worker for a leaking library)."""
        workers = self.options.worker_count
        per_position = self.calls_per_position()
        batch = max(1, LEAKY_CALLS_PER_WORKER * workers // per_position) if self.LEAKS_MEMORY else len(positions)
        out = []
        for start in range(0, len(positions), batch):
            chunk = positions[start : start + batch]
            pool = self._executor(len(chunk) * per_position)
            futures = [
                pool.submit(_worker_positions, self.spec, buffer, p)
                for p in np.array_split(chunk, workers * 4)
                if len(p)
            ]
            out.extend(f.result() for f in futures)
        return np.concatenate(out)

    def units_at(self, buffer: bytes, positions: np.ndarray) -> np.ndarray:
        """Evidence (n, 2, 256) for the context (the window) ending before each position of `buffer`:
        here, or over the workers (by position; by candidate when there are too few positions)."""
        if self._in_process():
            return _units_at(self, buffer, positions)
        if len(positions) < _MIN_PARALLEL_POSITIONS:
            window = self.window
            contexts = [buffer[max(0, pos - window) : pos] if window else b"" for pos in positions.tolist()]
            return np.array([self._units_split(c) for c in contexts], dtype=np.int64).reshape(-1, 2, 256)
        return self._units_pooled(buffer, positions)

    def _in_process(self) -> bool:
        """Whether lengths are computed here rather than in worker processes."""
        return self.options.worker_count == 1 and not self.LEAKS_MEMORY

    def _position_units(self, context: bytes) -> np.ndarray:
        """One position's evidence, here or split over the workers."""
        return self.units(context) if self._in_process() else self._units_split(context)

    def distribution(self) -> np.ndarray:
        units = self._position_units(self._context())
        if self._calibrator is None:
            return self.probabilities(units)
        self._experts = self._calibrator.experts(units)
        return self._calibrator.mix(self._experts)

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        symbols = np.asarray(symbols, dtype=np.int64)
        buffer = self._context() + bytes(symbols.astype(np.uint8).tolist())
        offset = len(self._history) if self.window else 0
        units = self.units_at(buffer, np.arange(offset, offset + len(symbols)))
        if self._calibrator is None:
            out = self.probabilities(units) if len(symbols) else np.empty((0, 256))
            for s in symbols.tolist():
                self._push(s)
            return out
        out = np.empty((len(symbols), 256), dtype=np.float64)
        for i, s in enumerate(symbols.tolist()):  # the calibration is sequential by nature
            experts = self._calibrator.experts(units[i])
            out[i] = self._calibrator.mix(experts)
            self._calibrator.update(experts, s)
            self._push(s)
        self._experts = None
        return out

    def fork(self) -> CodeLengthPredictor:
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._history = bytearray(self._history)
        twin._calibrator = None if self._calibrator is None else self._calibrator.copy()
        return twin

    def close(self) -> None:
        if self._workers is not None:
            self._workers.shutdown()
            self._workers = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_workers"] = None
        return state

    def _executor(self, calls: int) -> ProcessPoolExecutor:
        """The worker pool for a batch of work of about `calls` library calls (shared with forks)."""
        if self._workers is None:
            self._workers = _Workers(self.options.worker_count, LEAKY_CALLS_PER_WORKER if self.LEAKS_MEMORY else None)
        return self._workers.executor(calls)


class _Workers:
    """Forked worker processes, shared by a predictor and its forks.

    For a library that leaks memory on every call, the workers are replaced
    (between batches, never during one) once they have run about
    `calls_per_worker` calls each. A process forked from the owner (say a
    `genzip compare` worker) starts its own pool: the owner's cannot be used there.
    The pool is shut down when the process exits, also in a multiprocessing
    worker, whose exit joins its children without running `atexit` hooks (an
    idle pool there would hang it).
    """

    def __init__(self, count: int, calls_per_worker: int | None) -> None:
        self.count = count
        self.calls_per_worker = calls_per_worker
        self.calls = 0
        self.pool: ProcessPoolExecutor | None = None
        self.owner = os.getpid()
        self.finalizer: Any = None

    def executor(self, calls: int) -> ProcessPoolExecutor:
        """The pool to submit a whole batch of about `calls` library calls to."""
        if self.owner != os.getpid():  # inherited through fork: that pool's threads live in the parent
            self.pool, self.finalizer, self.owner = None, None, os.getpid()
        limit = self.calls_per_worker
        if self.pool is not None and limit is not None and self.calls + calls > limit * self.count:
            self.shutdown()
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"))
            # before the queues of the pool close themselves (their finalizers have priority 10)
            self.finalizer = multiprocessing.util.Finalize(self, self.pool.shutdown, exitpriority=100)
            self.calls = 0
        self.calls += calls
        return self.pool

    def shutdown(self) -> None:
        if self.pool is not None and self.owner == os.getpid():
            self.finalizer.cancel()
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


def _units_at(predictor: CodeLengthPredictor, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    """Evidence for the context ending before each position of `buffer`, (n, 2, 256)."""
    window = predictor.window
    out = np.empty((len(positions), 2, 256), dtype=np.int64)
    for row, pos in enumerate(positions.tolist()):
        out[row] = predictor.units(buffer[max(0, pos - window) : pos] if window else b"")
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
    return _units_at(_worker_predictor(spec), buffer, positions)


def _worker_items(spec: str, context: bytes, items: list[bytes]) -> np.ndarray:
    return _worker_predictor(spec).measure(context, items)


# --- the real compressors ---------------------------------------------------


class _DeflatePredictor(CodeLengthPredictor):
    """Deflate at a zlib level; the context is compressed once and its state copied."""

    WBITS = 15
    BITS_MEANING = "exact bits: deflatePending after a Z_BLOCK flush (system libz via ctypes)"

    def __init__(self, options: RuntimeOptions, level: int = 9, context: int = 2048, **adapter: Any) -> None:
        super().__init__(options, context, **adapter)
        self.level = level
        self._exact: Any = None

    def _compressobj(self) -> Any:
        return zlib.compressobj(self.level, zlib.DEFLATED, self.WBITS)

    def compressed_size(self, data: bytes) -> int:
        c = self._compressobj()
        return len(c.compress(data)) + len(c.flush())

    def byte_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        base = self._compressobj()
        head = len(base.compress(context))
        out = np.empty(len(continuations), dtype=np.int64)
        for i, tail in enumerate(continuations):
            c = base.copy()
            out[i] = 8 * (head + len(c.compress(tail)) + len(c.flush()))
        return out

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        if self._exact is None:
            from .deflate_exact import ExactDeflate

            self._exact = ExactDeflate(self.level, self.WBITS)
        return self._exact.continuation_bits(context, continuations)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_exact"] = None
        return state


class GzipPredictor(_DeflatePredictor):
    """gzip framing (wbits 31, mtime 0): what `gzip.compress(data, level, mtime=0)` writes."""

    WBITS = 31


class ZlibPredictor(_DeflatePredictor):
    """zlib framing: what `zlib.compress(data, level)` writes."""


#: bzip2's end-of-stream magic (48 bits), followed by the 32-bit stream CRC and zero padding
_BZ2_EOS = 0x177245385090


def bz2_bits(stream: bytes) -> int:
    """Exact bit length of a bzip2 stream: its byte length minus the zero padding after the final CRC.

    The padding (0..7 bits) is found by locating the end-of-stream magic in the
    last 11 bytes; a stream without it counts in whole bytes.
    """
    tail = int.from_bytes(stream[-11:], "big")
    for pad in range(8):
        if (tail >> (pad + 32)) & ((1 << 48) - 1) == _BZ2_EOS and tail & ((1 << pad) - 1) == 0:
            return 8 * len(stream) - pad
    return 8 * len(stream)


class Bz2Predictor(CodeLengthPredictor):
    BITS_MEANING = "exact bits: the zero padding after the end-of-stream marker and CRC is not counted"

    def __init__(self, options: RuntimeOptions, level: int = 9, context: int = 2048, **adapter: Any) -> None:
        super().__init__(options, context, **adapter)
        self.level = level

    def compressed_size(self, data: bytes) -> int:
        return len(bz2.compress(data, self.level))

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        return np.array([bz2_bits(bz2.compress(context + c, self.level)) for c in continuations], dtype=np.int64)


#: xz's dictionary size per preset (liblzma's lzma_lzma_preset)
_PRESET_DICT_SIZE = [1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 22, 1 << 23, 1 << 23, 1 << 24, 1 << 25, 1 << 26]


class LzmaPredictor(CodeLengthPredictor):
    BITS_MEANING = "whole bytes of the raw LZMA2 stream (no xz container, no 4-byte block padding)"

    def __init__(self, options: RuntimeOptions, preset: int = 9, context: int = 2048, **adapter: Any) -> None:
        super().__init__(options, context, **adapter)
        self.preset = preset

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
        out = np.empty(len(continuations), dtype=np.int64)
        for i, c in enumerate(continuations):
            data = context + c
            out[i] = 8 * len(lzma.compress(data, format=lzma.FORMAT_RAW, filters=[self._filter(len(data))]))
        return out


def _bitstream_padding(last: int) -> int:
    """Bits of a zstd bitstream's last byte that carry no data: the end marker and the zeros above it."""
    return 9 - last.bit_length() if last else 0


def zstd_bits(frame: bytes) -> int:
    """Bit length of a zstd frame without the padding of its entropy-coded bitstreams.

    Every Huffman literal stream and every sequence stream ends with a 1-bit
    marker followed by zero padding to a byte; those bits are subtracted. FSE
    table headers keep their byte granularity. Anything unexpected counts in
    whole bytes (the result stays a deterministic function of the frame).
    """
    total = 8 * len(frame)
    try:
        fhd = frame[4]
        single = (fhd >> 5) & 1
        pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + ((1 if single else 0), 2, 4, 8)[fhd >> 6]
        padding = 0
        while True:
            header = int.from_bytes(frame[pos : pos + 3], "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            body = frame[pos + 3 : pos + 3 + size]
            if kind == 2:
                padding += _zstd_block_padding(body)
            pos += 3 + (1 if kind == 1 else size)
            if last:
                return total - padding
    except IndexError:
        return total


def _zstd_block_padding(body: bytes) -> int:
    """Padding bits of the literal streams and the sequence stream of one compressed block."""
    padding = 0
    lit_type, size_format = body[0] & 3, (body[0] >> 2) & 3
    if lit_type in (0, 1):  # raw or RLE literals: header of 1, 2 or 3 bytes
        head = (1, 2, 1, 3)[size_format]
        regenerated = int.from_bytes(body[:head], "little") >> (4 if head > 1 else 3)
        end = head + (regenerated if lit_type == 0 else 1)
    else:
        head = (3, 3, 4, 5)[size_format]
        bits = (10, 10, 14, 18)[size_format]
        value = int.from_bytes(body[:head], "little")
        compressed = (value >> (4 + bits)) & ((1 << bits) - 1)
        literals = body[head : head + compressed]
        start = 0
        if lit_type == 2:  # Huffman tree description first
            tree = literals[0]
            start = 1 + (tree if tree < 128 else (tree - 127 + 1) // 2)
        if size_format == 0:
            padding += _bitstream_padding(literals[-1])
        else:
            sizes = [int.from_bytes(literals[start + 2 * k : start + 2 * k + 2], "little") for k in range(3)]
            cursor = start + 6
            for s in sizes:
                cursor += s
                padding += _bitstream_padding(literals[cursor - 1])
            padding += _bitstream_padding(literals[-1])
        end = head + compressed
    if body[end] != 0:  # at least one sequence: the block ends with the sequence bitstream
        padding += _bitstream_padding(body[-1])
    return padding


class ZstdPredictor(CodeLengthPredictor):
    BITS_MEANING = "bits of the entropy-coded streams: the end-marker padding of every bitstream removed"

    def __init__(self, options: RuntimeOptions, level: int = 19, context: int = 2048, **adapter: Any) -> None:
        super().__init__(options, context, **adapter)
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
    BITS_MEANING = "bits up to the last set bit of the stream (trailing zero data bits are not seen)"

    def __init__(self, options: RuntimeOptions, quality: int = 11, context: int = 2048, **adapter: Any) -> None:
        super().__init__(options, context, **adapter)
        self.quality = quality

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

    def __init__(
        self, options: RuntimeOptions, order: int = 6, memory: int = 16 << 20, context: int = 2048, **adapter: Any
    ) -> None:
        super().__init__(options, context, **adapter)
        self.order = order
        self.memory = memory

    def compressed_size(self, data: bytes) -> int:
        import pyppmd

        return len(pyppmd.compress(data, max_order=self.order, mem_size=self.memory))
