"""Building containers by hand for tests: edited headers, frames and end records, always correctly sealed.

A hostile container has valid crc32s everywhere, so that only the check under
test can object; these helpers write exactly the bytes `genzip.container.format`
describes, from any JSON value and any record fields.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from genzip.container.format import CRC, END, FRAME, MAGIC, PREFIX, Reader, deflate
from genzip.container.header import inflate_json


@dataclass
class RawFrame:
    """A frame record's fields, written as they are (no checks)."""

    flags: int
    counts: list[int]
    words: list[int]
    segments: int | None = None  # declared segment count; default len(counts)
    packed: bytes | None = None  # the deflated counts as written; default the real ones


def header_bytes(fields: Any, version: int = 2) -> bytes:
    """Magic, version, header length and the raw-deflated JSON of any value (plus its crc for version 2)."""
    head = deflate(json.dumps(fields, separators=(",", ":")).encode())
    prefix = PREFIX.pack(MAGIC, version, len(head)) + head
    return prefix + CRC.pack(zlib.crc32(prefix)) if version == 2 else prefix


def frame_bytes(frame: RawFrame) -> bytes:
    packed = (
        frame.packed if frame.packed is not None else deflate(np.asarray(frame.counts, dtype="<u4").tobytes())
    )
    segments = len(frame.counts) if frame.segments is None else frame.segments
    body = b"F" + FRAME.pack(frame.flags, segments, len(packed), len(frame.words)) + packed
    body += np.asarray(frame.words, dtype="<u4").tobytes()
    return body + CRC.pack(zlib.crc32(body))


def seal(head: bytes, frames: list[bytes], length: int, digest: bytes) -> bytes:
    """A whole format 2 container: header record, frame records, end record with the running crc32."""
    body = head + b"".join(frames) + b"E" + END.pack(length, digest)
    return body + CRC.pack(zlib.crc32(body))


def seal_v1(fields: Any, words: bytes = b"") -> bytes:
    body = header_bytes(fields, version=1) + words
    return body + struct.pack("<I", zlib.crc32(body))


def header_fields(blob: bytes) -> dict[str, Any]:
    """The header JSON of any readable container."""
    _, head_len = Reader(io.BytesIO(blob)).prefix()
    return inflate_json(blob[PREFIX.size : PREFIX.size + head_len], 1 << 30)


def rewrite_header(blob: bytes, **changes: object) -> bytes:
    """The same container with header fields replaced and every crc32 valid again."""
    version, head_len = Reader(io.BytesIO(blob)).prefix()
    fields = {**header_fields(blob), **changes}
    if version == 1:
        return seal_v1(fields, blob[PREFIX.size + head_len : -CRC.size])
    rest = blob[PREFIX.size + head_len + CRC.size : -CRC.size]
    body = header_bytes(fields) + rest
    return body + CRC.pack(zlib.crc32(body))


def split(blob: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A format 2 container cut into its header record, frame records and end record (without the final crc)."""
    _, head_len = Reader(io.BytesIO(blob)).prefix()
    at = PREFIX.size + head_len + CRC.size
    head, frames = blob[:at], []
    while blob[at : at + 1] == b"F":
        _, _, packed_len, n_words = FRAME.unpack_from(blob, at + 1)
        size = 1 + FRAME.size + packed_len + 4 * n_words + CRC.size
        frames.append(blob[at : at + size])
        at += size
    return head, frames, blob[at : -CRC.size]
