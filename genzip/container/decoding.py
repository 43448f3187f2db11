"""Decompression as a stream, every record checked before it is used.

A seekable input is scanned whole first (crc32s, structure, totals against
the end record and the `--max-output` limit) before the model is even built;
a pipe is checked frame by frame, and the running output length against the
limit, before each frame is decoded. Format 1 containers (one record, read
whole) decode through the same coding path.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import replace
from typing import IO, Any

import numpy as np

from ..errors import ContainerError, GenzipError, ModelMismatchError
from ..predictor import RuntimeOptions, SequencePredictor
from ..progress import progress_bar
from .coding import (
    categorical_family,
    decode_group,
    decode_piece,
    new_decoder,
)
from .coding import open_group as _open
from .format import End, Frame, Reader
from .header import DEFAULT_LIMITS, Limits, StreamHeader, WholeHeader, check_spec, one_line


class _Structure:
    """Frame-by-frame checks of a format 2 container: chunk layout, totals and the output limit.

    Symbol counts that cannot belong to a byte-level predictor are kept as a
    `problem` until the predictor is known (`byte_level`), then refused.
    """

    def __init__(self, header: StreamHeader, limits: Limits) -> None:
        self.chunk_size, self.batch, self.limits = header.chunk_size, header.batch_size, limits
        self.frames = self.symbols = 0
        self.chunk: int | None = None  # symbols of the chunk being filled
        self.empty = False
        self.problem: str | None = None
        self.byte_level: bool | None = None
        self.length: int | None = None

    def _note(self, problem: str) -> None:
        self.problem = self.problem or problem
        self.check_byte_level()

    def check_byte_level(self) -> None:
        if self.byte_level and self.problem:
            raise ContainerError(f"container frames cannot come from a byte-level predictor: {self.problem}")

    def frame(self, frame: Frame) -> None:
        counts = frame.counts.tolist()
        if self.empty:
            raise ContainerError("container has frames after an empty input")
        if frame.continues and not self.frames:
            raise ContainerError("container's first frame continues nothing")
        if self.chunk_size is None and self.frames and not frame.continues:
            raise ContainerError("whole-file container frame does not continue the one chunk")
        if self.chunk_size is None and len(counts) != 1:
            raise ContainerError("whole-file container frame has more than one segment")
        if self.batch is not None and (frame.continues or len(counts) > self.batch):
            raise ContainerError("batched container frame holds more chunks than its batch size")
        for i, n in enumerate(counts):
            if i or not frame.continues:
                if self.chunk_size is not None and self.chunk is not None and self.chunk != self.chunk_size:
                    self._note("a short chunk is followed by another")
                self.chunk = 0
            if n == 0:
                if self.frames or len(counts) > 1:
                    raise ContainerError("container has an empty segment that is not the whole input")
                self.empty = True
            self.chunk = (self.chunk or 0) + n
            if self.chunk_size is not None and self.chunk > self.chunk_size:
                self._note("a chunk holds more symbols than the chunk size")
        self.symbols += sum(counts)
        self.limits.check_output(self.symbols, "the decoded symbol count")
        self.frames += 1

    def end(self, end: End) -> None:
        if not self.frames:
            raise ContainerError("container has no frames")
        self.limits.check_output(end.length, "the declared length")
        if self.symbols != end.length:
            self._note(f"{self.symbols} symbols for {end.length} bytes")
        self.length = end.length


class _Output:
    """The decoded bytes on their way out: chunk layout, running length limit, checksum."""

    def __init__(self, sink: IO[bytes] | None, chunk_size: int | None, limit: int | None) -> None:
        self.sink, self.chunk_size, self.limit = sink, chunk_size, limit
        self.hash, self.total, self.chunk = hashlib.blake2b(digest_size=16), 0, -1

    def start_chunk(self) -> None:
        if self.chunk_size is not None and self.chunk not in (-1, self.chunk_size):
            raise ContainerError("container decodes to a short chunk that is not the last")
        self.chunk = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        self.chunk += len(data)
        if self.limit is not None and self.total > self.limit:
            raise ContainerError(
                f"container decodes to more than {self.limit} bytes (its length or --max-output)"
            )
        if self.chunk_size is not None and self.chunk > self.chunk_size:
            raise ContainerError("container decodes to a chunk longer than its chunk size")
        self.hash.update(data)
        if self.sink is not None:
            self.sink.write(data)

    def finish(self, spec: str, length: int, digest: bytes) -> None:
        if self.total != length or self.hash.digest() != digest:
            raise ModelMismatchError(
                f"decoded data fails its checksum: predictor {one_line(spec)} did not reproduce the "
                "encoder's distributions (different machine, library version or device?)"
            )


def _decode_segments(
    predictor: SequencePredictor,
    counts: list[int],
    continues: bool,
    words: np.ndarray,
    batch: int | None,
    out: _Output,
    advance: Callable[[int], None],
    pending: list[np.ndarray],
) -> None:
    """Decode one range-coder stream of segments; token-level chunks wait in `pending` until they end."""
    decoder, family = new_decoder(words), categorical_family()

    def flush() -> None:
        if pending:
            out.write(predictor.detokenize(np.concatenate(pending)))
            pending.clear()

    def emit(symbols: np.ndarray) -> None:
        if predictor.is_byte_level:
            out.write(symbols.astype(np.uint8).tobytes())
        else:
            pending.append(symbols)

    if batch is not None:
        for start in range(0, len(counts), batch):
            group = counts[start : start + batch]
            for symbols in decode_group(_open(predictor, len(group)), group, decoder, family, advance):
                out.start_chunk()
                out.write(predictor.detokenize(symbols))
        return
    for i, count in enumerate(counts):
        if i or not continues:
            flush()
            out.start_chunk()
            predictor.reset(b"")
        decode_piece(predictor, count, decoder, family, advance, emit)


def _build(spec: str, fingerprint: dict[str, Any], options: RuntimeOptions | None) -> SequencePredictor:
    from ..registry import build

    options = options or RuntimeOptions()
    encoded_dtype = fingerprint.get("dtype")
    if options.dtype is None and encoded_dtype in ("float32", "float16", "bfloat16"):
        options = replace(options, dtype=encoded_dtype)  # rebuild the model in the dtype that encoded
    try:
        return build(spec, options, stored=True)
    except GenzipError as exc:
        raise ContainerError(
            f"container names a predictor this genzip cannot build: {one_line(exc)}"
        ) from None


def check_fingerprint(spec: str, fingerprint: dict[str, Any], predictor: SequencePredictor) -> None:
    """Raise ModelMismatchError if the rebuilt predictor differs from the encoder's."""
    now = predictor.fingerprint()
    if now != fingerprint:
        keys = sorted(str(k) for k in set(now) | set(fingerprint) if now.get(k) != fingerprint.get(k))
        details = "; ".join(f"{k}: encoded {fingerprint.get(k)!r}, now {now.get(k)!r}" for k in keys)
        raise ModelMismatchError(
            one_line(f"predictor {spec} differs from the one that encoded this file ({details})")
        )


def decode_stream(
    source: IO[bytes],
    sink: IO[bytes] | None,
    options: RuntimeOptions | None = None,
    progress: bool = False,
    predictor: SequencePredictor | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> int:
    """Decompress a container from `source` to `sink` (None: check only); returns the bytes decoded."""
    reader = Reader(source)
    version, head_len = reader.prefix()
    if version == 1:
        whole, words = reader.whole(head_len, limits)
        if predictor is None:
            check_spec(whole.spec, limits)
        return _decode_whole(whole, words, sink, options, progress, predictor)
    header = reader.stream_header(head_len, limits)
    if predictor is None:
        check_spec(header.spec, limits)
    structure = _Structure(header, limits)
    scanned = _seekable(source)
    if scanned:  # every record checked before any work
        start, crc = source.tell(), reader.crc
        for record in reader.records():
            if isinstance(record, Frame):
                structure.frame(record)
            else:
                structure.end(record)
        source.seek(start)
        reader.crc = crc
    own = predictor is None
    model = predictor or _build(header.spec, header.fingerprint, options)
    try:
        check_fingerprint(header.spec, header.fingerprint, model)
        structure.byte_level = model.is_byte_level
        structure.check_byte_level()
        limit = structure.length if scanned else limits.max_output
        out, pending = _Output(sink, header.chunk_size, limit), list[np.ndarray]()
        with progress_bar(
            structure.symbols if scanned else 0, f"decompress {header.spec}", progress
        ) as advance:
            for record in reader.records():
                if isinstance(record, End):
                    if not scanned:
                        structure.end(record)
                    if pending:
                        out.write(model.detokenize(np.concatenate(pending)))
                    out.finish(header.spec, record.length, record.digest)
                    break
                if not scanned:
                    structure.frame(record)
                counts = record.counts.tolist()
                _decode_segments(
                    model, counts, record.continues, record.words, header.batch_size, out, advance, pending
                )
    finally:
        if own:
            model.close()
    return out.total


def _decode_whole(
    header: WholeHeader,
    words: np.ndarray,
    sink: IO[bytes] | None,
    options: RuntimeOptions | None,
    progress: bool,
    predictor: SequencePredictor | None,
) -> int:
    """A format 1 container: one range-coder stream over every chunk."""
    own = predictor is None
    model = predictor or _build(header.spec, header.fingerprint, options)
    try:
        check_fingerprint(header.spec, header.fingerprint, model)
        if model.is_byte_level:
            header.check_byte_level()
        out, pending = _Output(sink, header.chunk_size, header.length), list[np.ndarray]()
        with progress_bar(sum(header.symbol_counts), f"decompress {header.spec}", progress) as advance:
            _decode_segments(
                model, header.symbol_counts, False, words, header.batch_size, out, advance, pending
            )
        if pending:
            out.write(model.detokenize(np.concatenate(pending)))
        out.finish(header.spec, header.length, bytes.fromhex(header.checksum))
    finally:
        if own:
            model.close()
    return out.total


def _seekable(source: IO[bytes]) -> bool:
    try:
        return source.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def decode(
    blob: bytes,
    options: RuntimeOptions | None = None,
    progress: bool = False,
    predictor: SequencePredictor | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> bytes:
    """Decompress a container held in memory; rebuild the predictor from its spec unless one is given."""
    sink = io.BytesIO()
    decode_stream(io.BytesIO(bytes(blob)), sink, options, progress, predictor, limits)
    return sink.getvalue()
