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
from .recalibration import Recalibrator, continued


@dataclass(frozen=True)
class _Pending:
    """What one position's distribution learns from once its byte is known."""

    experts: np.ndarray  # the calibration experts' distributions (empty without calibration)
    recalibration: np.ndarray  # Recalibrator.apply's state (empty without recalibration)
    absent: np.ndarray  # the bytes absent from the window


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
        experts = np.empty(0)
        if self.calibrator is None:
            p = probabilities(evidence)
        else:
            experts = self.calibrator.experts(evidence)
            p = self.calibrator.mix(experts)
        if self.recalibrator is None:
            self.pending = _Pending(experts, np.empty(0), np.empty(0, dtype=bool))
            return p
        absent = np.bincount(np.frombuffer(context, dtype=np.uint8), minlength=256) == 0
        p, state = self.recalibrator.apply(p, absent, continued(evidence))
        self.pending = _Pending(experts, state, absent)
        return p

    def learn(self, symbol: int) -> None:
        """The byte after the last `distribution` came: every stage learns from it."""
        pending, self.pending = self.pending, None
        if pending is None:
            raise RuntimeError("Stages.learn needs the distribution of the byte's position first")
        if self.calibrator is not None:
            self.calibrator.update(pending.experts, symbol)
        if self.recalibrator is not None:
            self.recalibrator.learn(pending.recalibration, pending.absent, symbol)

    def rows(self, evidence: np.ndarray, symbols: np.ndarray, absent: np.ndarray) -> np.ndarray:
        """The distributions before each of `symbols` from its evidence (n, 2, 256) and the bytes absent
        from its window (n, 256), each stage learning from every symbol before the next."""
        self.pending = None
        if not len(symbols):
            return np.empty((0, 256))
        if self.calibrator is None:
            out = probabilities(evidence)
        else:
            out = self.calibrator.mix_sequence(evidence, symbols)
        if self.recalibrator is not None:
            out = self.recalibrator.sequence(out, evidence, absent, symbols)
        return out
