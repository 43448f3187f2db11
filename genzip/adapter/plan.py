"""Which lengths to measure after a context: the candidate bytes and the lookahead continuations.

Lookahead (``lookahead=K``)
    The paper's adapter scores each next byte b alone: cost(b) = l(x.b) - l(x).
    For an LZ compressor that misprices matches: the first bytes of a match are
    coded as literals and only later does the match pay them back, which a
    per-byte normalisation cannot credit. So we also score whole continuations
    c (2 to K bytes) copied from what followed earlier occurrences of the
    current suffix in the context (matching at least half as far back as the
    longest match); `genzip.adapter.evidence` credits each one to its first byte
    at the compressor's own per-byte rate for it, (l(x.c) - l(x)) / |c|.
    Candidates are ranked by suffix-match length, then oldest first (never by
    byte value): among equally good matches the oldest sources are the least
    likely to be text the predictor itself just produced, which keeps samples
    from looping (it costs gzip about 2% in bits/byte against newest first, and
    samples go from repetition loops to copied phrases). K < 2 is the paper's
    horizon 1: single bytes only.

Candidates (``candidates=seen``)
    Only the bytes present in the context window are measured one by one; the
    bytes it lacks share the length of one of them (the lowest), measured too.
    Text uses ~70 distinct bytes, so this is ~3x less work for the same
    bits/byte (within 2% either way in `benchmarks/adapter_quality.py`).

Dither (``dither=D``)
    Every length is measured after D contexts, the d-th dropping the first
    d * DITHER_STEP bytes, so that b"" (the context's own length) is measured too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: continuations scored per position when lookahead is on
MAX_CONTINUATIONS = 16
#: continuations come from suffix matches at least this fraction (in 16ths) of the longest one
MIN_MATCH_FRACTION_16 = 8
#: longest suffix match looked for when ranking continuations
MAX_SUFFIX = 32
#: the shortest continuation; a lookahead below it is the paper's horizon 1
MIN_HORIZON = 2
#: dithered contexts drop this many more bytes from their start each
DITHER_STEP = 3

#: every single byte, as the continuation that appends it
SINGLE_BYTES = [bytes([b]) for b in range(256)]
_ALL_SLOTS = np.arange(256)
_ALL_SLOTS.flags.writeable = False


@dataclass(frozen=True)
class MeasurementPlan:
    """What to measure after one context, and how to read the lengths back.

    `items` holds the single bytes to measure, then (when `relative`) b"" and
    the continuations. `slot[b]` is the measured single whose length byte b
    takes (the identity when every byte is measured).
    """

    items: list[bytes]
    singles: int
    slot: np.ndarray
    continuations: list[bytes]
    relative: bool

    def single_lengths(self, lengths: np.ndarray) -> np.ndarray:
        """Lengths of all 256 single bytes, shape (..., 256), from lengths over `items`."""
        return lengths[..., self.slot]


def measures_relative(lookahead: int, dither: int) -> bool:
    """Whether lengths are taken relative to the context's own (measured as b"")."""
    return lookahead >= MIN_HORIZON or dither > 1


def absent_bytes(context: bytes) -> np.ndarray:
    """(256,) bool: the bytes `context` does not contain."""
    absent = np.ones(256, dtype=bool)
    absent[np.frombuffer(context, dtype=np.uint8)] = False
    return absent


def measurement_plan(
    context: bytes, candidates: str, lookahead: int, dither: int, proposals: Sequence[bytes] = ()
) -> MeasurementPlan:
    """What to measure after `context`: the single bytes (all 256, or with ``candidates="seen"`` those
    in the context plus one stand-in for the rest), then (lookahead or dither) b"" and the continuations:
    those copied from the context, then the compressor's own `proposals` not among them (lookahead only)."""
    if candidates == "all":
        singles, slot = SINGLE_BYTES, _ALL_SLOTS
    else:
        missing = absent_bytes(context)
        measured = np.flatnonzero(~missing)
        absent = np.flatnonzero(missing)
        slot = np.empty(256, dtype=np.int64)
        slot[measured] = np.arange(len(measured))
        if len(absent):  # the lowest absent byte stands in for all of them (equal weights, no tie-break)
            slot[absent] = len(measured)
            measured = np.append(measured, absent[0])
        singles = [SINGLE_BYTES[b] for b in measured.tolist()]
    if not measures_relative(lookahead, dither):
        return MeasurementPlan(singles, len(singles), slot, [], False)
    continuations = continuation_candidates(context, lookahead)
    if lookahead >= MIN_HORIZON:
        continuations += [c for c in proposals if c not in continuations]
    return MeasurementPlan([*singles, b"", *continuations], len(singles), slot, continuations, True)


def calls_per_position(lookahead: int, dither: int) -> int:
    """Library calls one position's lengths take at most (every byte, b"" and every continuation,
    in each dithered context)."""
    return (256 + (1 + MAX_CONTINUATIONS if measures_relative(lookahead, dither) else 0)) * dither


def continuation_candidates(context: bytes, horizon: int, limit: int = MAX_CONTINUATIONS) -> list[bytes]:
    """Up to `limit` distinct continuations (2..horizon bytes) of `context`, best first.

    Each is what followed an earlier occurrence of the context's current suffix
    matching at least half as long as the longest such occurrence (cut at the end
    of the context; periodic self-overlapping copies are not proposed, they mostly
    fed repetition loops in samples). Ranked by the length of the matching suffix,
    then oldest first; never by byte value.
    """
    n = len(context)
    if horizon < MIN_HORIZON or n < 2:
        return []
    data = np.frombuffer(context, dtype=np.uint8)
    ends = np.arange(1, n)  # an occurrence ending just before position i: data[i - 1] vs data[n - 1]
    match = np.zeros(n - 1, dtype=np.int64)
    alive = np.ones(n - 1, dtype=bool)
    for j in range(min(MAX_SUFFIX, n - 1)):
        idx = ends - 1 - j
        ok = alive & (idx >= 0)
        ok[ok] = data[idx[ok]] == data[n - 1 - j]
        alive = ok
        match += alive
        if not alive.any():
            break
    found = np.nonzero(match * 16 >= max(1, int(match.max())) * MIN_MATCH_FRACTION_16)[0]
    if len(found) == 0:
        return []
    order = found[np.lexsort((ends[found], -match[found]))]
    out: list[bytes] = []
    seen: set[bytes] = set()
    for i in ends[order[: 8 * limit]].tolist():
        piece = context[i : i + horizon]
        if len(piece) >= MIN_HORIZON and piece not in seen:
            seen.add(piece)
            out.append(piece)
            if len(out) == limit:
                break
    return out
