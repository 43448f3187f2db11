"""The thin Python side shared by genzip's numba context models.

A model's whole state is a tuple of numpy arrays (tables plus an int64 `meta`
vector of scalars). Four numba kernels do all the work; this class only
allocates, validates and dispatches:

* ``dist(*state, out)``: the next-byte distribution into `out` (256 float64);
* ``dists(*state, symbols, out)``: one row per symbol, observing each, through
  the *same* jitted code as ``dist``, so rows are bit-identical to stepping;
* ``score(*state, symbols, bits)``: -log2 p(actual byte) only, observing;
* ``learn(*state, symbols)``: observe without predicting.

The batch kernels return how many symbols they processed: PPM and order-k
start with small tables and stop early when a table must grow (up to the
`memory` limit); `_grow` enlarges it and the loop resumes.

`fork()` is copy-on-write: the twin shares the tables, and whichever of the
sharers first observes a byte copies them (a memcpy of the tables allocated
so far, a few ms per 10 MiB). So a fork that only asks for `distribution()`
costs nothing, and one that observes pays the copy once.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import InputError
from ..predictor import RuntimeOptions, SequencePredictor

State = tuple[np.ndarray, ...]

#: fixed bytes run through a fresh model to fingerprint its floating-point behaviour
_PROBE = b"Call me Ishmael. \x00\xff\x80 Some years ago, never mind how long precisely."


class NumbaContextModel(SequencePredictor):
    """Base for byte-level context models whose kernels are numba functions."""

    _dist: Callable[..., None]
    _dists: Callable[..., int]
    _score: Callable[..., int]
    _learn: Callable[..., int]
    #: index in `meta` of the counter of memory-limit events (flushes or evictions)
    _LIMIT_EVENTS: int

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self._state: State = ()
        #: how many predictors share `_state` (one list object shared by all of them)
        self._sharers = [1]
        self.reset(b"")

    # -- what subclasses provide -------------------------------------------
    def _fresh_state(self) -> State:
        """Newly allocated, empty tables."""
        raise NotImplementedError

    def _grow(self) -> None:
        """Enlarge the tables (a batch kernel stopped early because they are full but may grow)."""
        raise NotImplementedError

    # -- SequencePredictor -------------------------------------------------
    def reset(self, context: bytes = b"") -> None:
        self._leave_shared()
        self._state = self._fresh_state()
        if context:
            self._run(type(self)._learn, np.frombuffer(bytes(context), dtype=np.uint8))

    def distribution(self) -> np.ndarray:
        out = np.empty(256, dtype=np.float64)
        type(self)._dist(*self._state, out)
        return out

    def observe(self, symbol: int) -> None:
        if not 0 <= symbol <= 255:
            raise InputError(f"byte predictors take symbols in 0..255, got {symbol}")
        self._run(type(self)._learn, np.array([symbol], dtype=np.uint8))

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        data = _as_bytes(symbols)
        out = np.empty((len(data), 256), dtype=np.float64)
        self._run(type(self)._dists, data, out)
        return out

    def score(self, symbols: np.ndarray) -> np.ndarray:
        data = _as_bytes(symbols)
        bits = np.empty(len(data), dtype=np.float64)
        self._run(type(self)._score, data, bits)
        return bits

    def _run(self, kernel: Callable[..., int], data: np.ndarray, out: np.ndarray | None = None) -> None:
        """Run a batch kernel; it returns how many symbols it did, stopping early when the
        tables must grow. Growing never changes a prediction, so where it happens does not matter."""
        if self._sharers[0] > 1:
            self._leave_shared()
            self._state = tuple(a.copy() for a in self._state)
        done = 0
        while True:
            if out is None:
                done += kernel(*self._state, data[done:])
            else:
                done += kernel(*self._state, data[done:], out[done:])
            if done >= len(data):
                return
            self._grow()

    def fork(self) -> NumbaContextModel:
        twin = copy.copy(self)  # shares `_state` and `_sharers`
        self._sharers[0] += 1
        return twin

    def _leave_shared(self) -> None:
        """Stop counting as a sharer of the current tables (before replacing or copying them)."""
        self._sharers[0] -= 1
        self._sharers = [1]

    def fingerprint(self) -> dict[str, Any]:
        """Hash of the exact floats a fresh model produces on a fixed probe.

        The kernels are plain IEEE float64 code (CTW also calls exp/log), so a
        machine whose maths library rounds differently is caught at decode
        time instead of producing wrong bytes.
        """
        probe = self.fork()
        probe.reset(b"")  # fresh tables (lazily zeroed pages), self is untouched
        rows = probe.distributions(np.frombuffer(_PROBE, dtype=np.uint8))
        return {"probe": hashlib.blake2b(rows.tobytes(), digest_size=8).hexdigest()}

    # -- memory --------------------------------------------------------------
    def memory_bytes(self) -> int:
        """Bytes allocated for the model's tables now (at most the `memory` setting)."""
        return int(sum(a.nbytes for a in self._state))

    @property
    def limit_events(self) -> int:
        """How often the memory limit acted since the last reset (flushes or evictions)."""
        return int(self._state[-1][self._LIMIT_EVENTS])


def _as_bytes(symbols: np.ndarray | list[int]) -> np.ndarray:
    """Symbols as a uint8 array; anything outside 0..255 is an InputError."""
    arr = np.asarray(symbols)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise InputError("byte predictors take symbols in 0..255")
    return arr.astype(np.uint8)


def table_bits(memory: int, bytes_per_slot: int, share: float) -> int:
    """log2 of the largest power-of-two slot count whose slots fit in `share` of `memory`."""
    slots = max(16, int(memory * share) // bytes_per_slot)
    return int(slots).bit_length() - 1
