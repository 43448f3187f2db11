"""`mix:A+B+...`: an online mixture of byte-level predictors, itself a byte predictor.

Every component gives its next-byte distribution p_i; the mixture combines
them with weights learned from the bytes already seen, so the decoder, which
sees the same bytes, learns the same weights (decodable, bit-identical: the
combination and the update are one numba kernel used by both the batched and
the stepping path, and the components keep the same promise).

Methods (measured in docs/context_models.md):

* ``geometric`` (default): logistic mixing of whole distributions,
  p(s) ∝ prod_i p_i(s)^w_i, weights free (they may sum to more than 1, which
  sharpens agreeing predictors), trained by online gradient descent on the code
  length: w_i += rate * (ln p_i(x) - sum_s p(s) ln p_i(s)), with one weight
  vector per `select` context;
* ``bayes``: the Bayesian mixture p = sum_i w_i p_i with posterior weights
  w_i ∝ w_i p_i(x), plus a fixed share `rate` / k of the mass returned to every
  component each byte (tracks which predictor is best *now*).

`select` says which weights predict a byte: ``none`` one vector; ``byte-class``
one per class of the previous byte (four vectors, each learning from its own
bytes); ``hierarchical`` (default) a shared vector plus one per class, both
learning from every byte they predict: geometric mixing uses their sum (the
shared part learns fast, the class part learns what is particular to the
class), Bayesian mixing the mean of the two posteriors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .errors import InputError, SpecError
from .predictor import PROBABILITY_FLOOR, RuntimeOptions, SequencePredictor

#: mixture weights are clamped to this range (geometric), keeping the exponentials finite
_W_MAX = 8.0
#: `select` values; the weight table has one row for NONE, 4 for BYTE_CLASS, 1 + 4 for HIERARCHICAL
SELECTS = ("none", "byte-class", "hierarchical")
_NONE, _BYTE_CLASS, _HIERARCHICAL = 0, 1, 2


@njit(cache=True, inline="always")
def _byte_class(c: int) -> int:
    """0 space/control, 1 letter, 2 digit, 3 punctuation or other (a small, stable selector)."""
    if c <= 32:
        return 0
    lower = c | 32
    if 97 <= lower <= 122:
        return 1
    if 48 <= c <= 57:
        return 2
    return 3


@njit(cache=True)
def _mix_row(probs: np.ndarray, weights: np.ndarray, bayes: bool, out: np.ndarray) -> None:
    """One mixed distribution from the components' rows `probs` (k, 256) and `weights` (k)."""
    k = probs.shape[0]
    total = 0.0
    if bayes:
        for s in range(256):
            v = 0.0
            for i in range(k):
                v += weights[i] * probs[i, s]
            out[s] = v
            total += v
    else:
        top = -1e300
        for s in range(256):
            v = 0.0
            for i in range(k):
                v += weights[i] * np.log(max(probs[i, s], PROBABILITY_FLOOR))
            out[s] = v
            top = max(top, v)
        for s in range(256):
            out[s] = np.exp(out[s] - top)
            total += out[s]
    total2 = 0.0
    for s in range(256):
        out[s] = max(out[s] / total, PROBABILITY_FLOOR)
        total2 += out[s]
    for s in range(256):
        out[s] /= total2


@njit(cache=True, inline="always")
def _gradient(row: np.ndarray, mixed: np.ndarray, symbol: int) -> float:
    """d ln p_mix(symbol) / d w for the component whose row is `row` (geometric mixing)."""
    expected = 0.0
    for s in range(256):
        expected += mixed[s] * np.log(max(row[s], PROBABILITY_FLOOR))
    return np.log(max(row[symbol], PROBABILITY_FLOOR)) - expected


@njit(cache=True)
def _learn_row(
    probs: np.ndarray, mixed: np.ndarray, weights: np.ndarray, bayes: bool, rate: float, symbol: int
) -> None:
    """Update `weights` after `symbol` was seen, given the rows that predicted it."""
    k = probs.shape[0]
    if bayes:
        total = 0.0
        for i in range(k):
            weights[i] *= probs[i, symbol]
            total += weights[i]
        for i in range(k):
            weights[i] = (1.0 - rate) * weights[i] / total + rate / k
        return
    for i in range(k):
        weights[i] = min(max(weights[i] + rate * _gradient(probs[i], mixed, symbol), 0.0), _W_MAX)


@njit(cache=True)
def _current_weights(weights: np.ndarray, select: int, bayes: bool, previous: int, out: np.ndarray) -> None:
    """The weight vector that predicts the next byte, given the previous one (see `select`)."""
    if select == _NONE:
        out[:] = weights[0]
    elif select == _BYTE_CLASS:
        out[:] = weights[_byte_class(previous)]
    else:
        shared, own = weights[0], weights[1 + _byte_class(previous)]
        for i in range(len(out)):
            out[i] = 0.5 * (shared[i] + own[i]) if bayes else min(max(shared[i] + own[i], 0.0), _W_MAX)


@njit(cache=True)
def _learn(
    probs: np.ndarray,
    mixed: np.ndarray,
    weights: np.ndarray,
    select: int,
    bayes: bool,
    rate: float,
    previous: int,
    symbol: int,
) -> None:
    """Update the weight rows that predicted `symbol` (`mixed` is what they predicted)."""
    if select == _NONE:
        _learn_row(probs, mixed, weights[0], bayes, rate, symbol)
    elif select == _BYTE_CLASS:
        _learn_row(probs, mixed, weights[_byte_class(previous)], bayes, rate, symbol)
    elif bayes:  # two posteriors, each updated on its own
        _learn_row(probs, mixed, weights[0], True, rate, symbol)
        _learn_row(probs, mixed, weights[1 + _byte_class(previous)], True, rate, symbol)
    else:  # one gradient, applied to both parts of the sum (unclamped parts; the sum is clamped)
        own = weights[1 + _byte_class(previous)]
        for i in range(probs.shape[0]):
            g = rate * _gradient(probs[i], mixed, symbol)
            weights[0, i] = min(max(weights[0, i] + g, -_W_MAX), _W_MAX)
            own[i] = min(max(own[i] + g, -_W_MAX), _W_MAX)


@njit(cache=True)
def _mix_block(
    probs: np.ndarray,
    symbols: np.ndarray,
    weights: np.ndarray,
    bayes: bool,
    rate: float,
    select: int,
    previous: int,
    out: np.ndarray,
) -> None:
    """Rows for a block: probs (n, k, 256) -> out (n, 256), learning after each symbol."""
    w = np.empty(probs.shape[1])
    for t in range(len(symbols)):
        _current_weights(weights, select, bayes, previous, w)
        _mix_row(probs[t], w, bayes, out[t])
        _learn(probs[t], out[t], weights, select, bayes, rate, previous, symbols[t])
        previous = symbols[t]


def initial_weights(k: int, select: int, bayes: bool) -> np.ndarray:
    """The weight table before any byte: uniform (bayes), or 1/k + 0.1 (geometric: a little sharpening).

    In the hierarchical table the class rows start at 0 (geometric: the sum is the shared row) or at the
    shared row's value (bayes: the mean of two equal posteriors).
    """
    start = 1.0 / k if bayes else 1.0 / k + 0.1
    rows = {_NONE: 1, _BYTE_CLASS: 4, _HIERARCHICAL: 5}[select]
    weights = np.full((rows, k), start)
    if select == _HIERARCHICAL and not bayes:
        weights[1:] = 0.0
    return weights


def mix_rows(rows: np.ndarray, symbols: np.ndarray, method: str, select: str, rate: float) -> np.ndarray:
    """The mixture's distribution before each symbol, from its components' rows (n, k, 256), as a fresh
    `mix:method=METHOD,select=SELECT,rate=RATE+...` predictor codes them (for mixing rows computed once)."""
    bayes, which = method == "bayes", SELECTS.index(select)
    out = np.empty((len(symbols), 256), dtype=np.float64)
    weights = initial_weights(rows.shape[1], which, bayes)
    _mix_block(rows, np.asarray(symbols, dtype=np.int64), weights, bayes, rate, which, 0, out)
    return out


class MixPredictor(SequencePredictor):
    """Online mixture of byte predictors; see the module docstring."""

    def __init__(
        self,
        options: RuntimeOptions,
        components: list[SequencePredictor],
        method: str = "geometric",
        rate: float = 0.002,
        select: str = "hierarchical",
    ) -> None:
        if len(components) < 2:
            raise SpecError("mix: needs at least two components (mix:A+B)")
        for c in components:
            if not c.is_byte_level:
                raise SpecError(f"mix: {c.spec} is not a byte-level predictor (use its byte view)")
        self.options = options
        self.components = components
        self.bayes = method == "bayes"
        self.rate = rate
        self.select = SELECTS.index(select)
        self.reset(b"")

    def reset(self, context: bytes = b"") -> None:
        for c in self.components:
            c.reset(context)
        self._weights = initial_weights(len(self.components), self.select, self.bayes)
        self._previous = context[-1] if context else 0
        self._rows: np.ndarray | None = None  # the components' rows for the next byte, once asked

    def _component_rows(self) -> np.ndarray:
        if self._rows is None:
            self._rows = np.stack([c.distribution() for c in self.components])
        return self._rows

    def distribution(self) -> np.ndarray:
        out = np.empty(256, dtype=np.float64)
        weights = np.empty(len(self.components))
        _current_weights(self._weights, self.select, self.bayes, self._previous, weights)
        _mix_row(self._component_rows(), weights, self.bayes, out)
        return out

    def observe(self, symbol: int) -> None:
        if not 0 <= symbol <= 255:
            raise InputError(f"byte predictors take symbols in 0..255, got {symbol}")
        self.distributions(np.array([symbol]))

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        data = np.asarray(symbols, dtype=np.int64)
        out = np.empty((len(data), 256), dtype=np.float64)
        if len(data) == 0:
            return out
        probs = np.empty((len(data), len(self.components), 256), dtype=np.float64)
        first = self._component_rows()
        for i, c in enumerate(self.components):
            probs[0, i] = first[i]
            c.observe(int(data[0]))
            if len(data) > 1:
                probs[1:, i] = c.distributions(data[1:])
        _mix_block(probs, data, self._weights, self.bayes, self.rate, self.select, self._previous, out)
        self._previous = int(data[-1])
        self._rows = None
        return out

    def fork(self) -> MixPredictor:
        twin = object.__new__(MixPredictor)
        twin.__dict__.update(self.__dict__)
        twin.components = [c.fork() for c in self.components]
        twin._weights = self._weights.copy()
        return twin

    def fingerprint(self) -> dict[str, object]:
        return {c.spec: c.fingerprint() for c in self.components}

    def close(self) -> None:
        for c in self.components:
            c.close()
