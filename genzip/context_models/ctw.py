"""Context Tree Weighting (Willems, Shtarkov, Tjalkens 1995) over bytes.

Each byte is coded as 8 binary decisions along its bit tree (most significant
bit first; the 255 internal nodes of the tree are separate binary sources).
Every decision has its own context tree over the previous `depth` bytes: the
node at depth d sees the decisions made after the same last d bytes and
holds KT-estimator counts (a zeros, b ones; p(1) = (b + alpha) / (a + b +
2 alpha), alpha = 1/2 is Krichevsky-Trofimov). Nodes mix their own estimate
with their children's, P_w = (P_e + prod P_w(children)) / 2, computed in the
ratio form: each node stores log beta = log P_e - log prod P_w(children), so
its conditional probability is w p_e + (1 - w) p_child with w = 1 / (1 +
exp(-log beta)), and observing a bit adds log p_e(bit) - log p_child(bit).
Nothing underflows however long the input. Before the start of the input
the context is padded with zero bytes.

A full distribution needs all 255 binary conditionals: one pass computes
them (reusing the block lookups), then one top-down pass multiplies them
into the 256 byte probabilities.

Memory: nodes live in a fixed hash table of `memory` bytes made of blocks of
16 slots (196 bytes); one block holds the 15 nodes of one half-byte subtree
for one context (the high nibble, or the low nibble after a given high
nibble). A block is found by hashing (depth, context bytes, nibble) and
checking a 31-bit tag in a 4-way bucket. When all four blocks of a bucket belong
to other contexts, the one with the fewest visits is evicted and the new context
starts from empty statistics; the model never grows past `memory`. Counts are
halved above `COUNT_LIMIT` (bounded integers; keeps the model adaptive). With
ample memory and short inputs the model is exact CTW (tests compare it with a
brute-force reference). On 1 MiB of Moby-Dick at depth 6 the default 256m
(196 MiB of blocks) sees about 350 k evictions; 64m costs 2.4 % in bits/byte.

`score()` claims a byte's blocks before computing p(byte), the full
distribution only looks them up, so the two differ (beyond rounding) only
for a byte whose claim evicts a block another depth of the same byte still
uses; coding always uses the full path on both sides, so it is unaffected.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..predictor import RuntimeOptions
from ._base import NumbaContextModel, State, table_bits

MAX_DEPTH = 16
#: a KT count above this halves both counts of the node
COUNT_LIMIT = 1023
#: blocks per hash bucket (a context may sit in any of them)
_WAYS = 4
_BLOCK_BYTES = 4 + 16 * (2 + 2 + 8)  # tag + 16 x (two counts, log beta)

# meta layout
_EVICTIONS, _DEPTH = 0, 1
_META = 2
_PRIME = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed 64-bit integer
_PRIME2 = -4658895280553007687  # 0xBF58476D1CE4E5B9 (splitmix64) as a signed 64-bit integer


@njit(cache=True, inline="always")
def _mix(h: int, v: int) -> int:
    h = (h + v + 1) * _PRIME
    h ^= (h >> 32) & 0xFFFFFFFF
    h *= _PRIME2
    return h ^ ((h >> 29) & 0x7FFFFFFFF)


@njit(cache=True)
def _context_hashes(recent: np.ndarray, depth: int, hashes: np.ndarray) -> None:
    """hashes[d] identifies (d, last d bytes); recent[0] is the newest byte."""
    h = 0x1234567
    hashes[0] = h
    for d in range(1, depth + 1):
        h = _mix(h, recent[d - 1])
        hashes[d] = h


@njit(cache=True, inline="always")
def _tag(h: int) -> int:
    return ((h >> 33) & 0x7FFFFFFF) | 1


@njit(cache=True)
def _find(tags: np.ndarray, h: int) -> int:
    """Block holding context hash `h`, or -1 (read-only)."""
    i = h & (len(tags) - _WAYS)
    t = _tag(h)
    for j in range(i, i + _WAYS):
        if tags[j] == t:
            return j
    return -1


@njit(cache=True)
def _claim(tags: np.ndarray, n0: np.ndarray, n1: np.ndarray, lb: np.ndarray, meta: np.ndarray, h: int) -> int:
    """Block for context hash `h`: its own, an empty one, or the least visited of the bucket (evicted)."""
    i = h & (len(tags) - _WAYS)
    t = _tag(h)
    victim = -1
    fewest = 1 << 40
    for j in range(i, i + _WAYS):
        if tags[j] == t:
            return j
        visits = 0 if tags[j] == 0 else 1 + int(n0[16 * j + 1]) + n1[16 * j + 1]
        if visits < fewest:
            victim = j
            fewest = visits
    if fewest > 0:
        meta[_EVICTIONS] += 1
    tags[victim] = t
    base = 16 * victim
    n0[base : base + 16] = 0
    n1[base : base + 16] = 0
    lb[base : base + 16] = 0.0
    return victim


@njit(cache=True)
def _node_p1(
    n0: np.ndarray,
    n1: np.ndarray,
    lb: np.ndarray,
    blocks: np.ndarray,
    q: int,
    depth: int,
    alpha: float,
    pe: np.ndarray,
    pw: np.ndarray,
) -> float:
    """Weighted p(bit = 1) at slot q along the context path; fills pe/pw per depth."""
    p = 0.5
    for d in range(depth, -1, -1):
        blk = blocks[d]
        if blk < 0:
            a = 0
            b = 0
            lbeta = 0.0
        else:
            idx = 16 * blk + q
            a = int(n0[idx])
            b = int(n1[idx])
            lbeta = lb[idx]
        e = (b + alpha) / (a + b + 2.0 * alpha)
        pe[d] = e
        if d == depth:
            p = e
        elif lbeta == 0.0:
            p = 0.5 * e + 0.5 * p
        else:
            w = 1.0 / (1.0 + math.exp(-lbeta))
            p = w * e + (1.0 - w) * p
        pw[d] = p
    return p


@njit(cache=True)
def _dist_into(tags, n0, n1, lb, recent, conf, meta, out, scratch, iscratch):
    """Full 256-way distribution: 255 binary conditionals, then one pass down the bit tree."""
    depth = meta[_DEPTH]
    alpha = conf[0]
    hashes = iscratch[0]
    blocks = iscratch[1]
    pe = scratch[1]
    pw = scratch[2]
    p1 = scratch[3]
    _context_hashes(recent, depth, hashes)
    for d in range(depth + 1):
        blocks[d] = _find(tags, _mix(hashes[d], 0))
    for j in range(1, 16):
        p1[j] = _node_p1(n0, n1, lb, blocks, j, depth, alpha, pe, pw)
    for hi in range(16):
        for d in range(depth + 1):
            blocks[d] = _find(tags, _mix(hashes[d], 16 + hi))
        for q in range(1, 16):
            m = 0 if q < 2 else (1 if q < 4 else (2 if q < 8 else 3))
            p1[((16 + hi) << m) + q - (1 << m)] = _node_p1(n0, n1, lb, blocks, q, depth, alpha, pe, pw)
    reach = scratch[4]
    reach[1] = 1.0
    for j in range(1, 256):
        reach[2 * j] = reach[j] * (1.0 - p1[j])
        reach[2 * j + 1] = reach[j] * p1[j]
    for b in range(256):
        out[b] = reach[256 + b]


@njit(cache=True)
def _observe(tags, n0, n1, lb, recent, conf, meta, symbol, scratch, iscratch):
    """Code one byte's 8 bits through the trees and update them; returns p(byte)."""
    depth = meta[_DEPTH]
    alpha = conf[0]
    hashes = iscratch[0]
    blocks = iscratch[1]
    pe = scratch[1]
    pw = scratch[2]
    symbol = np.int64(symbol)
    _context_hashes(recent, depth, hashes)
    for d in range(depth + 1):
        blocks[d] = _claim(tags, n0, n1, lb, meta, _mix(hashes[d], 0))
    prob = 1.0
    node = 1
    for level in range(8):
        if level == 4:
            for d in range(depth + 1):
                blocks[d] = _claim(tags, n0, n1, lb, meta, _mix(hashes[d], 16 + (node - 16)))
        q = node if level < 4 else (1 << (level - 4)) | (node & ((1 << (level - 4)) - 1))
        p = _node_p1(n0, n1, lb, blocks, q, depth, alpha, pe, pw)
        bit = (symbol >> (7 - level)) & 1
        prob *= p if bit else 1.0 - p
        for d in range(depth + 1):
            idx = 16 * blocks[d] + q
            if d < depth:
                e = pe[d] if bit else 1.0 - pe[d]
                c = pw[d + 1] if bit else 1.0 - pw[d + 1]
                lb[idx] += math.log(e) - math.log(c)
            if bit:
                n1[idx] += 1
            else:
                n0[idx] += 1
            if int(n0[idx]) + n1[idx] > COUNT_LIMIT:
                n0[idx] = (n0[idx] + 1) >> 1
                n1[idx] = (n1[idx] + 1) >> 1
        node = 2 * node + bit
    recent[1:] = recent[:-1].copy()
    recent[0] = symbol
    return prob


@njit(cache=True)
def _dist(tags, n0, n1, lb, recent, conf, meta, out):
    scratch = np.empty((5, 512), dtype=np.float64)
    _dist_into(
        tags, n0, n1, lb, recent, conf, meta, out, scratch, np.empty((2, MAX_DEPTH + 1), dtype=np.int64)
    )


@njit(cache=True)
def _dists(tags, n0, n1, lb, recent, conf, meta, symbols, out):
    scratch = np.empty((5, 512), dtype=np.float64)
    iscratch = np.empty((2, MAX_DEPTH + 1), dtype=np.int64)
    for i in range(len(symbols)):
        _dist_into(tags, n0, n1, lb, recent, conf, meta, out[i], scratch, iscratch)
        _observe(tags, n0, n1, lb, recent, conf, meta, symbols[i], scratch, iscratch)
    return len(symbols)


@njit(cache=True)
def _score(tags, n0, n1, lb, recent, conf, meta, symbols, bits):
    scratch = np.empty((5, 512), dtype=np.float64)
    iscratch = np.empty((2, MAX_DEPTH + 1), dtype=np.int64)
    for i in range(len(symbols)):
        bits[i] = -np.log2(_observe(tags, n0, n1, lb, recent, conf, meta, symbols[i], scratch, iscratch))
    return len(symbols)


@njit(cache=True)
def _learn(tags, n0, n1, lb, recent, conf, meta, symbols):
    scratch = np.empty((5, 512), dtype=np.float64)
    iscratch = np.empty((2, MAX_DEPTH + 1), dtype=np.int64)
    for i in range(len(symbols)):
        _observe(tags, n0, n1, lb, recent, conf, meta, symbols[i], scratch, iscratch)
    return len(symbols)


class CtwPredictor(NumbaContextModel):
    """Byte-level CTW with hashed, size-bounded context trees; see the module docstring."""

    _dist = _dist
    _dists = _dists
    _score = _score
    _learn = _learn
    _LIMIT_EVENTS = _EVICTIONS

    def __init__(
        self, options: RuntimeOptions, depth: int = 6, alpha: float = 0.5, memory: int = 256 << 20
    ) -> None:
        self.depth = depth
        self.alpha = alpha
        self.memory = memory
        super().__init__(options)

    def _fresh_state(self) -> State:
        blocks = 1 << table_bits(self.memory, _BLOCK_BYTES, 1.0)
        meta = np.zeros(_META, dtype=np.int64)
        meta[_DEPTH] = self.depth
        return (
            np.zeros(blocks, dtype=np.int32),
            np.zeros(16 * blocks, dtype=np.uint16),
            np.zeros(16 * blocks, dtype=np.uint16),
            np.zeros(16 * blocks, dtype=np.float64),
            np.zeros(MAX_DEPTH + 1, dtype=np.int64),
            np.array([self.alpha], dtype=np.float64),
            meta,
        )
