"""Where a code-length predictor's lengths are measured: here, or over a `genzip.workers` pool.

The encoder and `score` split *positions* across workers (each position's
lengths are independent integers, so the result is bit-identical to stepping);
a single position (the decoder, the sampler) splits its *candidates* across
workers. A library that leaks memory on every call (pyppmd) is only ever called
in worker processes, which are replaced after ~LEAKY_CALLS_PER_WORKER calls
each. The predictor itself travels to the workers (pickled, without its pool).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..predictor import RuntimeOptions
from ..workers import WorkerPool
from .evidence import measured_evidence
from .plan import MeasurementPlan, calls_per_position

#: below this many positions, workers share each position's candidates instead of whole positions
MIN_PARALLEL_POSITIONS = 8
#: for a library that leaks memory per call: library calls per worker before the workers are replaced
LEAKY_CALLS_PER_WORKER = 20_000
#: position batches per worker (smaller batches even out uneven contexts)
_BATCHES_PER_WORKER = 4


class Measurer(Protocol):
    """What dispatching needs from a code-length predictor (`genzip.adapter.CodeLengthPredictor`)."""

    options: RuntimeOptions
    window: int
    lookahead: int
    dither: int
    LEAKS_MEMORY: bool

    def plan(self, context: bytes) -> MeasurementPlan: ...
    def measure(self, context: bytes, items: Sequence[bytes]) -> np.ndarray: ...
    def evidence(self, context: bytes) -> np.ndarray: ...
    def worker_pool(self) -> WorkerPool: ...


def new_pool(measurer: Measurer) -> WorkerPool:
    """The worker pool for a predictor: its worker count, and a leak budget if its library leaks."""
    budget = LEAKY_CALLS_PER_WORKER if measurer.LEAKS_MEMORY else None
    return WorkerPool(measurer.options.worker_count, budget)


def in_process(measurer: Measurer) -> bool:
    """Whether lengths are computed in this process rather than in worker processes."""
    return measurer.options.worker_count == 1 and not measurer.LEAKS_MEMORY


def window_before(measurer: Measurer, buffer: bytes, position: int) -> bytes:
    """The context a predictor sees before `position` of `buffer`: its window (nothing when 0)."""
    return buffer[max(0, position - measurer.window) : position] if measurer.window else b""


def evidence_here(measurer: Measurer, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    """Evidence (n, 2, 256) for the context ending before each position of `buffer`, in this process."""
    out = np.empty((len(positions), 2, 256), dtype=np.int64)
    for row, pos in enumerate(np.asarray(positions).tolist()):
        out[row] = measurer.evidence(window_before(measurer, buffer, pos))
    return out


def evidence_at(measurer: Measurer, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    """Evidence (n, 2, 256) for the context ending before each position of `buffer`: here, or over
    the workers (by position; by candidate when there are too few positions)."""
    if in_process(measurer):
        return evidence_here(measurer, buffer, positions)
    if len(positions) < MIN_PARALLEL_POSITIONS:
        contexts = [window_before(measurer, buffer, pos) for pos in np.asarray(positions).tolist()]
        return np.array([_split_candidates(measurer, c) for c in contexts], dtype=np.int64).reshape(
            -1, 2, 256
        )
    return _split_positions(measurer, buffer, positions)


def position_evidence(measurer: Measurer, context: bytes) -> np.ndarray:
    """One position's evidence, here or with its candidates split over the workers."""
    return measurer.evidence(context) if in_process(measurer) else _split_candidates(measurer, context)


def _split_candidates(measurer: Measurer, context: bytes) -> np.ndarray:
    """One position's evidence with its candidates split over the worker processes."""
    plan = measurer.plan(context)
    items = plan.items
    parts = [p for p in np.array_split(np.arange(len(items)), measurer.options.worker_count) if len(p)]
    tasks = [(measurer, context, items[p[0] : p[-1] + 1]) for p in parts]
    lengths = measurer.worker_pool().run(_measure, tasks, calls=len(items) * measurer.dither)
    return measured_evidence(np.concatenate(lengths, axis=1), plan)


def _split_positions(measurer: Measurer, buffer: bytes, positions: np.ndarray) -> np.ndarray:
    """Evidence for many positions, the positions split over the worker processes (in batches of at
    most LEAKY_CALLS_PER_WORKER calls per worker for a leaking library)."""
    workers = measurer.options.worker_count
    per_position = calls_per_position(measurer.lookahead, measurer.dither)
    batch = (
        max(1, LEAKY_CALLS_PER_WORKER * workers // per_position) if measurer.LEAKS_MEMORY else len(positions)
    )
    out: list[np.ndarray] = []
    for start in range(0, len(positions), batch):
        chunk = positions[start : start + batch]
        tasks = [
            (measurer, buffer, p) for p in np.array_split(chunk, workers * _BATCHES_PER_WORKER) if len(p)
        ]
        out.extend(measurer.worker_pool().run(evidence_here, tasks, calls=len(chunk) * per_position))
    return np.concatenate(out)


def _measure(measurer: Measurer, context: bytes, items: Sequence[bytes]) -> np.ndarray:
    """A worker's share of one position: the lengths of its items."""
    return measurer.measure(context, items)
