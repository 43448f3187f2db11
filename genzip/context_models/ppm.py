"""PPM (prediction by partial matching): escapes refined by SEE, exclusions, inherited counts.

For the next byte, contexts of order N, N-1, ..., 0 (the last k bytes) are
tried from the longest. In a context whose non-excluded bytes (those not
already offered by a longer context) have counts c_s summing to T over u
distinct bytes, the escape probability e starts from Howard's method D,
u / 2T, and is refined by secondary escape estimation (SEE, as in PPMZ /
PPMd): with ``see=mix`` (default) seven SEE cells combined by a learned
logistic mixer (`_ppm_mix`), with ``see=cell`` the one cell of `_ppm_see`
(the model before the option existed). The remaining 1 - e is shared in
proportion to c_s - `DISCOUNT`. What escapes from order 0 is spread
uniformly over the bytes never offered (order -1), so every byte has
probability > 0 and the 256 entries form a full distribution.

After a byte is seen, its count is raised in the context that predicted it
and it is added to every longer context (update exclusion) with an inherited
starting count 1 + `INHERIT` * (its share of the predicting context), as in
PPMd's information inheritance; counts are halved when one exceeds
``max_count`` (default 128; the original model used `MAX_COUNT` = 4096), which
keeps the model adaptive. Everything is integer counts
plus plain float64 arithmetic, so it is bit-reproducible on any IEEE machine.

Data structures (numba-friendly, exact keys, no hash collisions): an
open-addressing hash table maps (order, last k bytes) to a context slot
holding a block offset, the number of distinct bytes and the total count;
blocks of ``(count << 8) | byte`` int32 entries live in one pool and double
in size when full (freed blocks go to per-size free lists).

Memory: the tables start small and double as they fill, up to `memory` bytes
in all. When the context table (60 % full) or the pool cannot grow any more,
the model *flushes*: it forgets every statistic, then relearns from the last
`order` bytes, exactly as a fresh model reset with those bytes as its
context (PPMd's "restart" policy). A context costs about 40 bytes (hash slot at 60 % load plus its entries).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import SpecError
from ..predictor import RuntimeOptions
from ._base import NumbaContextModel, State, table_bits
from ._hashing import context_key as _key
from ._hashing import probe
from ._ppm_mix import hash_bits, mix_cells, mix_escape, mix_escape_visit, mix_learn, reset_table, table_size
from ._ppm_see import CELLS_PER_ORDER, escape, record, see_cell
from ._ppm_tables import (
    _FLUSHES,
    _FREE,
    _HIST,
    _LAST_HIT,
    _MAX_COUNT,
    _MAX_CTX,
    _META,
    _META_EXTENDED,
    _MIXED,
    _N_CTX,
    _ORDER,
    _POOL_LIMIT,
    _POOL_USED,
    _RESERVE,
    _SEEN,
    _SLOT_LIMIT,
    _START_SLOTS,
    DISCOUNT,
    MAX_COUNT,
    MAX_ORDER,
    _learn_one,
    _needs_room,
    _rehash,
    mixed_see,
)


@njit(cache=True, inline="always")
def _context_range(hkey: np.ndarray, hstart: np.ndarray, hnsym: np.ndarray, key: int) -> tuple[int, int]:
    """Where a context's (byte, count) entries lie in the pool; an empty range for an unseen context."""
    slot = probe(hkey, key)
    if hkey[slot] != key:
        return 0, 0
    return hstart[slot], hstart[slot] + hnsym[slot]


@njit(cache=True, inline="always")
def _tally(pool: np.ndarray, start: int, end: int, excluded: np.ndarray, symbol: int) -> tuple[int, int, int]:
    """A context's statistics over the bytes not excluded: total count, distinct bytes, count of `symbol`.

    Shared by `_walk` (scoring) and `_dist_into` (full distributions) so both see the same numbers.
    """
    total = 0
    distinct = 0
    count = 0
    for j in range(start, end):
        s = pool[j] & 255
        if not excluded[s]:
            total += pool[j] >> 8
            distinct += 1
            if s == symbol:
                count = pool[j] >> 8
    return total, distinct, count


@njit(cache=True)
def _walk(
    hkey: np.ndarray,
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    see: np.ndarray,
    meta: np.ndarray,
    symbol: int,
    excluded: np.ndarray,
) -> float:
    """p(symbol), updating the SEE cells of the contexts it passes through."""
    hist = meta[_HIST]
    top = min(meta[_ORDER], meta[_SEEN])
    excluded[:] = False
    n_excluded = 0
    mass = 1.0
    mixed = mixed_see(meta)
    order = meta[_ORDER]
    bits = meta[_MIXED] if mixed else 0
    visits = 0
    for k in range(top, -1, -1):
        start, end = _context_range(hkey, hstart, hnsym, _key(hist, k))
        total, distinct, count = _tally(pool, start, end, excluded, symbol)
        if distinct == 0:
            continue
        first = n_excluded == 0
        if mixed:
            cells = mix_cells(
                hkey, hnsym, order, bits, hist, k, distinct, total, first, meta[_LAST_HIT], end - start
            )
            e = mix_escape_visit(see, order, bits, cells, distinct, total, visits)
            visits += 1
        else:
            cell = see_cell(hkey, hnsym, hist, k, distinct, total, first, meta[_LAST_HIT], end - start)
            e = escape(see, cell, distinct, total)
            record(see, cell, count == 0)
        if count > 0:
            meta[_LAST_HIT] = 1 if n_excluded == 0 else 0
            if mixed:
                mix_learn(see, order, bits, visits, True)
            return mass * (1.0 - e) / (total - DISCOUNT * distinct) * (count - DISCOUNT)
        for j in range(start, end):
            excluded[pool[j] & 255] = True
        n_excluded += distinct
        mass = mass * e
    meta[_LAST_HIT] = 0
    if mixed:
        mix_learn(see, order, bits, visits, False)
    return mass / (256 - n_excluded)


@njit(cache=True)
def _dist_into(
    hkey: np.ndarray,
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    see: np.ndarray,
    meta: np.ndarray,
    out: np.ndarray,
    excluded: np.ndarray,
) -> None:
    """Full 256-way distribution, same arithmetic as `_walk`; the one code path for every row."""
    hist = meta[_HIST]
    top = min(meta[_ORDER], meta[_SEEN])
    excluded[:] = False
    n_excluded = 0
    mass = 1.0
    for k in range(top, -1, -1):
        start, end = _context_range(hkey, hstart, hnsym, _key(hist, k))
        total, distinct, _ = _tally(pool, start, end, excluded, -1)
        if distinct == 0:
            continue
        first = n_excluded == 0
        if mixed_see(meta):
            cells = mix_cells(
                hkey,
                hnsym,
                meta[_ORDER],
                meta[_MIXED],
                hist,
                k,
                distinct,
                total,
                first,
                meta[_LAST_HIT],
                end - start,
            )
            e = mix_escape(see, cells, distinct, total)
        else:
            e = escape(
                see,
                see_cell(hkey, hnsym, hist, k, distinct, total, first, meta[_LAST_HIT], end - start),
                distinct,
                total,
            )
        share = mass * (1.0 - e) / (total - DISCOUNT * distinct)
        for j in range(start, end):
            s = pool[j] & 255
            if not excluded[s]:
                out[s] = share * ((pool[j] >> 8) - DISCOUNT)
                excluded[s] = True
        n_excluded += distinct
        mass = mass * e
    if n_excluded < 256:
        p = mass / (256 - n_excluded)
        for s in range(256):
            if not excluded[s]:
                out[s] = p


@njit(cache=True)
def _flush(
    hkey: np.ndarray,
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    see: np.ndarray,
    meta: np.ndarray,
    excluded: np.ndarray,
) -> None:
    """Forget all statistics, then relearn the last `order` bytes (like a fresh reset)."""
    hist = meta[_HIST]
    keep = min(meta[_ORDER], meta[_SEEN])
    hkey[:] = 0
    meta[_POOL_USED] = 0
    meta[_N_CTX] = 0
    meta[_FREE : _FREE + 9] = -1
    meta[_HIST] = 0
    meta[_SEEN] = 0
    meta[_FLUSHES] += 1
    meta[_LAST_HIT] = 0
    if mixed_see(meta):
        reset_table(see, meta[_ORDER], meta[_MIXED])
    else:
        see[:] = 0.0
    for i in range(keep - 1, -1, -1):
        symbol = (hist >> (8 * i)) & 255
        _walk(hkey, hstart, hnsym, htot, pool, see, meta, symbol, excluded)
        _learn_one(hkey, hstart, hnsym, htot, pool, meta, symbol)


@njit(cache=True)
def _observe(
    hkey: np.ndarray,
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    see: np.ndarray,
    meta: np.ndarray,
    symbol: int,
    excluded: np.ndarray,
) -> float:
    """Observe one byte (SEE update, then counts); returns the probability it had."""
    p = _walk(hkey, hstart, hnsym, htot, pool, see, meta, symbol, excluded)
    _learn_one(hkey, hstart, hnsym, htot, pool, meta, symbol)
    if (meta[_N_CTX] + MAX_ORDER + 1 > meta[_MAX_CTX] and len(hkey) >= meta[_SLOT_LIMIT]) or (
        meta[_POOL_USED] + _RESERVE > len(pool) and len(pool) >= meta[_POOL_LIMIT]
    ):
        _flush(hkey, hstart, hnsym, htot, pool, see, meta, excluded)
    return p


@njit(cache=True)
def _dist(hkey, hstart, hnsym, htot, pool, see, meta, out):
    _dist_into(hkey, hstart, hnsym, htot, pool, see, meta, out, np.zeros(256, dtype=np.bool_))


@njit(cache=True)
def _dists(hkey, hstart, hnsym, htot, pool, see, meta, symbols, out):
    excluded = np.zeros(256, dtype=np.bool_)
    for i in range(len(symbols)):
        if _needs_room(hkey, pool, meta):
            return i
        _dist_into(hkey, hstart, hnsym, htot, pool, see, meta, out[i], excluded)
        _observe(hkey, hstart, hnsym, htot, pool, see, meta, symbols[i], excluded)
    return len(symbols)


@njit(cache=True)
def _score(hkey, hstart, hnsym, htot, pool, see, meta, symbols, bits):
    excluded = np.zeros(256, dtype=np.bool_)
    for i in range(len(symbols)):
        if _needs_room(hkey, pool, meta):
            return i
        bits[i] = -np.log2(_observe(hkey, hstart, hnsym, htot, pool, see, meta, symbols[i], excluded))
    return len(symbols)


@njit(cache=True)
def _learn(hkey, hstart, hnsym, htot, pool, see, meta, symbols):
    return _score(hkey, hstart, hnsym, htot, pool, see, meta, symbols, np.empty(len(symbols)))


class PpmPredictor(NumbaContextModel):
    """PPM with SEE-refined escapes, exclusions and inherited counts; see the module docstring."""

    _dist = _dist
    _dists = _dists
    _score = _score
    _learn = _learn
    _LIMIT_EVENTS = _FLUSHES

    def __init__(
        self,
        options: RuntimeOptions,
        order: int = 5,
        memory: int = 256 << 20,
        see: str = "mix",
        max_count: int = 128,
    ) -> None:
        self.order = order
        self.memory = memory
        self.see = see
        self.max_count = max_count
        super().__init__(options)

    def _fresh_state(self) -> State:
        mixed = self.see == "mix"
        if mixed:
            bits = hash_bits(self.memory)
            see = np.empty(table_size(self.order, bits), dtype=np.float64)
            reset_table(see, self.order, bits)
        else:
            see = np.zeros(2 * (self.order + 1) * CELLS_PER_ORDER, dtype=np.float64)
        original = not mixed and self.max_count == MAX_COUNT  # the model before these options
        meta = np.zeros(_META if original else _META_EXTENDED, dtype=np.int64)
        if not original:
            meta[_MAX_COUNT] = self.max_count
            meta[_MIXED] = bits if mixed else 0
        fixed_bytes = see.nbytes + meta.nbytes
        # the context slots (key 8 + start 4 + distinct 4 + total 4 bytes) take half of what is left
        counted = self.memory - (fixed_bytes if mixed else 0)
        slot_limit = 1 << table_bits(counted, 20, 0.5) if counted > 0 else 0
        pool_limit = (self.memory - 20 * slot_limit - fixed_bytes) // 4
        if pool_limit < 2 * _RESERVE:
            raise SpecError(f"ppm: memory={self.memory} is too small for the tables")
        slots = min(slot_limit, _START_SLOTS)
        meta[_ORDER] = self.order
        meta[_MAX_CTX] = int(slots * 0.6)
        meta[_FREE : _FREE + 9] = -1
        meta[_SLOT_LIMIT] = slot_limit
        meta[_POOL_LIMIT] = pool_limit
        return (
            np.zeros(slots, dtype=np.int64),
            *(np.zeros(slots, dtype=np.int32) for _ in range(3)),
            np.zeros(min(pool_limit, 4 * _START_SLOTS), dtype=np.int32),
            see,
            meta,
        )

    def _grow(self) -> None:
        hkey, hstart, hnsym, htot, pool, see, meta = self._state
        if meta[_N_CTX] + MAX_ORDER + 1 > meta[_MAX_CTX] and len(hkey) < meta[_SLOT_LIMIT]:
            size = 2 * len(hkey)
            bigger: tuple[np.ndarray, ...] = (
                np.zeros(size, np.int64),
                *(np.zeros(size, np.int32) for _ in range(3)),
            )
            _rehash(hkey, hstart, hnsym, htot, *bigger)
            hkey, hstart, hnsym, htot = bigger
            meta[_MAX_CTX] = int(size * 0.6)
        if meta[_POOL_USED] + _RESERVE > len(pool) and len(pool) < meta[_POOL_LIMIT]:
            bigger_pool = np.zeros(min(2 * len(pool), int(meta[_POOL_LIMIT])), dtype=np.int32)
            bigger_pool[: meta[_POOL_USED]] = pool[: meta[_POOL_USED]]
            pool = bigger_pool
        self._state = (hkey, hstart, hnsym, htot, pool, see, meta)
