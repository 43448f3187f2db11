"""History side of the `cm` model: context hashes, the word model and the match model.

`meta` (int64) holds the scalars of the history: position, the last 8 bytes, the current and the
previous word's hashes, the match pointer and length, and the slot-eviction count. `_learn_byte`
appends a byte; `_next_contexts` gives the context hashes that follow a byte before it is learnt
(so `observe` can prefetch their slots a byte ahead).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: the match model looks up the last MIN_MATCH bytes
MIN_MATCH = 6

# meta layout
_POS, _HIST, _WORD, _WORD1, _MPTR, _MLEN, _EVICT = 0, 1, 2, 3, 4, 5, 6
META = 8

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _hash(v: int, k: int) -> int:
    """A 64-bit mix of a context value and a tag (splitmix64's finaliser), in uint64 arithmetic
    (the same mix written with signed shifts and masks was miscompiled once inlined in a loop)."""
    h = np.uint64(v) * _M1 + np.uint64(k + 1) * _M2
    h = (h ^ (h >> np.uint64(30))) * _M2
    h = (h ^ (h >> np.uint64(27))) * _M3
    return int(np.int64(h ^ (h >> np.uint64(31))))


@njit(cache=True, inline="always")
def _word_after(word: int, word1: int, symbol: int) -> tuple[int, int]:
    """The hashes of the current and the previous word once `symbol` is seen."""
    lower = symbol + 32 if 65 <= symbol <= 90 else symbol
    if 97 <= lower <= 122:
        return _hash(word + lower, 99), word1
    return (0, word) if word != 0 else (word, word1)


@njit(cache=True)
def _next_contexts(meta: np.ndarray, symbol: int, out: np.ndarray) -> None:
    """The context hashes of the byte after `symbol`, from the state before `symbol` is learnt."""
    hist = (meta[_HIST] << 8) | symbol
    word, word1 = _word_after(meta[_WORD], meta[_WORD1], symbol)
    for k in range(1, 7):
        out[k] = _hash(hist & ((1 << (8 * k)) - 1), k)
    out[0] = _hash(0, 0)
    out[7] = _hash(word * 256 + (0 if word else symbol), 7)
    out[8] = _hash(word + word1 * 31, 8)
    out[9] = _hash(hist & 0xFF00FF00, 9)


@njit(cache=True)
def _learn_byte(buf, mt, meta, symbol):
    """History, word hashes and the match model (`_next_contexts` gives the context hashes)."""
    bmask = len(buf) - 1
    pos = meta[_POS]
    buf[pos & bmask] = symbol
    pos += 1
    meta[_POS] = pos
    hist = (meta[_HIST] << 8) | symbol
    meta[_HIST] = hist
    meta[_WORD], meta[_WORD1] = _word_after(meta[_WORD], meta[_WORD1], symbol)
    if meta[_MLEN] > 0 and buf[meta[_MPTR] & bmask] == symbol:
        meta[_MLEN] = min(meta[_MLEN] + 1, 65535)
        meta[_MPTR] += 1
    else:
        meta[_MLEN] = 0
    mslot = _hash(hist & ((1 << (8 * MIN_MATCH)) - 1), 77) & (len(mt) - 1)
    if meta[_MLEN] == 0 and pos >= MIN_MATCH:
        cand = mt[mslot]
        if cand > 0 and pos - cand < len(buf) - 64:
            n = 0
            while n < 64 and n < cand and buf[(cand - 1 - n) & bmask] == buf[(pos - 1 - n) & bmask]:
                n += 1
            if n >= MIN_MATCH:
                meta[_MLEN] = n
                meta[_MPTR] = cand
    mt[mslot] = pos
