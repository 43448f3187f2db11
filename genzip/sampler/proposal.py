"""The cheap proposal of the sequence samplers: an interpolated order-k model of the history (numba).

For each particle (the history followed by that particle's own bytes), one pass
over the history finds, at every position, how many bytes before it match the
particle's last bytes. Those matches give the next-byte counts of every order
0..k, interpolated by Witten-Bell from order 0 up (a uniform base keeps every
byte possible); the same pass yields the bytes `no_repeat_ngram_size` bans and
the bytes already seen (for the repetition penalty), so the proposal obeys the
`generate` controls exactly.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _particle_pass(  # pragma: no cover - compiled
    history: np.ndarray,
    extension: np.ndarray,
    order: int,
    ban_size: int,
    own_start: int,
    own_ban_size: int,
    probs: np.ndarray,
    banned: np.ndarray,
    seen: np.ndarray,
) -> None:
    """Fill one particle's proposal distribution, banned bytes and seen bytes (rows of length 256)."""
    base = len(history)
    length = base + len(extension)
    reach = max(order, ban_size - 1, own_ban_size - 1)
    counts = np.zeros((order + 1, 256), dtype=np.float64)
    for j in range(length):
        nxt = history[j] if j < base else extension[j - base]
        seen[nxt] = True
        match = 0
        while match < reach and j - 1 - match >= 0:
            a = j - 1 - match
            b = length - 1 - match
            left = history[a] if a < base else extension[a - base]
            right = history[b] if b < base else extension[b - base]
            if left != right:
                break
            match += 1
        for k in range(min(match, order) + 1):
            counts[k, nxt] += 1.0
        if ban_size > 0 and match >= ban_size - 1 and j >= ban_size - 1:
            banned[nxt] = True
        if own_ban_size > 0 and match >= own_ban_size - 1 and j - (own_ban_size - 1) >= own_start:
            banned[nxt] = True
    for b in range(256):
        probs[b] = 1.0 / 256.0
    for k in range(order + 1):
        total = 0.0
        distinct = 0.0
        for b in range(256):
            total += counts[k, b]
            if counts[k, b] > 0:
                distinct += 1.0
        if total > 0:
            for b in range(256):
                probs[b] = (counts[k, b] + distinct * probs[b]) / (total + distinct)


@numba.njit(cache=True)
def proposal_rows(  # pragma: no cover - compiled
    history: np.ndarray, extensions: np.ndarray, order: int, ban_size: int, own_start: int, own_ban_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of `extensions` (particles, bytes so far): proposal, banned and seen, each (particles, 256)."""
    particles = extensions.shape[0]
    probs = np.empty((particles, 256), dtype=np.float64)
    banned = np.zeros((particles, 256), dtype=np.bool_)
    seen = np.zeros((particles, 256), dtype=np.bool_)
    for m in range(particles):
        _particle_pass(
            history, extensions[m], order, ban_size, own_start, own_ban_size, probs[m], banned[m], seen[m]
        )
    return probs, banned, seen
