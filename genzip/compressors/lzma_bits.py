"""Exact code lengths of raw LZMA2 streams: what whole-byte sizes hide.

An LZMA chunk is range coded: its byte length is its information content under
LZMA's adaptive binary model, rounded up, plus a few bytes of range-coder flush.
Decoding the chunk again and summing -log2 p of every coded decision
(`genzip.compressors.lzma_decoder`) gives that information content to a
fraction of a bit.

`raw_lzma2_cost` does this for a whole raw LZMA2 stream (`lzma.FORMAT_RAW`):
each control byte and chunk header counts 8 bits per byte, a stored chunk 8
bits per stored byte, an LZMA chunk the summed cost of its decisions.
`context_costs` does it for the streams of one context followed by each of many
continuations: they agree up to near their end, so their shared start is decoded
once. Both check what they decode against the bytes that were compressed: a
stream that does not decode to them raises `ValueError` instead of giving a
wrong length.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .lzma_decoder import (
    COST_SCALE,
    COST_TABLE,
    CURSOR,
    NEVER,
    POS,
    PROB_ONE,
    REGISTERS,
    REP0,
    SPENT,
    STATE,
    decode_chunk,
    literal_costs,
    new_probabilities,
    start_chunk,
)

#: bytes of zeros after a stream, so that a corrupt chunk's decoder may read past its end before the
#: check once per decision finds it
_PAD = 8


@numba.njit(cache=True)
def _raw_lzma2_cost(
    stream: np.ndarray, n: int, expected: np.ndarray, cost: np.ndarray
) -> int:  # pragma: no cover
    """The cost of the raw LZMA2 stream stream[:n] in 1/COST_SCALE bit, -1 if it does not decode to
    `expected` (stream holds _PAD zero bytes more)."""
    out = np.empty(len(expected), dtype=np.uint8)
    props = np.full(3, -1, dtype=np.int64)  # lc, lp, pb: unknown until the first chunk sets them
    probs = np.empty(0, dtype=np.int64)
    regs = np.zeros(REGISTERS, dtype=np.int64)
    total = 0
    at = 0
    while at < n:
        control = stream[at]
        pos = regs[POS]
        if control == 0:  # the end: nothing may follow, everything must be there
            if at + 1 != n or pos != len(expected):
                return -1
            for j in range(len(expected)):
                if out[j] != expected[j]:
                    return -1
            return total + 8 * COST_SCALE
        if control < 0x80:  # a stored chunk (1: with a dictionary reset, 2: without)
            if control > 2 or at + 3 > n:
                return -1
            size = ((np.int64(stream[at + 1]) << 8) | stream[at + 2]) + 1
            if pos + size > len(expected) or at + 3 + size > n:
                return -1
            out[pos : pos + size] = stream[at + 3 : at + 3 + size]
            regs[POS] = pos + size
            at += 3 + size
            total += 8 * COST_SCALE * (3 + size)
            continue
        if at + 5 > n:
            return -1
        unpacked = ((np.int64(control & 0x1F) << 16) | (np.int64(stream[at + 1]) << 8) | stream[at + 2]) + 1
        packed = ((np.int64(stream[at + 3]) << 8) | stream[at + 4]) + 1
        reset = (control >> 5) & 3  # 1: state reset, 2: and new properties, 3: and a dictionary reset
        head = 5
        if reset >= 2:
            if at + 6 > n or stream[at + 5] >= 9 * 5 * 5:
                return -1
            d = np.int64(stream[at + 5])
            props[0], props[1], props[2] = d % 9, (d // 9) % 5, d // 45
            if props[0] + props[1] > 4:
                return -1
            probs = new_probabilities(props[0], props[1])
            head = 6
        start = at + head
        if props[0] < 0 or pos + unpacked > len(expected) or start + packed > n or packed < 5:
            return -1
        if reset >= 1:
            probs[:] = PROB_ONE // 2
            regs[STATE:] = 0
        if not start_chunk(stream, start, regs):
            return -1
        if not decode_chunk(
            stream,
            start + packed,
            probs,
            props,
            out,
            pos + unpacked,
            regs,
            cost,
            NEVER,
            np.zeros(0, dtype=np.int64),
        ):
            return -1
        total += 8 * COST_SCALE * head + regs[SPENT]
        at = start + packed
    return -1  # no end marker


def raw_lzma2_cost(stream: bytes, data: bytes) -> int:
    """Exact cost in 1/COST_SCALE bit of `stream`, the raw LZMA2 compression of `data` (see module doc).

    Raises `ValueError` when the stream does not decode to `data`.
    """
    padded = np.zeros(len(stream) + _PAD, dtype=np.uint8)
    padded[: len(stream)] = np.frombuffer(stream, dtype=np.uint8)
    cost = _raw_lzma2_cost(padded, len(stream), np.frombuffer(data, dtype=np.uint8), COST_TABLE)
    if cost < 0:
        raise ValueError("the raw LZMA2 stream does not decode to the data it was made from")
    return int(cost)


@numba.njit(cache=True)
def _shared_context_costs(
    payloads: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    context: np.ndarray,
    items: np.ndarray,
    item_starts: np.ndarray,
    props: np.ndarray,
    cost: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Costs of the single-chunk payloads[starts[j]:ends[j]] of context + item j, -1 where one does not
    decode to it. The payloads agree up to where the encoder's choices diverge, near their end: the
    first is decoded once to the last symbol boundary before the first difference, and each resumes there.
    """
    count = len(starts)
    costs = np.full(count, -1, dtype=np.int64)
    common = ends[0] - starts[0]
    for j in range(1, count):
        k = 0
        limit = min(common, ends[j] - starts[j])
        while k < limit and payloads[starts[j] + k] == payloads[starts[0] + k]:
            k += 1
        common = k
    n = len(context)
    probs = new_probabilities(props[0], props[1])
    regs = np.zeros(REGISTERS, dtype=np.int64)
    size0 = n + item_starts[1] - item_starts[0]
    out = np.empty(size0, dtype=np.uint8)
    marks = np.full(size0 + 1, NEVER, dtype=np.int64)
    if not start_chunk(payloads, starts[0], regs):
        return costs
    if not decode_chunk(payloads, ends[0], probs, props, out, size0, regs, cost, NEVER, marks):
        return costs
    resume = -1  # the last boundary within the context whose bytes all payloads share
    for pos in range(min(n, size0) + 1):
        if marks[pos] - starts[0] <= common:
            resume = pos
    # the state at `resume`, decoded again (the first decode went past it)
    probs[:] = PROB_ONE // 2
    regs[:] = 0
    start_chunk(payloads, starts[0], regs)
    if resume > 0:
        decode_chunk(
            payloads, ends[0], probs, props, out, size0, regs, cost, resume, np.zeros(0, dtype=np.int64)
        )
    saved_probs = probs.copy()
    saved = regs.copy()
    for j in range(count):
        size = n + item_starts[j + 1] - item_starts[j]
        mine = np.empty(size, dtype=np.uint8)
        probs[:] = saved_probs
        regs[:] = saved
        if resume >= 0:
            mine[:resume] = out[:resume]
            regs[CURSOR] += starts[j] - starts[0]
        elif not start_chunk(payloads, starts[j], regs):
            continue
        if not decode_chunk(
            payloads, ends[j], probs, props, mine, size, regs, cost, NEVER, np.zeros(0, dtype=np.int64)
        ):
            continue
        same = True
        for k in range(size):
            if mine[k] != (context[k] if k < n else items[item_starts[j] + k - n]):
                same = False
                break
        if same:
            costs[j] = regs[SPENT]
    return costs


def _single_chunk(stream: bytes) -> int | None:
    """The properties byte when `stream` is one LZMA chunk with its properties, then the end marker."""
    if len(stream) < 7 or stream[0] < 0xE0:
        return None
    packed = int.from_bytes(stream[3:5], "big") + 1
    return stream[5] if len(stream) == 6 + packed + 1 and stream[-1] == 0 else None


def _properties(d: int) -> np.ndarray:
    """lc, lp, pb from an LZMA properties byte."""
    return np.array([d % 9, d // 9 % 5, d // 45])


def context_costs(context: bytes, items: Sequence[bytes], streams: Sequence[bytes]) -> np.ndarray:
    """`raw_lzma2_cost` of each streams[j], the raw LZMA2 compression of context + items[j] (int64,
    1/COST_SCALE bit), decoding their shared start once when each is one LZMA chunk. Raises
    `ValueError` when a stream does not decode to its data."""
    shapes = [_single_chunk(s) for s in streams]
    first = shapes[0] if streams else None
    if len(streams) < 2 or first is None or any(shape != first for shape in shapes):
        return np.array([raw_lzma2_cost(s, context + c) for s, c in zip(streams, items, strict=True)])
    padding = bytes(_PAD)
    payloads = b"".join(s[6:-1] + padding for s in streams)
    lengths = np.array([len(s) - 7 for s in streams])
    starts = np.concatenate([[0], np.cumsum(lengths + _PAD)[:-1]])
    costs = _shared_context_costs(
        np.frombuffer(payloads, dtype=np.uint8),
        starts,
        starts + lengths,
        np.frombuffer(context, dtype=np.uint8),
        np.frombuffer(b"".join(items), dtype=np.uint8),
        np.concatenate([[0], np.cumsum([len(c) for c in items])]),
        _properties(first),
        COST_TABLE,
    )
    if np.any(costs < 0):
        raise ValueError("the raw LZMA2 stream does not decode to the data it was made from")
    return costs + 8 * COST_SCALE * 7  # the chunk's 6 header bytes and the end byte


@numba.njit(cache=True)
def _after_context(
    payload: np.ndarray, end: int, context: np.ndarray, props: np.ndarray, cost: np.ndarray
) -> tuple[int, np.ndarray, int]:  # pragma: no cover - compiled
    """(cost of the single-chunk payload[:end] of `context`, each byte's literal cost after it, the byte
    a one-byte repeat would give there); cost -1 if it does not decode to `context`."""
    probs = new_probabilities(props[0], props[1])
    regs = np.zeros(REGISTERS, dtype=np.int64)
    out = np.empty(len(context), dtype=np.uint8)
    none = np.zeros(256, dtype=np.int64)
    if not start_chunk(payload, 0, regs):
        return -1, none, -1
    if not decode_chunk(
        payload, end, probs, props, out, len(context), regs, cost, NEVER, np.zeros(0, dtype=np.int64)
    ):
        return -1, none, -1
    for k in range(len(context)):
        if out[k] != context[k]:
            return -1, none, -1
    source = len(context) - regs[REP0] - 1
    repeat = int(out[source]) if source >= 0 else -1
    return regs[SPENT], literal_costs(probs, props, regs, out, cost), repeat


def literal_lengths(context: bytes, stream: bytes) -> tuple[int, np.ndarray, int] | None:
    """(`stream`'s own cost, the exact length of context + b for each byte b coded as one more literal,
    the byte a one-byte repeat gives or -1), in 1/COST_SCALE bit, from `stream`, the raw LZMA2
    compression of `context`, decoded again; None when `stream` is not one LZMA chunk (a context too
    short to compress). Raises `ValueError` if it does not decode to `context`."""
    d = _single_chunk(stream)
    if d is None:
        return None
    payload = np.zeros(len(stream) - 7 + _PAD, dtype=np.uint8)
    payload[: len(stream) - 7] = np.frombuffer(stream[6:-1], dtype=np.uint8)
    spent, literals, repeat = _after_context(
        payload,
        len(stream) - 7,
        np.frombuffer(context, dtype=np.uint8),
        _properties(d),
        COST_TABLE,
    )
    if spent < 0:
        raise ValueError("the raw LZMA2 stream does not decode to the data it was made from")
    own = spent + 8 * COST_SCALE * 7  # the chunk's 6 header bytes and the end byte
    return own, own + literals, repeat
