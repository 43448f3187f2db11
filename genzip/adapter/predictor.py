"""CodeLengthPredictor: a real compressor seen as a predictor through its code lengths.

For a compressor C with code length l(s) in bits, the paper's next-byte distribution is

    p(b | x) = 2^-(l(x.b) - l(x)) / sum_c 2^-(l(x.c) - l(x))

over all 256 bytes, with x cut to its last `context` bytes. l(x) cancels in the
normalisation, so only l(x.b) for the 256 candidates is needed. The adapter's
options (spec parameters, validated by the registry) improve on it:

* ``resolution=bits`` uses the finest length each library lets us reach
  (`BITS_MEANING` of each subclass); ``resolution=bytes`` is the paper's
  formula exactly: l = 8 x the bytes the library writes.
* ``calibrate=true``: an online Bayesian mixture over temperatures and uniform
  mixing, fitted only on bytes already coded (`genzip.adapter.calibration`).
* ``recalibrate=true``: then the novel bytes' rate and a reliability map learned
  online, also from coded bytes only (`genzip.adapter.recalibration`).
* ``lookahead=K``, ``candidates=seen``, ``dither=D``: what is measured
  (`genzip.adapter.plan`) and how it becomes evidence (`genzip.adapter.evidence`).

Lengths are measured here or in worker processes (`genzip.adapter.dispatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..predictor import RuntimeOptions, SequencePredictor
from ..workers import WorkerPool
from . import dispatch
from .evidence import measured_evidence
from .plan import DITHER_STEP, MIN_HORIZON, SINGLE_BYTES, MeasurementPlan, measurement_plan
from .stages import Stages


class CodeLengthPredictor(SequencePredictor):
    """Base for compressors seen as predictors; subclasses say how to compress. The options arrive
    validated from the registry (`genzip.registry`: the one place with their ranges and defaults)."""

    #: what ``resolution=bits`` measures for this compressor (README table)
    BITS_MEANING = "whole bytes: no finer length is reachable"
    #: the library leaks memory on every call: compress only in worker processes that get replaced
    LEAKS_MEMORY = False

    def __init__(
        self,
        options: RuntimeOptions,
        *,
        context: int,
        resolution: str,
        calibrate: bool,
        recalibrate: bool,
        lookahead: int,
        dither: int,
        candidates: str,
    ) -> None:
        self.options = options
        self.window = context
        self.resolution = resolution
        self.calibrate = calibrate
        self.recalibrate = recalibrate
        self.lookahead = lookahead
        self.dither = dither
        self.candidates = candidates
        self._history = bytearray()
        self._pool: WorkerPool | None = None
        self._stages = self._new_stages()  # calibration: what turns evidence into distributions

    # -- what a subclass provides ------------------------------------------
    def compressed_size(self, data: bytes) -> int:
        """Bytes the real compressor writes for `data` at this predictor's settings."""
        raise NotImplementedError

    def byte_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """8 x the bytes the library writes for context + c, for each continuation c (each compressed
        from scratch; compressors with copyable state override it to compress the context once)."""
        return np.array([8 * self.compressed_size(context + c) for c in continuations], dtype=np.int64)

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """The finest reachable length in bits of context + c (see BITS_MEANING); up to a constant."""
        return self.byte_lengths(context, continuations)

    # -- lengths and evidence ------------------------------------------------
    def candidate_lengths(self, context: bytes, candidates: range = range(256)) -> np.ndarray:
        """The paper's lengths: 8 x the bytes the library writes for context + b, per candidate byte b."""
        return self.byte_lengths(context, [SINGLE_BYTES[b] for b in candidates])

    def code_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        """Lengths in bits of context + c for each continuation c, at this predictor's resolution."""
        if self.resolution == "bytes":
            return self.byte_lengths(context, continuations)
        return self.bit_lengths(context, continuations)

    def proposals(self, context: bytes) -> Sequence[bytes]:
        """Continuations this compressor knows to ask about beyond those copied from the context
        (brotli: its dictionary's words); measured with lookahead only. None by default."""
        return ()

    def plan(self, context: bytes) -> MeasurementPlan:
        """What to measure after `context` (see `genzip.adapter.plan.measurement_plan`)."""
        return measurement_plan(
            context, self.candidates, self.lookahead, self.dither, self.proposals(context)
        )

    def measured_calls(self, context: bytes) -> int:
        """Library calls measuring after `context` takes: what a chunk's work is estimated from."""
        return len(self.plan(context).items) * self.dither

    def measure(self, context: bytes, items: Sequence[bytes]) -> np.ndarray:
        """Lengths of context + item, shape (dither, len(items)): one row per dithered context,
        the d-th dropping the first d * DITHER_STEP bytes of `context`."""
        return np.stack([self.code_lengths(context[d * DITHER_STEP :], items) for d in range(self.dither)])

    def evidence(self, context: bytes) -> np.ndarray:
        """One position's evidence after `context`, computed in this process."""
        plan = self.plan(context)
        return measured_evidence(self.measure(context, plan.items), plan)

    def evidence_at(self, buffer: bytes, positions: np.ndarray) -> np.ndarray:
        """Evidence (n, 2, 256) for the window ending before each position of `buffer` (here or in workers)."""
        return dispatch.evidence_at(self, buffer, positions)

    def worker_pool(self) -> WorkerPool:
        """The worker processes that measure lengths, started on first use (shared with forks)."""
        if self._pool is None:
            self._pool = dispatch.new_pool(self)
        return self._pool

    # -- SequencePredictor ---------------------------------------------------
    def _new_stages(self) -> Stages:
        return Stages(self.calibrate, self.recalibrate, self.lookahead >= MIN_HORIZON)

    def reset(self, context: bytes = b"") -> None:
        self._history = bytearray(context[-self.window :] if self.window else b"")
        self._stages = self._new_stages()

    def _push(self, symbol: int) -> None:
        if self.window:
            self._history.append(symbol)
            if len(self._history) > self.window:
                del self._history[: len(self._history) - self.window]

    def _context(self) -> bytes:
        return bytes(self._history) if self.window else b""

    def observe(self, symbol: int) -> None:
        if self._stages.learns:
            if self._stages.pending is None:
                self.distribution()
            self._stages.learn(int(symbol))
        self._push(symbol)

    def distribution(self) -> np.ndarray:
        context = self._context()
        return self._stages.distribution(dispatch.position_evidence(self, context), context)

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        symbols = np.asarray(symbols, dtype=np.int64)
        buffer = self._context() + bytes(symbols.astype(np.uint8).tolist())
        offset = len(self._history) if self.window else 0
        positions = np.arange(offset, offset + len(symbols))
        out = self.rows_from_evidence(self.evidence_at(buffer, positions), symbols, buffer, positions)
        for s in symbols.tolist():
            self._push(s)
        return out

    def rows_from_evidence(
        self, evidence: np.ndarray, symbols: np.ndarray, buffer: bytes, positions: np.ndarray
    ) -> np.ndarray:
        """`distributions` from evidence at `positions` of `buffer` measured elsewhere (benchmarks measure
        it themselves): see `Stages.rows`; the stages of this predictor's state learn from the symbols."""
        return self._stages.rows(evidence, symbols, buffer, positions, self.window)

    def fork(self) -> CodeLengthPredictor:
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin._history = bytearray(self._history)
        twin._stages = self._stages.copy()
        return twin

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None
        return state
