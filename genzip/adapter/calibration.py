"""Online calibration of the adapter's distribution (``calibrate=true``).

A Bayesian mixture over a small grid of experts (a temperature for the
single-byte costs, one for the continuation weights, a weight of the uniform
distribution mixed in): p = sum_k pi_k p_k with pi_k proportional to
2^-(code length so far under expert k). The posterior is fitted only on
bytes already coded, so the decoder can follow it, and the mixture is never
more than log2(#experts) bits behind the best expert in hindsight.
"""

from __future__ import annotations

import math

import numpy as np

from ..predictor import normalise
from .evidence import combine

#: the uniform distribution's weight, as a fraction of the alphabet
_ALPHABET = 256.0
#: positions whose experts `mix_sequence` computes at once (54 experts x 64 x 256 floats: 7 MB)
_BLOCK = 64


class Calibrator:
    """Online Bayesian mixture over inverse temperatures and uniform mixing (see module doc).

    Experts are (beta_single, beta_continuation, eps): the single-byte and the
    continuation evidence get their own temperature (they are not equally
    reliable: bzip2's single-byte lengths are mostly noise, its 16-byte ones are
    not), and eps of the uniform distribution is mixed in.
    """

    #: inverse temperatures in eighths: T = 4, 2, 1.33, 1, 0.67, 0.5
    SINGLE_BETAS_8 = (2, 4, 6, 8, 12, 16)
    #: for continuation evidence (lookahead only): T = 2, 1, 0.5
    CONTINUATION_BETAS_8 = (4, 8, 16)
    #: weight of the uniform distribution in the mixture
    UNIFORM_WEIGHTS = (0.0, 1.0 / 256, 1.0 / 16)

    def __init__(self, lookahead: bool = False) -> None:
        self.grid = [
            (bs, bc, eps)
            for bs in self.SINGLE_BETAS_8
            for bc in (self.CONTINUATION_BETAS_8 if lookahead else (8,))
            for eps in self.UNIFORM_WEIGHTS
        ]
        self.losses = np.zeros(len(self.grid), dtype=np.float64)

    @property
    def size(self) -> int:
        return len(self.grid)

    def copy(self) -> Calibrator:
        twin = object.__new__(Calibrator)
        twin.grid = self.grid
        twin.losses = self.losses.copy()
        return twin

    def experts(self, evidence: np.ndarray) -> np.ndarray:
        """Each expert's distribution for one position's evidence (2, 256), shape (experts, 256)."""
        return self.block_experts(evidence[None])[:, 0]

    def mix(self, experts: np.ndarray) -> np.ndarray:
        """The posterior-weighted mixture of `experts` (rows summed in a fixed order)."""
        best = float(self.losses.min())
        prior = [2.0 ** (best - float(loss)) for loss in self.losses.tolist()]
        out = np.zeros(experts.shape[1], dtype=np.float64)
        for k, weight in enumerate(prior):
            out += weight * experts[k]
        return normalise(out)

    def update(self, experts: np.ndarray, symbol: int) -> None:
        """Charge each expert the code length of the byte that came."""
        for k, p in enumerate(experts[:, symbol].tolist()):
            self.losses[k] += -math.log2(p)

    def block_experts(self, evidence: np.ndarray) -> np.ndarray:
        """Each expert's distribution for many positions' evidence (n, 2, 256), shape (experts, n, 256)."""
        tempered: dict[tuple[int, int], np.ndarray] = {}
        out = np.empty((len(self.grid), len(evidence), int(_ALPHABET)), dtype=np.float64)
        for k, (bs, bc, eps) in enumerate(self.grid):
            if (bs, bc) not in tempered:
                tempered[(bs, bc)] = normalise(combine(evidence, bs, bc))
            out[k] = tempered[(bs, bc)] * (1.0 - eps) + eps / _ALPHABET
        return out

    def mix_sequence(self, evidence: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """Distributions before each of `symbols` given its evidence row, learning from each symbol in turn.

        The one sequential pass (calibration learns from every byte before the next) shared by the
        predictor's `distributions()` and the benchmarks that score from evidence measured in one go.
        The experts do not depend on the posterior, so they are computed for a block of positions at
        once; the losses accumulate in the same order and every weight and log is the same scalar
        operation as in `mix` and `update`, so the bits are those of stepping one byte at a time.
        """
        symbols = np.asarray(symbols, dtype=np.int64)
        out = np.empty((len(symbols), int(_ALPHABET)), dtype=np.float64)
        for start in range(0, len(symbols), _BLOCK):
            block = symbols[start : start + _BLOCK]
            experts = self.block_experts(evidence[start : start + len(block)])
            picked = experts[:, np.arange(len(block)), block]
            charges = np.array([[-math.log2(p) for p in row] for row in picked.tolist()])
            running = np.cumsum(np.concatenate([self.losses[:, None], charges], axis=1), axis=1)
            before = running[:, :-1].tolist()  # each expert's loss before each position
            best = running[:, :-1].min(axis=0).tolist()
            mixed = np.zeros((len(block), int(_ALPHABET)), dtype=np.float64)
            for k, losses in enumerate(before):
                weights = np.array([2.0 ** (b - loss) for b, loss in zip(best, losses, strict=True)])
                mixed += weights[:, None] * experts[k]
            out[start : start + len(block)] = normalise(mixed)
            self.losses = running[:, -1].copy()
        return out
