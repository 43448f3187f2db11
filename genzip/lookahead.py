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

    then normalise. Candidates are ranked by suffix-match length, then oldest
    first (never by byte value): among equally good matches the oldest sources
    are the least likely to be text the predictor itself just produced, which
    keeps samples from looping (it costs gzip about 2% in bits/byte against
    newest first, and samples go from repetition loops to copied phrases). The result is a deterministic function of the
    context, so it stays a proper, decodable distribution.

Calibration (`calibrate=true`)
    A Bayesian mixture over a small grid of experts (a temperature for the
    single-byte costs, one for the continuation weights, a weight of the uniform
    distribution mixed in): p = sum_k pi_k p_k with pi_k proportional to
    2^-(code length so far under expert k). The posterior is fitted only on
    bytes already coded, so the decoder can follow it, and the mixture is never
    more than log2(#experts) bits behind the best expert in hindsight.
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


#: "no continuation starts with this byte" in the continuation row of an evidence array
ABSENT = 1 << 60


def _pow2(gap: np.ndarray) -> np.ndarray:
    """2^-(gap/64) for non-negative integer gaps, capped at MAX_GAP_BITS; exact table + ldexp."""
    gap = np.minimum(gap, MAX_GAP_BITS * UNITS)
    return np.ldexp(_FRACTION[gap % UNITS], -(gap // UNITS))


def weights_from_units(units: np.ndarray) -> np.ndarray:
    """2^-(u - min u)/64 along the last axis, gaps capped at MAX_GAP_BITS; exact and deterministic."""
    units = np.asarray(units, dtype=np.int64)
    return _pow2(units - units.min(axis=-1, keepdims=True))


def combine(evidence: np.ndarray, single_beta8: int = 8, continuation_beta8: int = 8) -> np.ndarray:
    """Weights w(b) = 2^-(s(b) beta_s) + 2^-(k(b) beta_c) from evidence rows s (single bytes) and k
    (continuations, ABSENT where none starts with b); betas are inverse temperatures in eighths.
    Works on one position (2, 256) or many (n, 2, 256)."""
    evidence = np.asarray(evidence, dtype=np.int64)
    singles = (evidence[..., 0, :] * single_beta8) // 8
    absent = evidence[..., 1, :] >= ABSENT
    conts = np.where(absent, ABSENT, (evidence[..., 1, :] * continuation_beta8) // 8)
    ref = np.minimum(singles.min(axis=-1, keepdims=True), conts.min(axis=-1, keepdims=True))
    return _pow2(singles - ref) + np.where(absent, 0.0, _pow2(np.where(absent, ref, conts) - ref))


def continuation_candidates(context: bytes, horizon: int, limit: int = MAX_CONTINUATIONS) -> list[bytes]:
    """Up to `limit` distinct continuations (2..horizon bytes) of `context`, best first.

    Each is what followed an earlier occurrence of the context's current suffix
    matching at least half as long as the longest such occurrence (cut at the end of the context; periodic self-overlapping copies are not
    proposed, they mostly fed repetition loops in samples). Ranked by the length
    of the matching suffix, then oldest first; never by byte value.
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
    order = found[np.lexsort((ends[found], -match[found]))]
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


def evidence(
    single_bits: np.ndarray,
    context_bits: int = 0,
    continuations: Sequence[bytes] = (),
    continuation_bits: Sequence[int] | np.ndarray = (),
    divisor: int = 1,
) -> np.ndarray:
    """One position's evidence, int64 (2, 256) in units: row 0 the single-byte costs
    l(x.b) - l(x); row 1, per first byte, -64 log2 of the summed continuation weights
    2^-(l(x.c) - l(x))/|c| (ABSENT where no continuation starts with that byte).
    Lengths given as sums over `divisor` dithered contexts are divided by it."""
    out = np.full((2, 256), ABSENT, dtype=np.int64)
    out[0] = ((np.asarray(single_bits, dtype=np.int64) - context_bits) * UNITS) // divisor
    if len(continuations):
        rates = np.array(
            [((int(bits) - context_bits) * UNITS) // (len(c) * divisor)
             for c, bits in zip(continuations, continuation_bits)],
            dtype=np.int64,
        )
        weights = weights_from_units(rates)
        best = int(rates.min())
        totals: dict[int, float] = {}
        for c, w in zip(continuations, weights.tolist()):  # fixed order: deterministic sums
            totals[c[0]] = totals.get(c[0], 0.0) + w
        for b, total in totals.items():
            # libm's log2 per value, not a SIMD loop: the same units on every machine
            out[1, b] = best + round(-UNITS * math.log2(total))
    return out


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
        """Each expert's distribution for one position's evidence, shape (experts, 256)."""
        tempered: dict[tuple[int, int], np.ndarray] = {}
        rows = []
        for bs, bc, eps in self.grid:
            if (bs, bc) not in tempered:
                tempered[(bs, bc)] = normalise(combine(evidence, bs, bc))
            rows.append(tempered[(bs, bc)] * (1.0 - eps) + eps / 256.0)
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
