"""Scoring one chunk: the unit of work every engine runs, wherever it runs."""

from __future__ import annotations

import json
import time

import numpy as np

from ..likelihood import score
from ..predictor import SequencePredictor
from .results import ChunkScore


def score_chunk(predictor: SequencePredictor, chunk: bytes, native_only: bool = False) -> ChunkScore:
    """Score one chunk from a fresh state; in native-only mode compressors only report their own size."""
    native = predictor.compressed_size(chunk) if native_only else None
    if native is not None:
        return ChunkScore(len(chunk), None, None, native)
    result = score(chunk, predictor, None)
    return ChunkScore(
        len(chunk),
        result.total_bits,
        spread_to_bytes(predictor, chunk, result.symbol_bits),
        result.native_bytes,
    )


def timed_score(
    predictor: SequencePredictor, chunk: bytes, native_only: bool
) -> tuple[ChunkScore, float, float]:
    """`score_chunk`, the seconds it took (what the work estimate is measured from) and the CPU seconds
    its process spent on it (less than the seconds when the process waited for a core)."""
    began, cpu = time.perf_counter(), time.process_time()
    value = score_chunk(predictor, chunk, native_only)
    return value, time.perf_counter() - began, time.process_time() - cpu


def spread_to_bytes(predictor: SequencePredictor, chunk: bytes, symbol_bits: np.ndarray) -> np.ndarray:
    """Per-byte bits: each symbol's bits spread evenly over the bytes it stands for.

    When the tokens' bytes do not add up to the chunk (a UTF-8 character split
    across tokens), the chunk's bits are spread evenly over the chunk.
    """
    symbol_bits = np.asarray(symbol_bits, dtype=np.float64)
    if predictor.is_byte_level:
        return symbol_bits
    if not chunk:
        return np.zeros(0)
    tokens = predictor.tokenize(chunk)
    counts = np.array([len(predictor.detokenize([int(t)])) for t in tokens], dtype=np.int64)
    if len(counts) == len(symbol_bits) and counts.sum() == len(chunk) and (counts > 0).all():
        return np.repeat(symbol_bits / counts, counts)
    return np.full(len(chunk), symbol_bits.sum() / len(chunk))


def identity(predictor: SequencePredictor) -> str:
    """What makes two predictors give the same bits: the canonical spec and the fingerprint (cache keys use it)."""
    return json.dumps(
        {"spec": predictor.spec, "fingerprint": predictor.fingerprint()}, sort_keys=True, default=str
    )
