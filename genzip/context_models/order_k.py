"""Adaptive order-k Markov model of bytes with additive smoothing: a simple, fast baseline.

p(s | last k bytes) = (count(context, s) + alpha) / (total(context) + 256 alpha);
alpha = 1/2 is the KT estimator, alpha = 1 Laplace's rule. Before the start of
the input the context is padded with zero bytes.

Each context seen gets a row of 256 uint16 counts (512 bytes), found through
an open-addressing hash table keyed by the exact context (no collisions).
Counts are halved when one reaches 65535. Memory: the rows and the hash
table start small and double as they fill, up to `memory` bytes in all; when
no row is left the model flushes (forgets every count) and relearns the last
k bytes, exactly as a fresh model reset with them as its context. After
1 MiB of Moby-Dick the tables hold 9 MiB at k=3.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..predictor import RuntimeOptions
from ._base import NumbaContextModel, State
from ._hashing import HISTORY_MASK, probe

MAX_K = 7
_ROW_BYTES = 512 + 8 + 4 * 12  # counts, total, up to four hash slots (key + row)

# meta layout
_HIST, _ROWS, _FLUSHES, _K, _ROW_LIMIT, _SLOT_LIMIT = 0, 1, 2, 3, 4, 5
_META = 6
_START_ROWS = 64


@njit(cache=True, inline="always")
def _context_key(meta: np.ndarray) -> int:
    k = meta[_K]
    return (meta[_HIST] & ((1 << (8 * k)) - 1)) | ((k + 1) << 56)


@njit(cache=True, inline="always")
def _row_of(hkey: np.ndarray, hrow: np.ndarray, meta: np.ndarray) -> int:
    """Row of the current context, or -1 if it was never seen."""
    key = _context_key(meta)
    slot = probe(hkey, key)
    return hrow[slot] if hkey[slot] == key else -1


@njit(cache=True)
def _learn_one(hkey, hrow, counts, totals, meta, symbol):
    key = _context_key(meta)
    slot = probe(hkey, key)
    if hkey[slot] != key:
        if meta[_ROWS] == len(totals):  # full: forget, relearn the last k bytes
            hist = meta[_HIST]
            keep = meta[_K]
            hkey[:] = 0
            meta[_ROWS] = 0
            meta[_HIST] = 0
            meta[_FLUSHES] += 1
            for i in range(keep - 1, -1, -1):
                _learn_one(hkey, hrow, counts, totals, meta, (hist >> (8 * i)) & 255)
            slot = probe(hkey, key)
        row = meta[_ROWS]
        meta[_ROWS] = row + 1
        hkey[slot] = key
        hrow[slot] = row
        counts[row * 256 : row * 256 + 256] = 0
        totals[row] = 0
    row = hrow[slot]
    i = row * 256 + symbol
    counts[i] += 1
    totals[row] += 1
    if counts[i] == 65535:
        total = 0
        for j in range(row * 256, row * 256 + 256):
            counts[j] = (counts[j] + 1) >> 1
            total += counts[j]
        totals[row] = total
    meta[_HIST] = ((meta[_HIST] << 8) | symbol) & HISTORY_MASK


@njit(cache=True)
def _dist(hkey, hrow, counts, totals, conf, meta, out):
    alpha = conf[0]
    row = _row_of(hkey, hrow, meta)
    if row < 0:
        out[:] = alpha / (256.0 * alpha)
        return
    denom = totals[row] + 256.0 * alpha
    for s in range(256):
        out[s] = (counts[row * 256 + s] + alpha) / denom


@njit(cache=True)
def _needs_room(hkey, totals, meta):
    """The rows or the hash table are full but below their limit: hand back to `_grow`."""
    return (meta[_ROWS] == len(totals) and len(totals) < meta[_ROW_LIMIT]) or (
        2 * (meta[_ROWS] + 1) > len(hkey) and len(hkey) < meta[_SLOT_LIMIT]
    )


@njit(cache=True)
def _rehash(hkey, hrow, new_key, new_row):
    for i in range(len(hkey)):
        if hkey[i] != 0:
            j = probe(new_key, hkey[i])
            new_key[j] = hkey[i]
            new_row[j] = hrow[i]


@njit(cache=True)
def _dists(hkey, hrow, counts, totals, conf, meta, symbols, out):
    for i in range(len(symbols)):
        if _needs_room(hkey, totals, meta):
            return i
        _dist(hkey, hrow, counts, totals, conf, meta, out[i])
        _learn_one(hkey, hrow, counts, totals, meta, np.int64(symbols[i]))
    return len(symbols)


@njit(cache=True)
def _score(hkey, hrow, counts, totals, conf, meta, symbols, bits):
    alpha = conf[0]
    for i in range(len(symbols)):
        if _needs_room(hkey, totals, meta):
            return i
        s = np.int64(symbols[i])
        row = _row_of(hkey, hrow, meta)
        if row < 0:
            p = alpha / (256.0 * alpha)
        else:
            p = (counts[row * 256 + s] + alpha) / (totals[row] + 256.0 * alpha)
        bits[i] = -np.log2(p)
        _learn_one(hkey, hrow, counts, totals, meta, s)
    return len(symbols)


@njit(cache=True)
def _learn(hkey, hrow, counts, totals, conf, meta, symbols):
    for i in range(len(symbols)):
        if _needs_room(hkey, totals, meta):
            return i
        _learn_one(hkey, hrow, counts, totals, meta, np.int64(symbols[i]))
    return len(symbols)


class OrderKPredictor(NumbaContextModel):
    """Order-k byte model with additive smoothing; see the module docstring."""

    _dist = _dist
    _dists = _dists
    _score = _score
    _learn = _learn
    _LIMIT_EVENTS = _FLUSHES

    def __init__(
        self, options: RuntimeOptions, k: int = 3, alpha: float = 0.5, memory: int = 64 << 20
    ) -> None:
        self.k = k
        self.alpha = alpha
        self.memory = memory
        super().__init__(options)

    def _fresh_state(self) -> State:
        row_limit = min(256**self.k, max(MAX_K + 2, self.memory // _ROW_BYTES))
        rows = min(row_limit, _START_ROWS)
        meta = np.zeros(_META, dtype=np.int64)
        meta[_K] = self.k
        meta[_ROW_LIMIT] = row_limit
        meta[_SLOT_LIMIT] = 1 << (2 * row_limit).bit_length()
        return (
            np.zeros(1 << (2 * rows).bit_length(), dtype=np.int64),
            np.zeros(1 << (2 * rows).bit_length(), dtype=np.int32),
            np.zeros(rows * 256, dtype=np.uint16),
            np.zeros(rows, dtype=np.int64),
            np.array([self.alpha], dtype=np.float64),
            meta,
        )

    def _grow(self) -> None:
        hkey, hrow, counts, totals, conf, meta = self._state
        used = int(meta[_ROWS])
        if used == len(totals) and len(totals) < meta[_ROW_LIMIT]:
            rows = min(2 * len(totals), int(meta[_ROW_LIMIT]))
            bigger_counts = np.zeros(rows * 256, dtype=np.uint16)
            bigger_counts[: used * 256] = counts[: used * 256]
            bigger_totals = np.zeros(rows, dtype=np.int64)
            bigger_totals[:used] = totals[:used]
            counts, totals = bigger_counts, bigger_totals
        if 2 * (used + 1) > len(hkey) and len(hkey) < meta[_SLOT_LIMIT]:
            new_key = np.zeros(2 * len(hkey), dtype=np.int64)
            new_row = np.zeros(2 * len(hkey), dtype=np.int32)
            _rehash(hkey, hrow, new_key, new_row)
            hkey, hrow = new_key, new_row
        self._state = (hkey, hrow, counts, totals, conf, meta)
