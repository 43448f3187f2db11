"""Mixed secondary escape estimation for `ppm` (``see=mix``): seven SEE cells, one logistic mixer.

The single-cell SEE of `_ppm_see` learns a context's escape probability in one
cell. Here seven cells are looked up for every context visited, each keyed by a
different description of it, and their estimates are combined in the logistic
(stretch) domain by a small mixer whose weights are learned online, one weight
set per order (PPMd var. I has one SEE table; PPMZ weights three SEE estimates by
their confidence; here a PAQ-style mixer learns the weights). Each cell is the same
record as in `_ppm_see` (`record`: escapes and visits, halved beyond `SEE_LIMIT`),
shrunk towards method D's u / 2T by `SEE_PRIOR` pseudo-observations. The cells:

0. the single-cell SEE key (order, distinct bytes, log2 total, first context
   tried, previous byte predicted first, shorter context's extra bytes, previous byte >= 0x40);
1. the same key without the order (statistics shared by all orders, learnt sooner);
2. order, distinct bytes, log2 of the mean count, whether more of the context's bytes
   are excluded than left, first context tried, previous byte >= 0x40;
3. total count 1..24 exactly, distinct bytes, first context tried, previous byte predicted first;
4. the previous byte, first context tried, distinct bytes 1, 2, 3+;
5. a hash of the last two bytes, first context tried, one byte or more;
6. a hash of the last three bytes (4 times as many buckets, up to 2^`HASH_BITS`), the same.

Cells 4 to 6 let the escape rate depend on the text itself (after a space, inside a
word), which no count statistic shows. Everything is float64 without fastmath
(frexp and exp are the only library calls per use), so encoder and decoder agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._ppm_see import context_features, record

#: weight (in observations) of method D's escape estimate inside each cell
SEE_PRIOR = 4.0
#: the mixer's learning rate
MIX_RATE = 0.002
#: inputs of the mixer (cells per context visit)
N_INPUTS = 7
_KEYED = 5 * 8 * 2 * 2 * 3 * 2  # cells 0 and 1, per order
_MEANS = 5 * 8 * 2 * 2 * 2  # cell 2, per order
_EXACT = 24 * 5 * 2 * 2  # cell 3
_PREVIOUS = 256 * 2 * 3  # cell 4
#: most buckets of the hash of the last three bytes (cell 6, log2); the last two get a quarter
HASH_BITS = 14
_GOLDEN = -7046029254386353131
#: a visited context's note: stretches, escape, cell offsets, weight offset
_NOTE = 2 * N_INPUTS + 2
_LOG_STEPS = 1024
#: ln(m) at m = 0.5 + j / (2 * _LOG_STEPS), j = 0.._LOG_STEPS, interpolated by `_ln`
_LOG_TABLE = np.log(0.5 + np.arange(_LOG_STEPS + 1) / (2.0 * _LOG_STEPS))
_LN2 = math.log(2.0)


@njit(cache=True, inline="always")
def _bases(order: int, bits: int) -> tuple[int, int, int, int, int, int, int, int]:
    """Where each cell family starts (in cells), and the first mixer weight (in floats), for a model
    of that order whose cell 6 has 2^bits buckets."""
    b1 = (order + 1) * _KEYED
    b2 = b1 + _KEYED
    b3 = b2 + (order + 1) * _MEANS
    b4 = b3 + _EXACT
    b5 = b4 + _PREVIOUS
    b6 = b5 + (1 << bits)
    end = b6 + (4 << bits)
    return 0, b1, b2, b3, b4, b5, b6, 2 * end


def hash_bits(memory: int) -> int:
    """log2 of cell 6's buckets for a model of `memory` bytes: the hashed cells take at most 1/16 of it."""
    bits = 6
    while bits < HASH_BITS and 80 << (bits + 1) <= memory // 16:
        bits += 1
    return bits


def table_size(order: int, bits: int) -> int:
    """float64 entries of the table: two per cell, one weight set per order, then the notes of one walk."""
    return _bases(order, bits)[7] + (order + 1) * (N_INPUTS + 1 + _NOTE)


@njit(cache=True)
def reset_table(see: np.ndarray, order: int, bits: int) -> None:
    """Empty cells; mixer weights 1 / N_INPUTS (an average of the cells' stretches), no bias."""
    see[:] = 0.0
    start = _bases(order, bits)[7]
    for k in range(order + 1):
        base = start + k * (N_INPUTS + 1)
        see[base : base + N_INPUTS] = 1.0 / N_INPUTS


@njit(cache=True, inline="always")
def _hash(x: int, buckets: int) -> int:
    h = (x + 1) * _GOLDEN
    return (h ^ (h >> 29)) & (buckets - 1)


@njit(cache=True, inline="always")
def mix_cells(
    hkey: np.ndarray,
    hnsym: np.ndarray,
    order: int,
    bits: int,
    hist: int,
    k: int,
    distinct: int,
    total: int,
    first: bool,
    last_hit: int,
    known: int,
) -> tuple[int, int, int, int, int, int, int, int]:
    """Offsets in the table of the seven cells of an order-k context with `known` bytes, of which
    `distinct` (counting `total`) are not excluded; the last entry is the mixer's weight set."""
    base = _bases(order, bits)
    d, t, w, hi = context_features(hkey, hnsym, hist, k, distinct, total, known)
    f = 1 if first else 0
    keyed = ((((d * 8 + t) * 2 + f) * 2 + last_hit) * 3 + w) * 2 + hi
    m = 0
    while m < 7 and (2 << m) * distinct <= 2 * total:
        m += 1
    masked = 1 if known - distinct > distinct else 0
    means = ((((k * 5 + d) * 8 + m) * 2 + masked) * 2 + f) * 2 + hi
    exact = (((min(total, 24) - 1) * 5 + d) * 2 + f) * 2 + last_hit
    previous = ((hist & 255) * 2 + f) * 3 + min(d, 2)
    several = min(d, 1)
    h2 = (_hash(hist & 0xFFFF, 1 << (bits - 2)) * 2 + f) * 2 + several
    h3 = (_hash(hist & 0xFFFFFF, 1 << bits) * 2 + f) * 2 + several
    return (
        2 * (base[0] + k * _KEYED + keyed),
        2 * (base[1] + keyed),
        2 * (base[2] + means),
        2 * (base[3] + exact),
        2 * (base[4] + previous),
        2 * (base[5] + h2),
        2 * (base[6] + h3),
        base[7] + k * (N_INPUTS + 1),
    )


@njit(cache=True, inline="always")
def _ln(x: float) -> float:
    """ln(x) for x > 0 to about 1e-7, from the exponent and a table of the mantissa, with no libm
    call per use (any deterministic function would do, as the decoder runs the same one)."""
    m, exponent = math.frexp(x)
    pos = (m - 0.5) * (2.0 * _LOG_STEPS)
    j = min(int(pos), _LOG_STEPS - 1)
    return exponent * _LN2 + _LOG_TABLE[j] + (pos - j) * (_LOG_TABLE[j + 1] - _LOG_TABLE[j])


@njit(cache=True, inline="always")
def _stretch(see: np.ndarray, cell: int, prior: float) -> float:
    """ln(e / (1 - e)) of one cell's escape estimate e = escapes / visits, both with the prior added."""
    escapes = see[cell] + SEE_PRIOR * prior
    return _ln(escapes / (see[cell + 1] + SEE_PRIOR - escapes))


@njit(cache=True, inline="always")
def mix_escape(
    see: np.ndarray, cells: tuple[int, int, int, int, int, int, int, int], distinct: int, total: int
) -> float:
    """Escape probability: the mixer's squashed weighted sum of the cells' stretches."""
    prior = distinct / (2.0 * total)
    weights = cells[N_INPUTS]
    x = see[weights + N_INPUTS]
    for i in range(N_INPUTS):
        x += see[weights + i] * _stretch(see, cells[i], prior)
    return 1.0 / (1.0 + np.exp(-x))


@njit(cache=True, inline="always")
def mix_escape_visit(
    see: np.ndarray,
    order: int,
    bits: int,
    cells: tuple[int, int, int, int, int, int, int, int],
    distinct: int,
    total: int,
    visit: int,
) -> float:
    """`mix_escape`, also noting the cells and stretches as the walk's `visit`-th context, so that
    `mix_learn` can learn from them once the byte is coded (a cell shared by two orders must give
    both the value it had before the byte, as in a full distribution)."""
    prior = distinct / (2.0 * total)
    weights = cells[N_INPUTS]
    note = _bases(order, bits)[7] + (order + 1) * (N_INPUTS + 1) + visit * _NOTE
    x = see[weights + N_INPUTS]
    for i in range(N_INPUTS):
        s = _stretch(see, cells[i], prior)
        see[note + i] = s
        see[note + N_INPUTS + 1 + i] = cells[i]
        x += see[weights + i] * s
    see[note + N_INPUTS + 1 + N_INPUTS] = weights
    e = 1.0 / (1.0 + np.exp(-x))
    see[note + N_INPUTS] = e
    return e


@njit(cache=True)
def mix_learn(see: np.ndarray, order: int, bits: int, visits: int, found: bool) -> None:
    """Learn from the contexts a coded byte passed: each escaped but the last, which escaped only
    if the byte was new to all of them. The mixer takes a gradient step, each cell counts the visit."""
    notes = _bases(order, bits)[7] + (order + 1) * (N_INPUTS + 1)
    for v in range(visits):
        note = notes + v * _NOTE
        escaped = v < visits - 1 or not found
        weights = int(see[note + 2 * N_INPUTS + 1])
        step = MIX_RATE * ((1.0 if escaped else 0.0) - see[note + N_INPUTS])
        for i in range(N_INPUTS):
            see[weights + i] += step * see[note + i]
            record(see, int(see[note + N_INPUTS + 1 + i]), escaped)
        see[weights + N_INPUTS] += step
