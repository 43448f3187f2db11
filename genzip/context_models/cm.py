"""`cm`: a bitwise context-mixing model in the lpaq family, in numba.

Each byte is coded as 8 binary decisions down the 255-node bit tree. For every
decision, inputs in the stretch domain (ln p / (1 - p)) come from:

* ten hashed contexts: orders 0 to 6, the current word (letters, case folded,
  or the last byte between words), the word bigram and a sparse context (bytes
  2 and 4 back). Each context selects a 16-byte slot per nibble (a checksum
  and the 15 nodes of that nibble); a slot byte is a *bit-history state*, a
  pair of bounded counts (n0, n1) where a new bit discounts the opposite count
  (nonstationary), and a per-context *state map* learns the real p(1) of each
  state (adaptive rate 1/(n + 1.5), n up to 255);
* a match model: the longest recent repeat (found through a hash of the last 6
  bytes) predicts the next bit of the byte that followed it, through a state
  map keyed by (match length, expected bit);
* a bias.

Three logistic mixers combine them, each with weights selected by its own
small context and trained online to minimise code length: (match state x
partial byte), (previous byte x bit position) and (how many of orders 1-6
have seen this node x match state x bit position); a final 3-input mixer,
selected by the partial byte, weighs their outputs. Two APM/SSE stages refine
the result, keyed by the partial byte and by (partial byte, previous byte);
the final p is 0.4 mixer + 0.2 APM1 + 0.4 APM2.

All predictions of a byte are made from the state at the start of the byte
and the byte's 8 updates are applied after it (see `_cm_kernels`), so a full
256-way distribution is one read-only walk of the tree, and the encoder's
batched rows are bit-identical to the decoder's steps. A second nibble that
is reached with probability below 2^-12 is not modelled (its bits are coin
flips): that saves most of the work of a full distribution for at most 0.016
bits/byte (0.0005 measured on the Jargon File). Integer tables, float64
mixing, no fastmath. Slot lookups are prefetched a byte ahead (`_prefetch`).

Memory: `memory` bytes in all. Half goes to the slot table (3-way associative;
a new context replaces the least-used candidate), an eighth (at most 16 MiB)
to the history ring and as much to the match table, and about 4.5 MiB to the
fixed mixer, state-map and APM tables. Nothing grows after `reset`.
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..predictor import RuntimeOptions
from . import _cm_history as history
from . import _cm_kernels as k
from ._base import NumbaContextModel, State

#: a count above this is capped; the opposite count is discounted when a bit arrives
_COUNT_CAP = 30
MIN_MEMORY = 8 << 20
#: mixer learning rate (tuned on Moby-Dick)
LEARNING_RATE = 0.005


def _discount(n: int) -> int:
    return n if n <= 2 else n // 2 + 1


def bit_history_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bit-history state machine: next states, priorities (n0 + n1) and each state's (n0, n1).

    States are the pairs reachable from (0, 0) under "count the new bit (up to a cap),
    discount the other"; state 0 is (0, 0), which an empty slot holds.
    """
    states = [(0, 0)]
    index = {(0, 0): 0}
    nex: list[list[int]] = []
    i = 0
    while i < len(states):
        n0, n1 = states[i]
        row = []
        for bit in (0, 1):
            nxt = (
                (_discount(n0), min(n1 + 1, _COUNT_CAP)) if bit else (min(n0 + 1, _COUNT_CAP), _discount(n1))
            )
            if nxt not in index:
                index[nxt] = len(states)
                states.append(nxt)
            row.append(index[nxt])
        nex.append(row)
        i += 1
    if len(states) > 256:
        raise AssertionError(f"{len(states)} bit-history states do not fit a byte")
    counts = np.zeros((256, 2), dtype=np.int64)
    counts[: len(states)] = states
    table = np.zeros(512, dtype=np.uint8)
    table[: 2 * len(nex)] = np.array(nex, dtype=np.uint8).ravel()
    return table, counts.sum(axis=1).astype(np.int32), counts


def _constant_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """stretch table, reciprocal rates, learning rate, squash table; next states; priorities;
    initial state maps."""
    q = (np.arange(4096) + 0.5) / 4096
    recip = np.floor(65536 / (np.arange(k.SM_LIMIT + 1) + 1.5))
    grid = np.arange(-k.SQUASH_RANGE * k.SQUASH_STEPS, k.SQUASH_RANGE * k.SQUASH_STEPS + 2) / k.SQUASH_STEPS
    tabs = np.concatenate([np.log(q / (1 - q)), recip, [LEARNING_RATE], 1 / (1 + np.exp(-grid))])
    nex, pri, counts = bit_history_tables()
    p = (counts[:, 1] + 0.4) / (counts.sum(axis=1) + 0.8)
    sm_row = np.round(p * (1 << 22)).astype(np.int32)
    return tabs, nex, pri, sm_row


_TABS, _NEX, _PRI, _SM_ROW = _constant_tables()


class CmPredictor(NumbaContextModel):
    """Bitwise context mixing (lpaq-like); see the module docstring."""

    _dist = k.dist
    _dists = k.dists
    _score = k.score
    _learn = k.learn
    _LIMIT_EVENTS = history._EVICT

    def __init__(self, options: RuntimeOptions, memory: int = 64 << 20) -> None:
        if memory < MIN_MEMORY:
            raise SpecError(f"cm: memory={memory} is below the minimum {MIN_MEMORY}")
        self.memory = memory
        super().__init__(options)

    def _fresh_state(self) -> State:
        ring = min(1 << 24, _pow2_below(self.memory // 8))
        match_slots = _pow2_below(ring // 4)
        sets = k.FINAL + 3 * 256
        apm1 = 256 * k.APM_BUCKETS
        apm2 = 65536 * k.APM_BUCKETS
        fixed = 8 * sets + 2 * (apm1 + apm2) + 8 * 256 * (k.N_CTX + 1) + _TABS.nbytes + 2048
        slots = _pow2_below((self.memory - fixed - ring - 4 * match_slots) // 16)
        apm_row = np.round(65536 / (1 + np.exp(-(np.arange(k.APM_BUCKETS) - 16) / 2.0))).clip(16, 65519)
        mw = np.full(sets, 0.3)
        mw[k.BIAS_IN : k.FINAL : k.N_IN] = 0.0
        mw[k.FINAL :] = 1.0 / 3.0
        meta = np.zeros(history.META, dtype=np.int64)
        ctx = np.array([history._hash(0, i) for i in range(k.N_CTX)], dtype=np.int64)  # empty history
        return (
            np.zeros(16 * slots + 16, dtype=np.uint8),
            np.tile(_SM_ROW, k.N_CTX + 1),
            np.zeros(256 * (k.N_CTX + 1), dtype=np.int32),
            mw,
            np.tile(apm_row, 256).astype(np.uint16),
            np.tile(apm_row, 65536).astype(np.uint16),
            np.zeros(ring, dtype=np.uint8),
            np.zeros(match_slots, dtype=np.int32),
            _TABS.copy(),
            _NEX.copy(),
            _PRI.copy(),
            ctx,
            meta,
        )

    def _grow(self) -> None:
        raise AssertionError("cm tables have a fixed size")


def _pow2_below(n: int) -> int:
    return 1 << (max(16, int(n)).bit_length() - 1)
