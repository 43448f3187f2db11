"""The online stages between a position's evidence and its distribution.

Evidence (`genzip.adapter.evidence`) becomes a distribution directly, or through
the calibrator (``calibrate``: `genzip.adapter.calibration`) and then the
recalibrator (``recalibrate``: `genzip.adapter.recalibration`). Both learn from
each byte once it is known, so a distribution handed out keeps what its byte
will update (`pending`) until `learn` is called.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import Calibrator
from .evidence import probabilities
from .plan import absent_bytes
from .recalibration import Observation, Recalibrator, absent_masks, continued


@dataclass(frozen=True)
class _Pending:
    """What one position's distribution learns from once its byte is known."""

    experts: np.ndarray | None  # the calibration experts' distributions
    recalibration: Observation | None


class Stages:
    """The calibrator and the recalibrator (each optional) of one predictor state."""

    def __init__(self, calibrate: bool, recalibrate: bool, lookahead: bool) -> None:
        self.calibrator = Calibrator(lookahead) if calibrate else None
        self.recalibrator = Recalibrator() if recalibrate else None
        self.pending: _Pending | None = None

    @property
    def learns(self) -> bool:
        """Whether any stage learns from the bytes (then each byte needs its position's distribution)."""
        return self.calibrator is not None or self.recalibrator is not None

    def copy(self) -> Stages:
        twin = object.__new__(Stages)
        twin.calibrator = None if self.calibrator is None else self.calibrator.copy()
        twin.recalibrator = None if self.recalibrator is None else self.recalibrator.copy()
        twin.pending = self.pending  # immutable
        return twin

    def distribution(self, evidence: np.ndarray, context: bytes) -> np.ndarray:
        """The distribution after `context`, whose evidence (2, 256) this is; remembers what `learn` needs."""
        experts = None
        if self.calibrator is None:
            p = probabilities(evidence)
        else:
            experts = self.calibrator.experts(evidence)
            p = self.calibrator.mix(experts)
        seen = None
        if self.recalibrator is not None:
            p, seen = self.recalibrator.apply(p, absent_bytes(context), continued(evidence))
        self.pending = _Pending(experts, seen)
        return p

    def learn(self, symbol: int) -> None:
        """The byte after the last `distribution` came: every stage learns from it."""
        pending, self.pending = self.pending, None
        if pending is None:
            raise RuntimeError("Stages.learn needs the distribution of the byte's position first")
        if self.calibrator is not None and pending.experts is not None:
            self.calibrator.update(pending.experts, symbol)
        if self.recalibrator is not None and pending.recalibration is not None:
            self.recalibrator.learn(pending.recalibration, symbol)

    def rows(
        self, evidence: np.ndarray, symbols: np.ndarray, buffer: bytes, positions: np.ndarray, window: int
    ) -> np.ndarray:
        """The distributions before each of `symbols`, at `positions` of `buffer` (the context being the
        `window` bytes before each), from their evidence (n, 2, 256); each stage learns from every
        symbol before the next."""
        self.pending = None
        if not len(symbols):
            return np.empty((0, 256))
        if self.calibrator is None:
            out = probabilities(evidence)
        else:
            out = self.calibrator.mix_sequence(evidence, symbols)
        if self.recalibrator is not None:
            absent = absent_masks(np.frombuffer(buffer, dtype=np.uint8), positions, window)
            out = self.recalibrator.sequence(out, evidence, absent, symbols)
        return out
