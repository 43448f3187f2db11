"""numba kernels of the `cm` context-mixing model (the design is in `cm.py`'s docstring).

State arrays, in the order every kernel takes them:

* ``ht``   uint8: hashed bit-history slots, 16 bytes each (byte 0 = checksum, bytes 1..15
  = the 15 nodes of a nibble); the last 16 bytes are an always-empty slot for unseen contexts;
* ``smp``/``smn`` int32: state maps, p(1) in 22 bits and an observation count per (input, state);
* ``mw``   float64: mixer weights, one set of `N_IN` per selector (match state x partial byte);
* ``apm1``/``apm2`` uint16: APM/SSE interpolation tables, 33 buckets per context;
* ``buf``  uint8 history ring, ``mt`` int32 match table (hash of the last bytes -> position);
* ``tabs`` float64: the stretch table (4096 entries), then the state maps' reciprocal rates;
* ``nex``  uint8: next bit-history state, ``nex[2 * state + bit]``; ``pri``: a state's priority;
* ``ctx``  int64: this byte's context hashes; ``meta`` int64: scalars (layout below).

Every prediction of a byte is made from the state at the start of the byte; the updates of
its 8 bits are applied once the byte is known. So the 256 leaf probabilities of one state are
computed without mutating it, and the batched and stepped paths are the same arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._cm_history import _EVICT, _HIST, _MLEN, _MPTR, _POS, _hash, _learn_byte, _next_contexts
from ._prefetch import prefetch

#: hashed contexts: orders 0..6, the word model, the word bigram, sparse (bytes 2 and 4 back)
ORDERS = (1, 2, 3, 4, 5, 6)
N_CTX = 10
MATCH_IN, BIAS_IN = N_CTX, N_CTX + 1
N_IN = N_CTX + 2
#: mixer weight sets: (no match, short match, long match) x 256 partial bytes
N_SETS = 3 * 256
#: the second mixer's weight sets: previous byte x bit position
N_SETS2 = 256 * 8
#: the third mixer's: how many of orders 1..6 have seen this node (0..6) x match state x bit position
N_SETS3 = 7 * 3 * 8
#: offset in the weights of the final mixer (3 inputs: the mixers' outputs; one set per partial byte)
FINAL = (N_SETS + N_SETS2 + N_SETS3) * N_IN
FINAL_RATE = 0.002
APM_BUCKETS = 33
SM_LIMIT = 255
LONG_MATCH = 16
P_MIN = 1.0 / 65536.0
#: offsets in `tabs`: stretch table, reciprocal rates, mixer learning rate, squash table
RECIP = 4096
LR = RECIP + SM_LIMIT + 1
SQUASH = LR + 1
#: the squash table covers [-SQUASH_RANGE, SQUASH_RANGE] in steps of 1 / SQUASH_STEPS
SQUASH_RANGE, SQUASH_STEPS = 16, 128
#: a second nibble reached with less probability than this is not modelled: its 15 bits are
#: coin flips (most of a full distribution's work saved, at most 4 bits x 16 x RARE_NIBBLE lost;
#: 2^-12 costs 0.0005 bits/byte on the Jargon File, 2^-10 0.0017)
RARE_NIBBLE = 1.0 / 4096.0


@njit(cache=True)
def _find(ht: np.ndarray, h: int) -> int:
    """Base of the slot holding context hash `h`, or of the empty slot; read only."""
    mask = ((len(ht) >> 4) - 2) | 1
    chk = (h >> 56) & 255
    i = (h >> 8) & mask
    for t in range(3):
        s = ((i ^ t) & mask) << 4
        if ht[s] == chk:
            return s
    return len(ht) - 16


@njit(cache=True)
def _prefetch_slot(ht: np.ndarray, h: int) -> None:
    """Start loading the 4-slot group that `_find` and `_claim` probe for `h` (64 bytes, two
    cache lines as numpy aligns arrays to 16 bytes), so that the lookups of several contexts
    overlap their cache misses instead of waiting for one after another."""
    mask = ((len(ht) >> 4) - 2) | 1
    s = ((h >> 8) & mask & ~3) << 4
    prefetch(ht, s)
    prefetch(ht, s + 63)


@njit(cache=True)
def _claim(ht: np.ndarray, pri: np.ndarray, meta: np.ndarray, h: int) -> int:
    """Base of the slot for `h`, replacing the least used of its 3 candidates if it is new."""
    mask = ((len(ht) >> 4) - 2) | 1
    chk = (h >> 56) & 255
    i = (h >> 8) & mask
    best, best_pri = -1, 1 << 30
    for t in range(3):
        s = ((i ^ t) & mask) << 4
        if ht[s] == chk:
            return s
        if pri[ht[s + 1]] < best_pri:
            best, best_pri = s, pri[ht[s + 1]]
    if best_pri > 0:
        meta[_EVICT] += 1
    for j in range(1, 16):  # element by element: a slice would be a refcounted view
        ht[best + j] = 0
    ht[best] = chk
    return best


@njit(cache=True)
def _squash(tabs: np.ndarray, x: float) -> float:
    """1 / (1 + e^-x) for x in [-15, 15], interpolated in a table (an exp per node costs a third
    of a full distribution)."""
    pos = (x + SQUASH_RANGE) * SQUASH_STEPS
    lo = int(pos)
    return tabs[SQUASH + lo] + (tabs[SQUASH + lo + 1] - tabs[SQUASH + lo]) * (pos - lo)


@njit(cache=True)
def _match_bit(buf: np.ndarray, meta: np.ndarray, c0: int, depth: int) -> int:
    """The bit the match model expects at node `c0`, or -1 if it has no opinion there."""
    if meta[_MLEN] == 0:
        return -1
    expected = buf[meta[_MPTR] & (len(buf) - 1)] | 256
    if (expected >> (8 - depth)) != c0:
        return -1
    return (expected >> (7 - depth)) & 1


@njit(cache=True)
def _predict(ht, smp, mw, apm1, apm2, tabs, buf, meta, bases, c1, nodes, count, row, x, rec, dots, p1):
    """p(next bit = 1) at the first `count` tree nodes of `nodes` (one nibble), into `p1[node]`.

    nodes: rows of (slot offset j, tree node c0, depth). Per node row n: inputs x[row + n], and
    rec[row + n]: [0:N_CTX] state-map indices, [N_CTX] match state-map index or -1, [N_CTX+1] weight
    set, [N_CTX+2] the second mixer's weight set, [N_CTX+3] nearer APM1 index, [N_CTX+4]
    nearer APM2 index; dots[row + n]: the two mixers' dot products (each learns from its own error).
    Nodes are independent, so the loops run across them (more work in flight per input);
    each node's sums are still taken input by input, so one node alone gives the same floats.
    """
    for i in range(N_CTX):
        base = bases[i]
        for n in range(count):
            k = i * 256 + ht[base + nodes[n, 0]]
            rec[row + n, i] = k
            x[row + n, i] = tabs[smp[k] >> 10]
    mlen = meta[_MLEN]
    for n in range(count):
        c0 = nodes[n, 1]
        mbit = _match_bit(buf, meta, c0, nodes[n, 2])
        sel = 0
        if mbit >= 0:
            k = N_CTX * 256 + min(mlen, 15) * 2 + mbit
            rec[row + n, MATCH_IN] = k
            x[row + n, MATCH_IN] = tabs[smp[k] >> 10]
            sel = 1 if mlen < LONG_MATCH else 2
        else:
            rec[row + n, MATCH_IN] = -1
            x[row + n, MATCH_IN] = 0.0
        x[row + n, BIAS_IN] = 0.25
        rec[row + n, N_CTX + 1] = (sel * 256 + c0) * N_IN
        rec[row + n, N_CTX + 2] = (N_SETS + c1 * 8 + nodes[n, 2]) * N_IN
        seen = 0
        for i in range(1, 7):
            seen += 1 if rec[row + n, i] != i * 256 else 0
        rec[row + n, N_CTX + 5] = (N_SETS + N_SETS2 + (seen * 3 + sel) * 8 + nodes[n, 2]) * N_IN
        dots[row + n, 0] = 0.0
        dots[row + n, 1] = 0.0
        dots[row + n, 2] = 0.0
    for i in range(N_IN):
        for n in range(count):
            dots[row + n, 0] += mw[rec[row + n, N_CTX + 1] + i] * x[row + n, i]
            dots[row + n, 1] += mw[rec[row + n, N_CTX + 2] + i] * x[row + n, i]
            dots[row + n, 2] += mw[rec[row + n, N_CTX + 5] + i] * x[row + n, i]
    for n in range(count):
        c0 = nodes[n, 1]
        dot1 = min(max(dots[row + n, 0], -15.0), 15.0)
        dot2 = min(max(dots[row + n, 1], -15.0), 15.0)
        dot3 = min(max(dots[row + n, 2], -15.0), 15.0)
        dots[row + n, 0] = dot1
        dots[row + n, 1] = dot2
        dots[row + n, 2] = dot3
        f = FINAL + 3 * c0
        dot = min(max(mw[f] * dot1 + mw[f + 1] * dot2 + mw[f + 2] * dot3, -15.0), 15.0)
        mixed = _squash(tabs, dot)
        pos = (min(max(dot, -7.999), 7.999) + 8.0) * 2.0
        lo = int(pos)
        w = pos - lo
        a1 = c0 * APM_BUCKETS + lo
        a2 = (c0 | (c1 << 8)) * APM_BUCKETS + lo
        rec[row + n, N_CTX + 3] = a1 + (1 if w >= 0.5 else 0)
        rec[row + n, N_CTX + 4] = a2 + (1 if w >= 0.5 else 0)
        q1 = (apm1[a1] * (1.0 - w) + apm1[a1 + 1] * w) * (1.0 / 65536.0)
        q2 = (apm2[a2] * (1.0 - w) + apm2[a2 + 1] * w) * (1.0 / 65536.0)
        p = 0.4 * mixed + 0.2 * q1 + 0.4 * q2
        p1[c0] = min(max(p, P_MIN), 1.0 - P_MIN)


@njit(cache=True, inline="always")
def _nibble_hash(h: int, high: int) -> int:
    return _hash(h, 16 + high)


@njit(cache=True)
def _path(p1: np.ndarray, node: int) -> float:
    """Probability of reaching the depth-4 node `node` (16..31): the same products, in the same
    order, as `observe` forms along the path."""
    prob = 1.0
    for depth in range(4):
        parent = node >> (4 - depth)
        prob *= p1[parent] if (node >> (3 - depth)) & 1 else 1.0 - p1[parent]
    return prob


@njit(cache=True)
def dist_into(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, out, scratch):
    """All 256 next-byte probabilities from the current state, without changing it."""
    x, rec, bases, p1, dots, nodes, nh, _ = scratch
    c1 = meta[_HIST] & 255
    for i in range(N_CTX):
        bases[i] = _find(ht, ctx[i])
    for j in range(1, 16):
        d = 0 if j < 2 else (1 if j < 4 else (2 if j < 8 else 3))
        nodes[j - 1, 0], nodes[j - 1, 1], nodes[j - 1, 2] = j, j, d
    _predict(ht, smp, mw, apm1, apm2, tabs, buf, meta, bases, c1, nodes, 15, 0, x, rec, dots, p1)
    for high in range(16):
        if _path(p1, 16 | high) >= RARE_NIBBLE:
            for i in range(N_CTX):
                nh[high, i] = _nibble_hash(ctx[i], high)
                _prefetch_slot(ht, nh[high, i])
    for high in range(16):
        rare = _path(p1, 16 | high) < RARE_NIBBLE
        for j in range(1, 16):
            d = 0 if j < 2 else (1 if j < 4 else (2 if j < 8 else 3))
            nodes[j - 1, 1], nodes[j - 1, 2] = ((16 | high) << d) | (j ^ (1 << d)), 4 + d
            if rare:
                p1[nodes[j - 1, 1]] = 0.5
        if not rare:
            for i in range(N_CTX):
                bases[i] = _find(ht, nh[high, i])
            _predict(ht, smp, mw, apm1, apm2, tabs, buf, meta, bases, c1, nodes, 15, 0, x, rec, dots, p1)
    path = np.empty(256, dtype=np.float64)
    path[1] = 1.0
    for c0 in range(1, 128):
        path[2 * c0] = path[c0] * (1.0 - p1[c0])
        path[2 * c0 + 1] = path[c0] * p1[c0]
    for c0 in range(128, 256):
        out[2 * c0 - 256] = path[c0] * (1.0 - p1[c0])
        out[2 * c0 - 255] = path[c0] * p1[c0]


@njit(cache=True)
def observe(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbol, upcoming, scratch):
    """Predict the 8 bits of `symbol` (as `dist_into` does), then learn them; returns p(symbol).

    `upcoming` is the byte after `symbol` when the caller knows it, else -1: the slots of the
    next byte's contexts are prefetched a whole byte of work ahead (a hint; no value changes)."""
    xs, recs, bases, p1, pms, nodes, nh, nxt = scratch
    c1 = meta[_HIST] & 255
    prob = 1.0
    c0 = 1
    rare = False
    _next_contexts(meta, symbol, nxt)
    for i in range(N_CTX):
        _prefetch_slot(ht, nxt[i])
        if upcoming >= 0:
            _prefetch_slot(ht, _nibble_hash(nxt[i], upcoming >> 4))
    for i in range(N_CTX):
        nh[0, i] = _nibble_hash(ctx[i], symbol >> 4)
        _prefetch_slot(ht, nh[0, i])
    for depth in range(8):
        a2 = (((symbol | 256) >> (8 - depth)) | (c1 << 8)) * APM_BUCKETS
        prefetch(apm2, a2)
        prefetch(apm2, a2 + 32)
    for i in range(N_CTX):
        bases[i] = _find(ht, ctx[i])
    for depth in range(8):
        if depth == 4:
            rare = prob < RARE_NIBBLE
            for i in range(N_CTX):
                bases[i] = _find(ht, nh[0, i])
        if rare:
            p = 0.5
            recs[depth, N_CTX + 1] = -1  # nothing to learn from a guess
        else:
            d = depth & 3
            nodes[0, 0], nodes[0, 1], nodes[0, 2] = (c0 & ((1 << d) - 1)) | (1 << d), c0, depth
            _predict(
                ht,
                smp,
                mw,
                apm1,
                apm2,
                tabs,
                buf,
                meta,
                bases,
                c1,
                nodes,
                1,
                depth,
                xs,
                recs,
                pms,
                p1,
            )
            p = p1[c0]
        bit = (symbol >> (7 - depth)) & 1
        prob *= p if bit else 1.0 - p
        c0 = 2 * c0 + bit
    _learn_bits(ht, smp, smn, mw, apm1, apm2, tabs, nex, pri, ctx, nh[0], meta, symbol, xs, recs, pms)
    _learn_byte(buf, mt, meta, symbol)
    for i in range(N_CTX):
        ctx[i] = nxt[i]
    return prob


@njit(cache=True)
def _learn_bits(ht, smp, smn, mw, apm1, apm2, tabs, nex, pri, ctx, nh, meta, symbol, xs, recs, pms):
    """Bit histories, state maps, mixer weights and APMs learn the 8 bits of `symbol` (`nh`: the
    contexts' hashes for its second nibble)."""
    lr = tabs[LR] * (1.0 + 3.0 * 16384.0 / (16384.0 + meta[_POS]))
    for i in range(N_CTX):
        base = _claim(ht, pri, meta, ctx[i])
        for depth in range(8):
            if depth == 4:
                base = _claim(ht, pri, meta, nh[i])
            node = (symbol | 256) >> (8 - depth)
            j = node if depth < 4 else (node & ((1 << (depth - 4)) - 1)) | (1 << (depth - 4))
            bit = (symbol >> (7 - depth)) & 1
            ht[base + j] = nex[2 * ht[base + j] + bit]
    for depth in range(8):
        bit = (symbol >> (7 - depth)) & 1
        if recs[depth, N_CTX + 1] < 0:
            continue
        for i in range(N_CTX + 1):
            k = recs[depth, i]
            if k >= 0:
                n = smn[k]
                smp[k] += np.int32((((bit << 22) - smp[k]) * np.int64(tabs[RECIP + n])) >> 16)
                if n < SM_LIMIT:
                    smn[k] = n + 1
        err1 = (bit - _squash(tabs, pms[depth, 0])) * lr
        err2 = (bit - _squash(tabs, pms[depth, 1])) * lr
        err3 = (bit - _squash(tabs, pms[depth, 2])) * lr
        ws, ws2, ws3 = recs[depth, N_CTX + 1], recs[depth, N_CTX + 2], recs[depth, N_CTX + 5]
        f = FINAL + 3 * ((symbol | 256) >> (8 - depth))
        d1, d2, d3 = pms[depth, 0], pms[depth, 1], pms[depth, 2]
        errf = bit - _squash(tabs, min(max(mw[f] * d1 + mw[f + 1] * d2 + mw[f + 2] * d3, -15.0), 15.0))
        errf *= FINAL_RATE
        mw[f] += errf * d1
        mw[f + 1] += errf * d2
        mw[f + 2] += errf * d3
        for i in range(N_IN):
            mw[ws + i] += err1 * xs[depth, i]
            mw[ws2 + i] += err2 * xs[depth, i]
            mw[ws3 + i] += err3 * xs[depth, i]
        target = 65535 if bit else 0
        a1, a2 = recs[depth, N_CTX + 3], recs[depth, N_CTX + 4]
        apm1[a1] = apm1[a1] + (target - apm1[a1]) // 64
        apm2[a2] = apm2[a2] + (target - apm2[a2]) // 64


@njit(cache=True)
def _scratch():
    """Work arrays: inputs, records and dot products of up to 15 nodes (one nibble; the first 8
    rows are the 8 bits of a byte in `observe`), slot bases, node probabilities, node rows, and
    the contexts' hashes for each second nibble (row 0 only in `observe`), the next byte's."""
    return (
        np.empty((15, N_IN), np.float64),
        np.empty((15, N_IN + 5), np.int64),
        np.empty(N_CTX, np.int64),
        np.empty(256, np.float64),
        np.empty((15, 3), np.float64),
        np.empty((15, 3), np.int64),
        np.empty((16, N_CTX), np.int64),
        np.empty(N_CTX, np.int64),
    )


@njit(cache=True)
def dist(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, out):
    dist_into(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, out, _scratch())


@njit(cache=True)
def dists(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols, out):
    scratch = _scratch()
    for i in range(len(symbols)):
        upcoming = symbols[i + 1] if i + 1 < len(symbols) else -1
        dist_into(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, out[i], scratch)
        observe(
            ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols[i], upcoming, scratch
        )
    return len(symbols)


@njit(cache=True)
def score(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols, bits):
    scratch = _scratch()
    for i in range(len(symbols)):
        upcoming = symbols[i + 1] if i + 1 < len(symbols) else -1
        p = observe(
            ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols[i], upcoming, scratch
        )
        bits[i] = -np.log2(p)
    return len(symbols)


@njit(cache=True)
def learn(ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols):
    scratch = _scratch()
    for i in range(len(symbols)):
        upcoming = symbols[i + 1] if i + 1 < len(symbols) else -1
        observe(
            ht, smp, smn, mw, apm1, apm2, buf, mt, tabs, nex, pri, ctx, meta, symbols[i], upcoming, scratch
        )
    return len(symbols)
