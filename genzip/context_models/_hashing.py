"""Open-addressing hash tables keyed by contexts, shared by the ppm and order-k kernels."""

from __future__ import annotations

import numpy as np
from numba import njit

#: the last 7 bytes of history, packed into an int64 (the top byte is left for the order tag)
HISTORY_MASK = (1 << 56) - 1
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed 64-bit integer


@njit(cache=True, inline="always")
def probe(hkey: np.ndarray, key: int) -> int:
    """Slot holding `key`, or the empty slot where it would go (linear probing, key 0 = empty)."""
    mask = len(hkey) - 1
    h = key * _GOLDEN
    i = (h ^ (h >> 31)) & mask
    while hkey[i] != 0 and hkey[i] != key:
        i = (i + 1) & mask
    return i


@njit(cache=True, inline="always")
def context_key(hist: int, k: int) -> int:
    """Hash-table key of the order-k context: the last k bytes of `hist`, tagged with k + 1."""
    return (hist & ((1 << (8 * k)) - 1)) | ((k + 1) << 56)
