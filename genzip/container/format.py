"""The container's bytes: records, integrity checks and the readers that trust nothing.

Format 2 (streamed, written by this genzip; all integers little-endian)::

    magic b"GZPK" | version u8 = 2 | header length u32 | header (raw-deflated JSON) | crc32 u32
    frame*: b"F" | flags u8 | segments u32 | counts length u32 | words u32 |
            counts (raw-deflated u32 per segment) | range-coder words (u32 each) | crc32 u32 of the record
    end:    b"E" | original length u64 | blake2b-128 of the original (16 bytes) | crc32 u32 of everything before

A frame is one range-coder stream over at most `MAX_FRAME_SYMBOLS` symbols, cut
into segments: each segment starts a new chunk, except the first one when flag
`CONTINUES` is set (it goes on with the previous frame's last chunk: whole-file
mode, or a chunk longer than a frame). Every record is checked before it is
used, and every size is bounded by a constant before anything is allocated.

Format 1 (read only) is one record: magic | version 1 | header length u32 |
header (raw-deflated JSON with length, checksum, symbol counts) | words | crc32 of everything before.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..errors import ContainerError
from .header import DEFAULT_LIMITS, MAX_WHOLE_HEADER_BYTES, Limits, StreamHeader, WholeHeader

MAGIC = b"GZPK"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
PREFIX = struct.Struct("<4sBI")
CRC = struct.Struct("<I")
FRAME = struct.Struct("<BIII")  # after the tag: flags, segments, counts length, words
END = struct.Struct("<Q16s")  # after the tag: length, blake2b-128 digest
FRAME_TAG, END_TAG = b"F", b"E"
CONTINUES = 1
#: symbols the encoder puts in one frame (bounds its memory and the decoder's per frame)
FRAME_SYMBOLS = 1 << 20
#: symbols a decoder accepts in one frame (token models may spend a few symbols per byte)
MAX_FRAME_SYMBOLS = 1 << 22
#: a range coder spends at most 24 bits per symbol (constriction's 24-bit quantisation) plus a flush
_WORD_SLACK = 4
#: deflate's worst case over its input: a few bytes per 16 KiB block
_DEFLATE_SLACK = 1024


@dataclass(frozen=True)
class Frame:
    """One range-coder stream: symbol counts per segment and the coded words."""

    continues: bool
    counts: np.ndarray  # int64, one per segment
    words: np.ndarray  # uint32

    @property
    def symbols(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class End:
    length: int
    digest: bytes


def read_upto(source: IO[bytes], n: int) -> bytes:
    """Up to `n` bytes, fewer only at the end of the input (pipes return short reads)."""
    data = source.read(n)
    while data and len(data) < n:
        more = source.read(n - len(data))
        if not more:
            break
        data += more
    return data


def deflate(raw: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(raw) + packer.flush()


class Writer:
    """Writes format 2 records to a binary sink, keeping the running crc32 and sizes."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.crc = 0
        self.size = 0
        self.payload = 0  # bytes of range-coder words

    def _put(self, data: bytes) -> None:
        self.sink.write(data)
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)

    def header(self, header: StreamHeader) -> None:
        head = header.to_bytes()
        self._put(PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)) + head)
        self._put(CRC.pack(self.crc))

    def frame(self, continues: bool, counts: list[int], words: np.ndarray) -> None:
        packed = deflate(np.asarray(counts, dtype="<u4").tobytes())
        body = FRAME_TAG + FRAME.pack(CONTINUES if continues else 0, len(counts), len(packed), len(words))
        body += packed + np.asarray(words, dtype="<u4").tobytes()
        self._put(body + CRC.pack(zlib.crc32(body)))
        self.payload += 4 * len(words)

    def end(self, length: int, digest: bytes) -> None:
        self._put(END_TAG + END.pack(length, digest))
        self._put(CRC.pack(self.crc))


class Reader:
    """Reads records from a binary source; every read is exact and every size checked first."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.crc = 0

    def read(self, n: int) -> bytes:
        data = read_upto(self.source, n)
        if len(data) < n:
            raise ContainerError("container is truncated")
        self.crc = zlib.crc32(data, self.crc)
        return data

    def prefix(self) -> tuple[int, int]:
        """Magic and version; returns (version, header length)."""
        first = read_upto(self.source, PREFIX.size)
        if len(first) < PREFIX.size:
            raise ContainerError("not a genzip container: too short")
        self.crc = zlib.crc32(first)
        magic, version, head_len = PREFIX.unpack(first)
        if magic != MAGIC:
            raise ContainerError("not a genzip container: wrong magic bytes")
        if version not in READABLE_VERSIONS:
            raise ContainerError(
                f"unsupported container format version {version} (this genzip reads {', '.join(map(str, READABLE_VERSIONS))})"
            )
        return version, head_len

    def stream_header(self, head_len: int, limits: Limits) -> StreamHeader:
        """The format 2 header record, crc checked before the JSON is parsed."""
        if head_len > 4 * 1024 * 1024:
            raise ContainerError("container header record is too long")
        packed = self.read(head_len)
        expected = self.crc
        (crc,) = CRC.unpack(self.read(CRC.size))
        if crc != expected:
            raise ContainerError("container header is corrupted (crc32 mismatch)")
        return StreamHeader.from_bytes(packed, limits)

    def records(self) -> Iterator[Frame | End]:
        """Frames, then the end record; after it the source must be exhausted."""
        while True:
            tag = self.read(1)
            if tag == FRAME_TAG:
                yield self._frame()
            elif tag == END_TAG:
                end = self._end()
                if self.source.read(1):
                    raise ContainerError("container has trailing data after its end record")
                yield end
                return
            else:
                raise ContainerError("container is corrupted (unknown record)")

    def _frame(self) -> Frame:
        fixed = self.read(FRAME.size)
        flags, segments, packed_len, n_words = FRAME.unpack(fixed)
        if flags & ~CONTINUES or not 1 <= segments <= MAX_FRAME_SYMBOLS:
            raise ContainerError("container frame has impossible flags or segment count")
        if packed_len > 4 * segments + _DEFLATE_SLACK or n_words > MAX_FRAME_SYMBOLS + _WORD_SLACK:
            raise ContainerError("container frame declares more data than a frame can hold")
        packed = self.read(packed_len)
        words = self.read(4 * n_words)
        body = FRAME_TAG + fixed + packed + words
        (crc,) = CRC.unpack(self.read(CRC.size))
        if crc != zlib.crc32(body):
            raise ContainerError("container frame is corrupted (crc32 mismatch)")
        inflate = zlib.decompressobj(-15)
        try:
            raw = inflate.decompress(packed, 4 * segments)
        except zlib.error:
            raise ContainerError("container frame counts are not valid deflate") from None
        if len(raw) != 4 * segments or inflate.unconsumed_tail or not inflate.eof or inflate.unused_data:
            raise ContainerError("container frame counts do not match its segment count")
        counts = np.frombuffer(raw, dtype="<u4").astype(np.int64)
        total = int(counts.sum())
        if total > MAX_FRAME_SYMBOLS or n_words > total + _WORD_SLACK:
            raise ContainerError("container frame declares more symbols or words than a frame may hold")
        return Frame(bool(flags & CONTINUES), counts, np.frombuffer(words, dtype="<u4").astype(np.uint32))

    def _end(self) -> End:
        length, digest = END.unpack(self.read(END.size))
        expected = self.crc
        (crc,) = CRC.unpack(self.read(CRC.size))
        if crc != expected:
            raise ContainerError("container is corrupted or truncated (crc32 mismatch)")
        return End(length, digest)

    def whole(self, head_len: int, limits: Limits) -> tuple[WholeHeader, np.ndarray]:
        """The rest of a format 1 container, its crc32 checked at the end.

        Its writer held it in memory, and so does this reader: the header is
        parsed by the strict schema first, so the payload read is bounded by
        the symbols it declares (at most 32 bits each), themselves within `--max-output`.
        """
        if head_len > MAX_WHOLE_HEADER_BYTES + _DEFLATE_SLACK:
            raise ContainerError("container header record is too long")
        header = WholeHeader.from_bytes(self.read(head_len), limits)
        most = 4 * (sum(header.symbol_counts) + _WORD_SLACK) + CRC.size
        parts, size = [], 0
        while block := self.source.read(min(1 << 20, most + 1 - size)):  # in blocks, never more than declared
            parts.append(block)
            size += len(block)
            if size > most:
                raise ContainerError("container payload is longer than its symbols can need")
        rest = b"".join(parts)
        if len(rest) < CRC.size or (len(rest) - CRC.size) % 4:
            raise ContainerError("container is truncated (payload is not whole 32-bit words)")
        (crc,) = CRC.unpack(rest[-CRC.size :])
        if zlib.crc32(rest[: -CRC.size], self.crc) != crc:
            raise ContainerError("container is corrupted or truncated (crc32 mismatch)")
        return header, np.frombuffer(rest[: -CRC.size], dtype="<u4").astype(np.uint32)


def read_header(blob: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[WholeHeader, np.ndarray]:
    """Any readable container held in memory, summarised as (format 1 style header, payload words).

    For format 2 the summary gathers the end record's length and checksum, one
    symbol count per chunk and every frame's words; it is for inspection
    (sizes, layout), not for decoding.
    """
    reader = Reader(io.BytesIO(bytes(blob)))
    version, head_len = reader.prefix()
    if version == 1:
        return reader.whole(head_len, limits)
    header = reader.stream_header(head_len, limits)
    counts: list[int] = []
    words: list[np.ndarray] = []
    for record in reader.records():
        if isinstance(record, End):
            summary = WholeHeader(
                spec=header.spec,
                fingerprint=header.fingerprint,
                length=record.length,
                checksum=record.digest.hex(),
                chunk_size=header.chunk_size,
                symbol_counts=counts,
                genzip_version=header.genzip_version,
                batch_size=header.batch_size,
            )
            return summary, np.concatenate(words) if words else np.zeros(0, dtype=np.uint32)
        segments = record.counts.tolist()
        if record.continues and counts:
            counts[-1] += segments.pop(0)
        counts.extend(segments)
        words.append(record.words)
    raise AssertionError("records() always ends with the end record")
