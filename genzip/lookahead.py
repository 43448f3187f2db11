"""From code lengths to a next-byte distribution: lookahead and online calibration.

Everything here is integer arithmetic until the last step, so the encoder and
the decoder (which may split work differently across processes) get the same
float64 bits. Costs are held in *units* of 1/64 bit; a cost u becomes the
weight 2^-(u/64) through an exact table of the 64 fractional powers (computed
with Python's correctly rounded `**`) and `ldexp` for the integer part.

Lookahead (`lookahead=K`)
    The paper's adapter scores each next byte b alone: cost(b) = l(x.b) - l(x).
    For an LZ compressor that misprices matches: the first bytes of a match are
    coded as literals and only later does the match pay them back, which a
    per-byte normalisation cannot credit. So we also score whole continuations
    c (2 to K bytes) copied from what followed earlier occurrences of the
    current suffix in the context (matching at least half as far back as the
    longest match), and credit each one to its first byte at the compressor's own
    per-byte rate for it, (l(x.c) - l(x)) / |c|:

        w(b) = 2^-cost(b) + sum over continuations c starting with b of 2^-(l(x.c) - l(x))/|c|

    then normalise. Candidates are ranked by suffix-match length, then by
    recency, never by byte value. The result is a deterministic function of the
    context, so it stays a proper, decodable distribution.

Calibration (`calibrate=true`)
    A Bayesian mixture over a small grid of temperatures and uniform-mixing
    weights, p = sum_k pi_k p_k with pi_k proportional to 2^-(code length so far
    under expert k). The posterior is fitted only on bytes already coded, so the
    decoder can follow it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .predictor import normalise

#: cost units per bit
UNITS = 64
#: weights below 2^-MAX_GAP_BITS of the best are floored there (then `normalise` floors at 2^-60)
MAX_GAP_BITS = 60
#: 2^-(i/64) for i in 0..63, from Python's correctly rounded power (machine independent)
_FRACTION = np.array([2.0 ** (-i / UNITS) for i in range(UNITS)], dtype=np.float64)
#: continuations scored per position when lookahead is on
MAX_CONTINUATIONS = 16
#: continuations come from suffix matches at least this fraction (in 16ths) of the longest one
MIN_MATCH_FRACTION_16 = 8
#: longest suffix match looked for when ranking continuations
MAX_SUFFIX = 32


def weights_from_units(units: np.ndarray) -> np.ndarray:
    """2^-(u - min u)/64 along the last axis, gaps capped at MAX_GAP_BITS; exact and deterministic."""
    units = np.asarray(units, dtype=np.int64)
    gap = np.minimum(units - units.min(axis=-1, keepdims=True), MAX_GAP_BITS * UNITS)
    return np.ldexp(_FRACTION[gap % UNITS], -(gap // UNITS))


def continuation_candidates(context: bytes, horizon: int, limit: int = MAX_CONTINUATIONS) -> list[bytes]:
    """Up to `limit` distinct continuations (2..horizon bytes) of `context`, best first.

    Each is what followed an earlier occurrence of the context's current suffix
    matching at least half as long as the longest such occurrence (cut at the end of the context; periodic self-overlapping copies are not
    proposed, they mostly fed repetition loops in samples). Ranked by the length
    of the matching suffix, then by recency; never by byte value.
    """
    n = len(context)
    if horizon < 2 or n < 2:
        return []
    data = np.frombuffer(context, dtype=np.uint8)
    ends = np.arange(1, n)  # an occurrence ending just before position i: data[i - 1] vs data[n - 1]
    match = np.zeros(n - 1, dtype=np.int64)
    alive = np.ones(n - 1, dtype=bool)
    for j in range(min(MAX_SUFFIX, n - 1)):
        idx = ends - 1 - j
        ok = alive & (idx >= 0)
        ok[ok] = data[idx[ok]] == data[n - 1 - j]
        alive = ok
        match += alive
        if not alive.any():
            break
    found = np.nonzero(match * 16 >= max(1, int(match.max())) * MIN_MATCH_FRACTION_16)[0]
    if len(found) == 0:
        return []
    order = found[np.lexsort((-ends[found], -match[found]))]
    out: list[bytes] = []
    seen: set[bytes] = set()
    for i in ends[order[: 8 * limit]].tolist():
        piece = context[i : i + horizon]
        if len(piece) >= 2 and piece not in seen:
            seen.add(piece)
            out.append(piece)
            if len(out) == limit:
                break
    return out


def lookahead_units(
    single_bits: np.ndarray, context_bits: int, continuations: Sequence[bytes], continuation_bits: np.ndarray
) -> np.ndarray:
    """Per-byte costs in units after crediting continuations to their first byte (see module doc).

    Returns int64 units u(b) such that 2^-(u/64) is proportional to w(b).
    """
    singles = (np.asarray(single_bits, dtype=np.int64) - context_bits) * UNITS
    if not continuations:
        return singles
    rates = np.array(
        [((int(bits) - context_bits) * UNITS) // len(c) for c, bits in zip(continuations, continuation_bits)],
        dtype=np.int64,
    )
    firsts = np.array([c[0] for c in continuations], dtype=np.int64)
    best = int(min(singles.min(), rates.min()))
    weights = weights_from_units(np.concatenate([singles, rates]) - best)
    total = weights[:256].copy()
    for k, b in enumerate(firsts.tolist()):  # fixed order: deterministic sum
        total[b] += weights[256 + k]
    # back to units: -64 log2(total), rounded; libm's log2 per value, not a SIMD loop, so
    # the same inputs give the same units on every machine
    return np.array([round(-UNITS * math.log2(t)) for t in total.tolist()], dtype=np.int64)


class Calibrator:
    """Online Bayesian mixture over temperatures and uniform mixing (see module doc)."""

    #: inverse temperatures in eighths: T = 2, 1.33, 1, 0.8, 0.67, 0.5
    INVERSE_TEMPERATURES_8 = (4, 6, 8, 10, 12, 16)
    #: weight of the uniform distribution in the mixture
    UNIFORM_WEIGHTS = (0.0, 1.0 / 256, 1.0 / 16)

    def __init__(self) -> None:
        self.losses = np.zeros(len(self.INVERSE_TEMPERATURES_8) * len(self.UNIFORM_WEIGHTS), dtype=np.float64)

    def copy(self) -> Calibrator:
        twin = Calibrator()
        twin.losses = self.losses.copy()
        return twin

    def experts(self, units: np.ndarray) -> np.ndarray:
        """Each expert's distribution, shape (experts, 256)."""
        rows = []
        for beta in self.INVERSE_TEMPERATURES_8:
            tempered = normalise(weights_from_units((np.asarray(units, dtype=np.int64) * beta) // 8))
            for eps in self.UNIFORM_WEIGHTS:
                rows.append(tempered * (1.0 - eps) + eps / 256.0)
        return np.stack(rows)

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
