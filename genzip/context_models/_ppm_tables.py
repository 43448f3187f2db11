"""PPM's count tables: the block allocator, learning one byte into every context, flushing, rehashing.

The data structures are described in `ppm`; these kernels only change them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._hashing import HISTORY_MASK, probe
from ._hashing import context_key as _key

MAX_ORDER = 7
#: a count above this halves every count of the context (adaptivity, bounded counts), unless the
#: model's `max_count` says otherwise (`_MAX_COUNT`)
MAX_COUNT = 1 << 12
#: a byte new to a context starts at 1 + INHERIT * its share in the context that predicted it
INHERIT = 8
#: subtracted from every count in a context's symbol estimate (method D: 0.5)
DISCOUNT = 0.1

# meta layout
_HIST, _SEEN, _POOL_USED, _N_CTX, _FLUSHES, _ORDER, _MAX_CTX, _FREE = 0, 1, 2, 3, 4, 5, 6, 7
_LAST_HIT = _FREE + 9  # nine free lists (block sizes 1, 2, 4, ..., 256), then this flag
_SLOT_LIMIT, _POOL_LIMIT = _FREE + 10, _FREE + 11  # sizes the tables may grow to
_META = _FREE + 12
#: two slots that only models other than the original one (see=cell, max_count=4096) have, so that
#: its meta, memory accounting and hence flush points stay as they were: the count limit, and
#: `_ppm_mix.hash_bits` for see=mix (0 for see=cell)
_MAX_COUNT, _MIXED = _META, _META + 1
_META_EXTENDED = _META + 2
#: pool entries kept free so one update can never run out: each of the MAX_ORDER + 1
#: contexts may move into a new block of at most 256 entries
_RESERVE = (MAX_ORDER + 1) * 256
_START_SLOTS = 1 << 12


@njit(cache=True)
def _alloc(pool: np.ndarray, meta: np.ndarray, size_class: int) -> int:
    head = meta[_FREE + size_class]
    if head >= 0:
        meta[_FREE + size_class] = pool[head]
        return head
    offset = meta[_POOL_USED]
    meta[_POOL_USED] = offset + (1 << size_class)
    return offset


@njit(cache=True)
def _add_symbol(
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    meta: np.ndarray,
    slot: int,
    symbol: int,
    count: int,
) -> None:
    n = hnsym[slot]
    if n == 0:
        hstart[slot] = _alloc(pool, meta, 0)
    elif n & (n - 1) == 0:  # block full: move to a block twice the size
        size_class = 0
        while (1 << size_class) < n:
            size_class += 1
        old = hstart[slot]
        new = _alloc(pool, meta, size_class + 1)
        pool[new : new + n] = pool[old : old + n]
        pool[old] = meta[_FREE + size_class]
        meta[_FREE + size_class] = old
        hstart[slot] = new
    pool[hstart[slot] + n] = (count << 8) | symbol
    hnsym[slot] = n + 1
    htot[slot] += count


@njit(cache=True)
def _increment(htot: np.ndarray, pool: np.ndarray, start: int, n: int, slot: int, j: int, limit: int) -> None:
    pool[j] += 1 << 8
    htot[slot] += 1
    if (pool[j] >> 8) > limit:
        total = 0
        for i in range(start, start + n):
            c = ((pool[i] >> 8) + 1) >> 1
            pool[i] = (c << 8) | (pool[i] & 255)
            total += c
        htot[slot] = total


@njit(cache=True)
def _learn_one(
    hkey: np.ndarray,
    hstart: np.ndarray,
    hnsym: np.ndarray,
    htot: np.ndarray,
    pool: np.ndarray,
    meta: np.ndarray,
    symbol: int,
) -> None:
    """Update exclusion: raise the count where the byte is found, add it to the longer contexts.

    A byte added to a longer context inherits a starting count from the
    context that knew it: 1 + INHERIT * (its share of that context's counts).
    """
    hist = meta[_HIST]
    top = min(meta[_ORDER], meta[_SEEN])
    found_order = -1
    inherited = 1
    for k in range(top, -1, -1):
        key = _key(hist, k)
        slot = probe(hkey, key)
        if hkey[slot] != key:
            continue
        start = hstart[slot]
        n = hnsym[slot]
        for j in range(start, start + n):
            if (pool[j] & 255) == symbol:
                found_order = k
                inherited = 1 + (INHERIT * (pool[j] >> 8)) // htot[slot]
                _increment(htot, pool, start, n, slot, j, max_count(meta))
                break
        if found_order >= 0:
            break
    for k in range(top, found_order, -1):
        key = _key(hist, k)
        slot = probe(hkey, key)
        if hkey[slot] != key:
            hkey[slot] = key
            hnsym[slot] = 0
            htot[slot] = 0
            meta[_N_CTX] += 1
        _add_symbol(hstart, hnsym, htot, pool, meta, slot, symbol, inherited)
    meta[_HIST] = ((hist << 8) | symbol) & HISTORY_MASK
    meta[_SEEN] += 1


@njit(cache=True, inline="always")
def mixed_see(meta: np.ndarray) -> bool:
    """Whether this model estimates escapes with `_ppm_mix` (see=mix) rather than one SEE cell."""
    return len(meta) > _MIXED and meta[_MIXED] > 0


@njit(cache=True, inline="always")
def max_count(meta: np.ndarray) -> int:
    """The count above which a context's counts are halved."""
    return meta[_MAX_COUNT] if len(meta) > _MAX_COUNT else MAX_COUNT


@njit(cache=True)
def _needs_room(hkey: np.ndarray, pool: np.ndarray, meta: np.ndarray) -> bool:
    """A table is nearly full but below its limit: the batch kernel hands back to `_grow`."""
    return (meta[_N_CTX] + MAX_ORDER + 1 > meta[_MAX_CTX] and len(hkey) < meta[_SLOT_LIMIT]) or (
        meta[_POOL_USED] + _RESERVE > len(pool) and len(pool) < meta[_POOL_LIMIT]
    )


@njit(cache=True)
def _rehash(hkey, hstart, hnsym, htot, new_key, new_start, new_nsym, new_tot):
    for i in range(len(hkey)):
        if hkey[i] != 0:
            j = probe(new_key, hkey[i])
            new_key[j] = hkey[i]
            new_start[j] = hstart[i]
            new_nsym[j] = hnsym[i]
            new_tot[j] = htot[i]
