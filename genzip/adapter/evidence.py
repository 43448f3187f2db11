"""From code lengths to evidence, and from evidence to a next-byte distribution.

Lengths are whole bits, or multiples of 2^-16 bit held exactly in float64 (lzma's
decoded streams); both become integer units first, and everything is integer
arithmetic until the last step, so the encoder and the decoder (which may split
work differently across processes) get the same float64 bits. Costs are held in
*units* of 1/64 bit; a cost u becomes the
weight 2^-(u/64) through an exact table of the 64 fractional powers (computed
with Python's correctly rounded `**`) and `ldexp` for the integer part.

One position's *evidence* is an int64 array (2, 256): row 0 the single-byte
costs l(x.b) - l(x), row 1 per first byte the continuation evidence of the
lookahead (`genzip.adapter.plan`), each continuation c credited to its first
byte at its per-byte rate:

    w(b) = 2^-cost(b) + sum over continuations c starting with b of 2^-(l(x.c) - l(x))/|c|

With ``dither=D`` the lengths after the D shifted contexts are taken relative to
each context's own length and summed, so whole-byte lengths average into finer
ones (the byte boundaries fall at different points for each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..predictor import normalise
from .plan import MeasurementPlan

#: cost units per bit
UNITS = 64
#: weights below 2^-MAX_GAP_BITS of the best are floored there (then `normalise` floors at 2^-60)
MAX_GAP_BITS = 60
#: 2^-(i/64) for i in 0..63, from Python's correctly rounded power (machine independent)
_FRACTION = np.array([2.0 ** (-i / UNITS) for i in range(UNITS)], dtype=np.float64)
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


def probabilities_from_lengths(lengths_bits: np.ndarray) -> np.ndarray:
    """The paper's formula: distribution(s) p ∝ 2^-length over the last axis, gaps capped at MAX_GAP_BITS."""
    lengths = np.asarray(lengths_bits, dtype=np.float64)
    gap = np.minimum(lengths - lengths.min(axis=-1, keepdims=True), MAX_GAP_BITS)
    return normalise(np.exp2(-gap))


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


def to_units(bits: np.ndarray) -> np.ndarray:
    """Lengths in bits as int64 units: integers exactly, fractional bits (multiples of 2^-16, exact
    in float64) rounded down to a unit."""
    if bits.dtype.kind == "f":
        return np.floor(bits * UNITS).astype(np.int64)
    return bits.astype(np.int64) * UNITS


def position_evidence(
    single_bits: np.ndarray,
    context_bits: float = 0,
    continuations: Sequence[bytes] = (),
    continuation_bits: Sequence[float] | np.ndarray = (),
    divisor: int = 1,
) -> np.ndarray:
    """One position's evidence, int64 (2, 256) in units: row 0 the single-byte costs
    l(x.b) - l(x); row 1, per first byte, -64 log2 of the summed continuation weights
    2^-(l(x.c) - l(x))/|c| (ABSENT where no continuation starts with that byte).
    Lengths given as sums over `divisor` dithered contexts are divided by it; lengths may be
    fractional (`to_units`)."""
    out = np.full((2, 256), ABSENT, dtype=np.int64)
    context_units = int(to_units(np.array(context_bits)))
    out[0] = (to_units(np.asarray(single_bits)) - context_units) // divisor
    if len(continuations):
        units = to_units(np.asarray(continuation_bits)).tolist()
        rates = np.array(
            [(u - context_units) // (len(c) * divisor) for c, u in zip(continuations, units, strict=True)],
            dtype=np.int64,
        )
        weights = weights_from_units(rates)
        best = int(rates.min())
        totals: dict[int, float] = {}
        for c, w in zip(continuations, weights.tolist(), strict=True):  # fixed order: deterministic sums
            totals[c[0]] = totals.get(c[0], 0.0) + w
        for b, total in totals.items():
            # libm's log2 per value, not a SIMD loop: the same units on every machine
            out[1, b] = best + round(-UNITS * math.log2(total))
    return out


def measured_evidence(lengths: np.ndarray, plan: MeasurementPlan) -> np.ndarray:
    """One position's evidence from the lengths over `plan.items`, shape (dither, len(items)): one row
    per dithered context, each taken relative to its own length (b"") and summed when the plan says so.
    Integer lengths are whole bits; float lengths may hold fractions of a bit (`to_units`)."""
    if not plan.relative:
        return position_evidence(plan.single_lengths(lengths[0]))
    relative = (lengths - lengths[:, plan.singles : plan.singles + 1]).sum(axis=0)
    return position_evidence(
        plan.single_lengths(relative),
        0,
        plan.continuations,
        relative[plan.singles + 1 :],
        divisor=len(lengths),
    )


def probabilities(evidence: np.ndarray) -> np.ndarray:
    """The distribution(s) for evidence of one position (2, 256) or many (n, 2, 256), uncalibrated."""
    return normalise(combine(evidence))
