"""From per-chunk scores to one predictor's totals, per file and overall, with standard errors when sampled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry import Kind
from .plan import Selection
from .results import ChunkScore, PredictorResult, SampleEstimate


@dataclass(frozen=True)
class PredictorInfo:
    """What a run needs to know about a built predictor, wherever it was built."""

    spec: str  # canonical
    identity: str  # spec + fingerprint: the cache's notion of "the same predictor"
    model_size_bytes: int | None
    header_bytes: int | None  # its own size for one zero byte (the paper's header), None for models


def ratio_standard_error(y: np.ndarray, x: np.ndarray, population: int) -> float | None:
    """Standard error of sum(y)/sum(x) from a uniform sample without replacement (finite-population corrected)."""
    n = len(y)
    if n < 2:
        return None
    ratio = y.sum() / x.sum()
    residual = y - ratio * x
    variance = (1 - n / population) * float(residual @ residual) / (n * (n - 1))
    return math.sqrt(max(0.0, variance)) / float(x.mean())


def _sum_or_none(values: Sequence[float | int | None]) -> Any:
    return None if any(v is None for v in values) else sum(values)


def assemble(
    info: PredictorInfo,
    kind: Kind,
    names: Sequence[str],
    selection: Selection,
    scores: dict[int, ChunkScore],
    masked_bits: int = 0,
    header_once: bool = False,
) -> PredictorResult:
    """One predictor's result from its score of every selected piece (keyed by piece index)."""
    parts = [scores[i] for i in range(len(selection.pieces))]
    per_file = []
    for fi, name in enumerate(names):
        mine = [p for piece, p in zip(selection.pieces, parts, strict=True) if piece.file == fi]
        if not mine:
            continue
        bits = _sum_or_none([p.total_bits for p in mine])
        n = sum(p.n_bytes for p in mine)
        per_file.append(
            {
                "file": name,
                "bytes": n,
                "total_bits": None if bits is None else float(bits),
                "bits_per_byte": None if bits is None else float(bits) / n,
                "native_bytes": _sum_or_none([p.native_bytes for p in mine]),
                "chunks": len(mine),
            }
        )
    grand_bits = _sum_or_none([f["total_bits"] for f in per_file])
    grand_native = _sum_or_none([f["native_bytes"] for f in per_file])
    traced = grand_bits is not None and parts
    shared = 0.0
    if header_once and info.header_bytes is not None and grand_native is not None:
        shared = info.header_bytes * (selection.population - 1) * len(parts) / selection.population
    result = PredictorResult(
        spec=info.spec,
        kind=kind,
        n_bytes=sum(p.n_bytes for p in parts),
        total_bits=grand_bits,
        native_bytes=grand_native,
        model_size_bytes=info.model_size_bytes,
        byte_bits=np.concatenate([p.byte_bits for p in parts if p.byte_bits is not None]) if traced else None,
        per_file=per_file,
        masked_bits=masked_bits,
        shared_header_bytes=shared,
    )
    if selection.sampled:
        result.sample = _sample_estimate(result, parts, selection)
    return result


def _sample_estimate(
    result: PredictorResult, parts: list[ChunkScore], selection: Selection
) -> SampleEstimate:
    sizes = np.array([p.n_bytes for p in parts], dtype=np.float64)
    bits_se = native_se = None
    if result.total_bits is not None:
        bits = np.array([p.total_bits for p in parts], dtype=np.float64)
        se = ratio_standard_error(bits, sizes, selection.population)
        bits_se = None if se is None else se * result.kept_bits_scale
    if result.native_bytes is not None:
        native = np.array([p.native_bytes for p in parts], dtype=np.float64)
        se = ratio_standard_error(native, sizes, selection.population)
        native_se = None if se is None else 100 * se
    return SampleEstimate(len(parts), selection.population, selection.seed, bits_se, native_se)
