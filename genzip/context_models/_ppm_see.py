"""Secondary escape estimation (SEE) for `ppm`: which cell a context's escape is learned in.

A cell counts how often contexts like this one really escaped (two float64s: escapes,
visits), shrunk towards method D's u / 2T by `SEE_PRIOR` pseudo-observations. Contexts
are alike when they share: the order, the distinct bytes u (1, 2, 3, 4-7, 8+), log2 of the
total count T, whether it is the first context tried, whether the previous byte was
predicted by the first context tried, how many more bytes the next shorter context knows
(0, 1-2, more: PPMd's NumStats difference) and whether the previous byte is >= 0x40
(letters: PPMd's HiBitsFlag).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._hashing import context_key, probe

#: weight (in observations) of method D's escape estimate inside each SEE cell
SEE_PRIOR = 8.0
#: SEE cells halve their record beyond this many observations
SEE_LIMIT = 1024.0
#: cells of one order (each is two float64s)
CELLS_PER_ORDER = 5 * 8 * 2 * 2 * 3 * 2


@njit(cache=True, inline="always")
def context_features(
    hkey: np.ndarray, hnsym: np.ndarray, hist: int, k: int, distinct: int, total: int, known: int
) -> tuple[int, int, int, int]:
    """What the SEE keys say about an order-k context with `known` bytes, `distinct` (counting
    `total`) not excluded: (distinct class 0..4, log2 total 0..7, the next shorter context's extra
    bytes 0..2, previous byte >= 0x40)."""
    d = distinct - 1 if distinct <= 3 else (3 if distinct <= 7 else 4)
    t = 0
    while t < 7 and (2 << t) <= total:
        t += 1
    if k == 0:
        wider = 256 - known
    else:
        key = context_key(hist, k - 1)
        slot = probe(hkey, key)
        wider = (hnsym[slot] if hkey[slot] == key else 0) - known
    w = 0 if wider == 0 else (1 if wider <= 2 else 2)
    return d, t, w, 1 if (hist & 255) >= 0x40 else 0


@njit(cache=True, inline="always")
def see_cell(
    hkey: np.ndarray,
    hnsym: np.ndarray,
    hist: int,
    k: int,
    distinct: int,
    total: int,
    first: bool,
    last_hit: int,
    known: int,
) -> int:
    """Index in the SEE table of a context of order k with `known` bytes in all, of which
    `distinct` (counting `total`) are not excluded."""
    d, t, w, hi = context_features(hkey, hnsym, hist, k, distinct, total, known)
    cell = (((((k * 5 + d) * 8 + t) * 2 + (1 if first else 0)) * 2 + last_hit) * 3 + w) * 2
    return (cell + hi) * 2


@njit(cache=True, inline="always")
def escape(see: np.ndarray, cell: int, distinct: int, total: int) -> float:
    """Escape probability: the SEE cell's record, shrunk towards method D's u / 2T."""
    return (see[cell] + SEE_PRIOR * distinct / (2.0 * total)) / (see[cell + 1] + SEE_PRIOR)


@njit(cache=True, inline="always")
def record(see: np.ndarray, cell: int, escaped: bool) -> None:
    """Count one visit of the cell (and one escape if it escaped); halve the record when long."""
    see[cell + 1] += 1.0
    if escaped:
        see[cell] += 1.0
    if see[cell + 1] > SEE_LIMIT:
        see[cell] *= 0.5
        see[cell + 1] *= 0.5
