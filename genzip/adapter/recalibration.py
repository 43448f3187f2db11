"""Online recalibration of the adapter's distribution (``recalibrate=true``).

The calibrated distribution (`genzip.adapter.calibration`) still misplaces mass
in two ways a compressor's code lengths cannot tell it about:

* Bytes absent from the context window all share one stand-in length (or, with
  ``candidates=all``, lengths about as long as a rare literal's), so together
  they got 5-16 % of the mass on Moby-Dick while only ~1.5 % of the bytes that
  came were new. The *escape* step gives the absent bytes, together, the rate at
  which absent bytes have actually come so far, (k + 1/2) / (t + 4) after t
  positions with k absent bytes, shared among them as the compressor says.
* How reliable a probability is depends on what it rests on. Each byte's
  probability falls in a bin: its power of two (12 bins, 2^0 .. 2^-11 and
  below) per kind of evidence (absent from the window or not; a lookahead
  continuation starting with it or not). Each bin counts the bytes that came
  from it (H) against the mass it predicted (E), and scales its probabilities
  by (H + 1) / (E + 1) before renormalising: a reliability diagram learned online.

Both are fitted only on bytes already coded, so the decoder follows. The bins
come from `frexp` (exact), the sums are in a fixed order: bit-identical
distributions for the encoder and the decoder. Chosen on Moby-Dick (3,000 bytes,
`benchmarks/adapter_defaults.py`); on the Jargon File, not tuned on, it takes
2-17 % off every general compressor's default (ppmd 2 %, gzip 7 %, bz2 17 %; docs/adapter.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ..predictor import normalise
from .evidence import ABSENT

#: probability bins per kind of evidence: powers of two 2^0 .. 2^-(BINS - 1) and below
BINS = 12
#: kinds of evidence a byte's probability rests on: absent from the window (1) + a continuation (2)
KINDS = 4
#: prior counts of a bin's correction (H + PRIOR) / (E + PRIOR)
PRIOR = 1.0
#: the escape rate's prior: (absent bytes seen + ESCAPE_HITS) / (positions + ESCAPE_POSITIONS)
ESCAPE_HITS, ESCAPE_POSITIONS = 0.5, 4.0


@numba.njit(cache=True)
def absent_masks(buffer: np.ndarray, positions: np.ndarray, window: int) -> np.ndarray:
    """(n, 256) bool: the bytes absent from the `window` bytes before each position (increasing)."""
    out = np.ones((len(positions), 256), dtype=np.bool_)
    last = np.full(256, -1, dtype=np.int64)  # last index of each byte seen so far
    scanned = 0
    for row in range(len(positions)):
        end = positions[row]
        while scanned < end:
            last[buffer[scanned]] = scanned
            scanned += 1
        start = max(0, end - window) if window > 0 else end
        for b in range(256):
            out[row, b] = last[b] < start
    return out


class Observation(NamedTuple):
    """What one position's recalibration learns from once its byte is known."""

    escaped: np.ndarray  # the distribution after the escape step
    bins: np.ndarray  # each byte's bin
    absent: np.ndarray  # the bytes absent from the window


class Recalibrator:
    """The escape rate and the reliability bins (see module doc), updated byte by byte."""

    def __init__(self) -> None:
        self.positions = 0
        self.escapes = 0
        self.hits = np.zeros(BINS * KINDS, dtype=np.float64)
        self.expected = np.zeros(BINS * KINDS, dtype=np.float64)

    def copy(self) -> Recalibrator:
        twin = Recalibrator()
        twin.positions, twin.escapes = self.positions, self.escapes
        twin.hits, twin.expected = self.hits.copy(), self.expected.copy()
        return twin

    def escaped(self, p: np.ndarray, absent: np.ndarray) -> np.ndarray:
        """`p` with the absent bytes' total mass set to the escape rate seen so far."""
        mass = float(p[absent].sum())
        if absent.all() or not absent.any() or mass <= 0.0:
            return p
        rate = (self.escapes + ESCAPE_HITS) / (self.positions + ESCAPE_POSITIONS)
        return np.where(absent, p * (rate / mass), p * ((1.0 - rate) / (1.0 - mass)))

    def bins(self, p: np.ndarray, absent: np.ndarray, continued: np.ndarray) -> np.ndarray:
        """Each byte's bin: its probability's power of two (exact, via frexp) and its kind of evidence."""
        _, exponent = np.frexp(p)
        return np.clip(-exponent, 0, BINS - 1) + BINS * (absent.astype(np.int64) + 2 * continued)

    def apply(
        self, p: np.ndarray, absent: np.ndarray, continued: np.ndarray
    ) -> tuple[np.ndarray, Observation]:
        """The recalibrated distribution, and what `learn` needs once the byte is known."""
        escaped = self.escaped(p, absent)
        bins = self.bins(escaped, absent, continued)
        scale = (self.hits + PRIOR) / (self.expected + PRIOR)
        return normalise(escaped * scale[bins]), Observation(escaped, bins, absent)

    def learn(self, seen: Observation, symbol: int) -> None:
        """Count the byte that came: its bin's hit, every bin's predicted mass, the escape."""
        self.hits[seen.bins[symbol]] += 1.0
        self.expected += np.bincount(seen.bins, weights=seen.escaped, minlength=BINS * KINDS)
        self.escapes += int(seen.absent[symbol])
        self.positions += 1

    def sequence(
        self, rows: np.ndarray, evidence: np.ndarray, absent: np.ndarray, symbols: np.ndarray
    ) -> np.ndarray:
        """Recalibrate one distribution per symbol, learning from each before the next."""
        out = np.empty_like(rows)
        for i, s in enumerate(np.asarray(symbols, dtype=np.int64).tolist()):
            out[i], seen = self.apply(rows[i], absent[i], continued(evidence[i]))
            self.learn(seen, s)
        return out


def continued(evidence: np.ndarray) -> np.ndarray:
    """Which bytes a lookahead continuation starts with, from one position's evidence (2, 256)."""
    return np.asarray(evidence[1] < ABSENT)
