"""Range coding of symbols with a predictor's distributions (constriction).

The encoder gets its distributions from `predictor.distributions(...)` in
blocks, the decoder steps `distribution()`/`observe()`; the interface promises
both give bit-identical float64 arrays, and the checksum catches anything that
slips. Chunk-batched coding steps several chunks side by side through a
`StreamBatch`: at step t every chunk still running codes its symbol t, in
chunk order; chunks that ended are fed padding 0 and not coded.

Nothing here allocates from an unchecked number: pieces are decoded and handed
on in blocks of `DECODE_BLOCK`, and a batched group's grid is refused above
`MAX_GROUP_CELLS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ContainerError
from ..predictor import SequencePredictor, StreamBatch
from .header import one_line

#: symbols handed to `distributions()` at once: bounds memory to block * alphabet floats
ENCODE_BLOCK = 2048
#: decoded symbols handed on at once
DECODE_BLOCK = 1 << 16
#: chunks x steps of one batched group (int64 grid): 128 MiB at most
MAX_GROUP_CELLS = 1 << 24

Advance = Callable[[int], None]


def categorical_family() -> Any:
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


def new_encoder() -> Any:
    import constriction

    return constriction.stream.queue.RangeEncoder()


def new_decoder(words: np.ndarray) -> Any:
    import constriction

    return constriction.stream.queue.RangeDecoder(np.ascontiguousarray(words, dtype=np.uint32))


def _decode(decoder: Any, family: Any, probs: np.ndarray) -> np.ndarray:
    try:
        return decoder.decode(family, probs)
    except (AssertionError, ValueError, RuntimeError):  # constriction: data invalid for the model
        raise ContainerError("container payload is not valid for the predictor's distributions") from None


def encode_piece(
    predictor: SequencePredictor, symbols: np.ndarray, encoder: Any, family: Any, advance: Advance
) -> None:
    """Code `symbols` from the predictor's current state (the caller resets it at a chunk start)."""
    for start in range(0, len(symbols), ENCODE_BLOCK):
        part = symbols[start : start + ENCODE_BLOCK]
        probs = predictor.distributions(part)
        encoder.encode(part.astype(np.int32), family, probs)
        advance(len(part))


def decode_piece(
    predictor: SequencePredictor,
    count: int,
    decoder: Any,
    family: Any,
    advance: Advance,
    emit: Callable[[np.ndarray], None],
) -> None:
    """Decode `count` symbols by stepping the predictor, handing them to `emit` in blocks."""
    for start in range(0, count, DECODE_BLOCK):
        block = np.empty(min(DECODE_BLOCK, count - start), dtype=np.int64)
        for i in range(len(block)):
            symbol = int(_decode(decoder, family, predictor.distribution()[None, :])[0])
            block[i] = symbol
            predictor.observe(symbol)
        advance(len(block))
        emit(block)


def _grid_steps(counts: list[int]) -> int:
    steps = max(counts, default=0)
    if len(counts) * steps > MAX_GROUP_CELLS:
        raise ContainerError(
            f"container batches {len(counts)} chunks of up to {steps} symbols: above the coder's limit"
        )
    return steps


def encode_group(
    streams: StreamBatch, chunks: list[np.ndarray], encoder: Any, family: Any, advance: Advance
) -> None:
    """Code several chunks side by side through one StreamBatch."""
    counts = np.array([len(c) for c in chunks])
    steps = _grid_steps(counts.tolist())
    grid = np.zeros((len(chunks), steps), dtype=np.int64)  # padding 0 after a chunk ends
    for row, symbols in enumerate(chunks):
        grid[row, : len(symbols)] = symbols
    for t in range(steps):
        probs = streams.distributions()
        live = np.flatnonzero(counts > t)
        encoder.encode(grid[live, t].astype(np.int32), family, probs[live])
        advance(len(live))
        if t + 1 < steps:
            streams.observe(grid[:, t])


def decode_group(
    streams: StreamBatch, counts: list[int], decoder: Any, family: Any, advance: Advance
) -> list[np.ndarray]:
    """Decode the chunks of one batched group (the mirror of `encode_group`)."""
    sizes = np.array(counts)
    steps = _grid_steps(counts)
    grid = np.zeros((len(counts), steps), dtype=np.int64)
    for t in range(steps):
        probs = streams.distributions()
        live = np.flatnonzero(sizes > t)
        grid[live, t] = _decode(decoder, family, probs[live])
        advance(len(live))
        if t + 1 < steps:
            streams.observe(grid[:, t])
    return [grid[row, :n] for row, n in enumerate(counts)]


def open_group(predictor: SequencePredictor, count: int) -> StreamBatch:
    """`count` fresh batched streams, or a ContainerError when the predictor has none."""
    streams = predictor.open_streams(count)
    if streams is None:
        raise ContainerError(
            f"predictor {one_line(predictor.spec)} cannot code chunks side by side (no batched streams)"
        )
    return streams
