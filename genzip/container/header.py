"""The container header as a strict, typed schema, checked before any work.

A header arrives as raw-deflated JSON that anyone can write, so nothing in it
is trusted: every field has one type and a range, unknown or missing fields
are refused, the inflated size and the nesting are bounded, and the predictor
spec must parse and stay within the decoder's resource limits (`check_spec`,
before the decoder builds it). Every problem
is one line of `ContainerError`; no other exception leaves this module.

Two schemas: `StreamHeader` (format 2, streamed: totals live in the end
record) and `WholeHeader` (format 1: the whole file's length, checksum and
per-chunk symbol counts up front).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import __version__
from ..errors import ContainerError, SpecError

#: the default `--max-output`: a container may not decode to more bytes than this
DEFAULT_MAX_OUTPUT = 4 << 30
#: the default limit on a spec's `memory` parameter (model tables the decoder allocates)
DEFAULT_MAX_MODEL_MEMORY = 4 << 30
#: chunks stepped side by side (StreamBatch) a container may ask for
MAX_BATCH = 4096
#: a chunk size beyond this is refused (1 TiB)
MAX_CHUNK = 1 << 40
MAX_SPEC_CHARS = 4096
#: fingerprint: nesting depth, total number of values, longest string
MAX_FINGERPRINT_DEPTH = 4
MAX_FINGERPRINT_ITEMS = 512
MAX_STRING_CHARS = 4096
#: inflated header bytes: format 2 headers are small; format 1 lists one count per chunk
MAX_STREAM_HEADER_BYTES = 64 << 10
MAX_WHOLE_HEADER_BYTES = 16 << 20
_HEX32 = re.compile(r"[0-9a-f]{32}")


def one_line(text: object) -> str:
    """`text` as it may appear in a one-line error: control characters (newlines...) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


@dataclass(frozen=True)
class Limits:
    """What a decoder agrees to spend on one container (like zstd's window and memory limits)."""

    max_output: int | None = DEFAULT_MAX_OUTPUT  # bytes written (and symbols decoded); None = no limit
    max_model_memory: int | None = DEFAULT_MAX_MODEL_MEMORY  # a spec's `memory` parameter; None = no limit

    def check_output(self, size: int, what: str = "the output") -> None:
        """Refuse a declared or running output size above `max_output`."""
        if self.max_output is not None and size > self.max_output:
            raise ContainerError(
                f"{what} would be {size} bytes, above the --max-output limit of {self.max_output} bytes"
            )


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class StreamHeader:
    """Format 2: what the decoder needs before the first frame."""

    spec: str
    fingerprint: dict[str, Any]
    chunk_size: int | None
    batch_size: int | None = None  # chunks coded side by side (StreamBatch); None = one at a time
    genzip_version: str = __version__

    def to_bytes(self) -> bytes:
        return deflate_json(asdict(self))

    @classmethod
    def from_bytes(cls, packed: bytes, limits: Limits) -> StreamHeader:
        fields = _check_fields(inflate_json(packed, MAX_STREAM_HEADER_BYTES), _STREAM_FIELDS)
        header = cls(**fields)
        _check_common(header.spec, header.chunk_size, header.batch_size, limits)
        return header


@dataclass(frozen=True)
class WholeHeader:
    """Format 1: the whole file's totals and per-chunk symbol counts up front."""

    spec: str
    fingerprint: dict[str, Any]
    length: int
    checksum: str
    chunk_size: int | None
    symbol_counts: list[int] = field(default_factory=list)
    genzip_version: str = __version__
    batch_size: int | None = None

    def to_bytes(self) -> bytes:
        return deflate_json(asdict(self))

    @classmethod
    def from_bytes(cls, packed: bytes, limits: Limits) -> WholeHeader:
        fields = _check_fields(inflate_json(packed, MAX_WHOLE_HEADER_BYTES), _WHOLE_FIELDS)
        header = cls(**fields)
        _check_common(header.spec, header.chunk_size, header.batch_size, limits)
        limits.check_output(header.length, "the declared length")
        counts, size = header.symbol_counts, header.chunk_size
        chunks = 1 if size is None or header.length == 0 else -(-header.length // size)
        if len(counts) != chunks:
            raise ContainerError(
                f"container header lists {len(counts)} chunks; length {header.length} in chunks of {size} makes {chunks}"
            )
        limits.check_output(sum(counts), "the declared symbol count")
        return header

    def check_byte_level(self) -> None:
        """Byte-level predictors code one symbol per byte: the counts follow from length and chunk size."""
        size = self.chunk_size or max(self.length, 1)
        expected = [min(size, self.length - start) for start in range(0, self.length, size)] or [0]
        if self.symbol_counts != expected:
            raise ContainerError(
                "container header: symbol counts do not match the length for a byte-level predictor"
            )


def deflate_json(fields: dict[str, Any]) -> bytes:
    """Compact, key-sorted JSON, raw-deflated at level 9."""
    raw = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(raw) + deflate.flush()


def inflate_json(packed: bytes, max_bytes: int) -> dict[str, Any]:
    """Inflate at most `max_bytes` and parse one JSON object; anything else is a ContainerError."""
    inflate = zlib.decompressobj(-15)
    try:
        raw = inflate.decompress(packed, max_bytes)
    except zlib.error:
        raise ContainerError("container header is not valid (not raw deflate)") from None
    if inflate.unconsumed_tail:
        raise ContainerError(f"container header inflates to more than {max_bytes} bytes")
    if not inflate.eof or inflate.unused_data:
        raise ContainerError("container header is not valid (not one complete deflate stream)")
    try:
        value = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ContainerError("container header nests too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, integers over Python's digit limit
        raise ContainerError(f"container header is not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(value, dict):
        raise ContainerError("container header is not a JSON object")
    return value


def _check_fields(raw: dict[str, Any], schema: dict[str, tuple[Any, bool]]) -> dict[str, Any]:
    """Every key known, every required key present, every value of its type and range."""
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise ContainerError(f"container header has unknown field {unknown[0][:40]!r}")
    for name, (_, required) in schema.items():
        if required and name not in raw:
            raise ContainerError(f"container header lacks the field {name!r}")
    for name, value in raw.items():
        schema[name][0](name, value)
    return raw


def _integer(lo: int, hi: int, nullable: bool = False) -> Any:
    def check(name: str, value: Any) -> None:
        if value is None and nullable:
            return
        if type(value) is not int or not lo <= value <= hi:
            raise ContainerError(
                f"container header: {name} must be an integer in {lo}..{hi}{' or null' if nullable else ''}"
            )

    return check


def _string(pattern: re.Pattern[str] | None = None, max_chars: int = MAX_STRING_CHARS) -> Any:
    def check(name: str, value: Any) -> None:
        if (
            type(value) is not str
            or not 0 < len(value) <= max_chars
            or (pattern and not pattern.fullmatch(value))
        ):
            raise ContainerError(f"container header: {name} must be a string of the right form")

    return check


def _counts(name: str, value: Any) -> None:
    if type(value) is not list or not all(type(c) is int and 0 <= c <= MAX_CHUNK for c in value):
        raise ContainerError(f"container header: {name} must be a list of integers in 0..{MAX_CHUNK}")


def _fingerprint(name: str, value: Any) -> None:
    if type(value) is not dict:
        raise ContainerError(f"container header: {name} must be an object")
    budget = [MAX_FINGERPRINT_ITEMS]

    def walk(node: Any, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_FINGERPRINT_DEPTH:
            raise ContainerError(f"container header: {name} is too large or nests too deeply")
        if type(node) is dict:
            for key, item in node.items():
                walk(key, depth + 1)
                walk(item, depth + 1)
        elif type(node) is list:
            for item in node:
                walk(item, depth + 1)
        elif type(node) is str:
            if len(node) > MAX_STRING_CHARS:
                raise ContainerError(f"container header: {name} holds an over-long string")
        elif node is not None and type(node) not in (bool, int, float):
            raise ContainerError(f"container header: {name} holds a value of an unknown type")

    walk(value, 0)


_COMMON = {
    "spec": (_string(max_chars=MAX_SPEC_CHARS), True),
    "fingerprint": (_fingerprint, True),
    "chunk_size": (_integer(1, MAX_CHUNK, nullable=True), True),
    "batch_size": (_integer(1, MAX_BATCH, nullable=True), False),
    "genzip_version": (_string(max_chars=64), False),
}
_STREAM_FIELDS = _COMMON
_WHOLE_FIELDS = {
    **_COMMON,
    "length": (_integer(0, 1 << 62), True),
    "checksum": (_string(_HEX32), True),
    "symbol_counts": (_counts, True),
}


def _check_common(spec: str, chunk_size: int | None, batch_size: int | None, limits: Limits) -> None:
    """Cross-field checks."""
    if batch_size is not None and chunk_size is None:
        raise ContainerError("container header: a batch size needs a chunk size")


def check_spec(spec: str, limits: Limits) -> None:
    """A spec the registry parses, within the model-memory limit (before the decoder builds it)."""
    from ..registry import parse_spec

    try:
        entry, values = parse_spec(spec, stored=True)
    except SpecError as exc:
        raise ContainerError(
            f"container names a predictor this genzip cannot build: {one_line(exc)}"
        ) from None
    memory = values.get("memory")
    if limits.max_model_memory is not None and type(memory) is int and memory > limits.max_model_memory:
        raise ContainerError(
            f"container asks for {entry.name} with memory={memory} bytes, above the --max-memory limit "
            f"of {limits.max_model_memory} bytes"
        )
