"""Compression as a stream: chunk by chunk, in memory bounded by a frame and the model.

The encoder reads the input in pieces of at most `FRAME_SYMBOLS` bytes (whole
chunks when they are shorter), codes them into frames and writes each frame as
it is full; the original's length and checksum go in the end record. Chunk
groups of a predictor with batched streams are one frame each.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from typing import IO

import numpy as np

from ..errors import InputError
from ..predictor import SequencePredictor
from ..progress import progress_bar
from ..registry import stored_spec
from .coding import (
    categorical_family,
    encode_group,
    encode_piece,
    new_encoder,
)
from .coding import open_group as _open
from .format import FRAME_SYMBOLS, Writer, read_upto
from .header import MAX_BATCH, StreamHeader

#: chunks stepped side by side when the predictor supports batched streams
DEFAULT_BATCH = 32


@dataclass(frozen=True)
class EncodeStats:
    """Sizes of one compression: original, container, and the range-coder payload within it."""

    input_bytes: int
    output_bytes: int
    payload_bytes: int


class _Hashed:
    """The input as read, with its length and blake2b-128 kept on the way."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.hash, self.length = source, hashlib.blake2b(digest_size=16), 0

    def read(self, n: int | None) -> bytes:
        data = read_upto(self.source, n) if n is not None else self.source.read()
        self.hash.update(data)
        self.length += len(data)
        return data


def _chunks(source: _Hashed, chunk_size: int | None) -> Iterator[bytes]:
    """Whole chunks (the whole input when `chunk_size` is None); an empty input is one empty chunk."""
    first = True
    while True:
        data = source.read(chunk_size)
        if data or first:
            yield data
        first = False
        if chunk_size is None or len(data) < chunk_size:
            return


def _byte_pieces(source: _Hashed, chunk_size: int | None) -> Iterator[tuple[bytes, bool]]:
    """Pieces of at most `FRAME_SYMBOLS` bytes for a byte-level predictor, True where one starts a chunk."""
    if chunk_size is not None and chunk_size <= FRAME_SYMBOLS:
        block = chunk_size * (FRAME_SYMBOLS // chunk_size)
        first = True
        while True:
            data = source.read(block)
            if first and not data:
                yield b"", True
            first = False
            for start in range(0, len(data), chunk_size):
                yield data[start : start + chunk_size], True
            if len(data) < block:
                return
    offset, first = 0, True
    while True:
        want = FRAME_SYMBOLS if chunk_size is None else min(FRAME_SYMBOLS, chunk_size - offset)
        data = source.read(want)
        if data or first:
            yield data, offset == 0
        first = False
        offset = 0 if chunk_size is not None and offset + len(data) == chunk_size else offset + len(data)
        if len(data) < want:
            return


def _tokens(predictor: SequencePredictor, chunk: bytes) -> np.ndarray:
    symbols = predictor.tokenize(chunk)
    if not predictor.is_byte_level and predictor.detokenize(symbols) != chunk:
        raise InputError(f"{predictor.spec}: tokenizer does not round-trip this input")
    return symbols


def _token_pieces(predictor: SequencePredictor, chunks: Iterable[bytes]) -> Iterator[tuple[np.ndarray, bool]]:
    for chunk in chunks:
        symbols = _tokens(predictor, chunk)
        for start in range(0, max(len(symbols), 1), FRAME_SYMBOLS):
            yield symbols[start : start + FRAME_SYMBOLS], start == 0


class _FramePacker:
    """Codes pieces into the current frame and writes a frame when the next piece would not fit."""

    def __init__(self, writer: Writer, predictor: SequencePredictor, advance: Callable[[int], None]) -> None:
        self.writer, self.predictor, self.advance = writer, predictor, advance
        self.family = categorical_family()
        self.encoder, self.counts, self.continues = new_encoder(), list[int](), False

    def add(self, symbols: np.ndarray, starts: bool) -> None:
        if self.counts and (not starts or sum(self.counts) + len(symbols) > FRAME_SYMBOLS):
            self.flush()
        if not self.counts:
            self.continues = not starts
        if starts:
            self.predictor.reset(b"")
        encode_piece(self.predictor, symbols, self.encoder, self.family, self.advance)
        self.counts.append(len(symbols))

    def flush(self) -> None:
        if self.counts:
            self.writer.frame(self.continues, self.counts, self.encoder.get_compressed())
            self.encoder, self.counts = new_encoder(), []


def encode_stream(
    source: IO[bytes],
    sink: IO[bytes],
    predictor: SequencePredictor,
    chunk_size: int | None = None,
    progress: bool = False,
    batch_size: int | None = None,
    total: int = 0,
) -> EncodeStats:
    """Compress `source` into a format 2 container on `sink`, one frame at a time.

    In chunked mode, a predictor with batched streams codes `batch_size`
    chunks side by side (default `DEFAULT_BATCH`; 0 turns batching off).
    `total` (the input size, when known) only sizes the progress bar.
    """
    if chunk_size is not None and chunk_size <= 0:
        raise InputError(f"chunk size must be positive, got {chunk_size}")
    if batch_size is not None and batch_size < 0:
        raise InputError(f"batch size must be >= 0, got {batch_size}")
    hashed = _Hashed(source)
    writer = Writer(sink)
    batch, first_streams = None, None
    groups: Iterator[list[bytes]] = iter(())
    pieces: Iterator[tuple[np.ndarray, bool]] = iter(())
    if chunk_size is not None and batch_size != 0 and chunk_size <= FRAME_SYMBOLS:
        chunks = _chunks(hashed, chunk_size)
        first_group = list(
            islice(chunks, min(batch_size or DEFAULT_BATCH, FRAME_SYMBOLS // chunk_size, MAX_BATCH))
        )
        batch = len(first_group)
        first_streams = predictor.open_streams(batch)
        if first_streams is None:
            batch, pieces = None, _token_pieces(predictor, chain(first_group, chunks))
        else:
            groups = chain([first_group], iter(lambda: list(islice(chunks, batch)), []))
    elif predictor.is_byte_level:
        pieces = ((predictor.tokenize(data), starts) for data, starts in _byte_pieces(hashed, chunk_size))
    else:
        pieces = _token_pieces(predictor, _chunks(hashed, chunk_size))
    writer.header(StreamHeader(stored_spec(predictor.spec), predictor.fingerprint(), chunk_size, batch))
    with progress_bar(total, f"compress {predictor.spec}", progress) as advance:
        if batch is None:
            packer = _FramePacker(writer, predictor, advance)
            for symbols, starts in pieces:
                packer.add(symbols, starts)
            packer.flush()
        else:
            family = categorical_family()
            for group in groups:
                streams = (
                    first_streams
                    if first_streams is not None and len(group) == batch
                    else _open(predictor, len(group))
                )
                first_streams = None
                encoder = new_encoder()
                coded = [_tokens(predictor, chunk) for chunk in group]
                encode_group(streams, coded, encoder, family, advance)
                writer.frame(False, [len(s) for s in coded], encoder.get_compressed())
    writer.end(hashed.length, hashed.hash.digest())
    return EncodeStats(hashed.length, writer.size, writer.payload)


def encode(
    data: bytes,
    predictor: SequencePredictor,
    chunk_size: int | None = None,
    progress: bool = False,
    batch_size: int | None = None,
) -> bytes:
    """Compress `data` with `predictor` into a self-describing container (bytes in, bytes out)."""
    sink = io.BytesIO()
    encode_stream(io.BytesIO(bytes(data)), sink, predictor, chunk_size, progress, batch_size, total=len(data))
    return sink.getvalue()
