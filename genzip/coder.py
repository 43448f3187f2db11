"""One arithmetic coder for every predictor, and the container it writes.

Coding goes through constriction's range coder (`RangeEncoder`/`RangeDecoder`)
with `Categorical(perfect=False)` models. The encoder gets its distributions
from `predictor.distributions(...)` (possibly batched), the decoder steps
`distribution()`/`observe()`; the interface promises both give bit-identical
float64 arrays, and a checksum of the original catches anything that slips.

Container layout (all integers little-endian)::

    magic b"GZPK" | version u8 | header length u32 | header (raw-deflated UTF-8 JSON) |
    payload (range-coder words, u32 each) | crc32 of everything before, u32

The header holds the canonical predictor spec, the predictor fingerprint
(weights hash, dtype, ... for models), the original length, a blake2b-128
checksum of the original, the chunking, the number of symbols per chunk and
the batch size of chunk-batched coding.

Chunk-batched coding: in chunked mode, a predictor whose `open_streams`
returns a `StreamBatch` (language models) codes `batch_size` consecutive
chunks side by side: step t yields one distribution per chunk, and the
symbols at step t of every chunk still running are coded in chunk order
(chunks that ended are fed padding 0 and not coded). The decoder opens the
same groups with the same sizes (from `symbol_counts` and `batch_size`), so
both sides compute the same floats; `batch_size` null means one chunk at a
time through `distributions()`/`distribution()`.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import __version__
from .chunks import split_chunks
from .errors import ContainerError, InputError, ModelMismatchError, SpecError
from .predictor import RuntimeOptions, SequencePredictor, StreamBatch
from .progress import progress_bar

MAGIC = b"GZPK"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_CRC = struct.Struct("<I")
#: a header that inflates to more than this is refused (a 1 GB file in 2 KB chunks needs ~3 MB)
_MAX_HEADER_BYTES = 64 << 20
#: symbols handed to `distributions()` at once: bounds memory to block * alphabet floats
ENCODE_BLOCK = 2048
#: chunks stepped side by side when the predictor supports batched streams
DEFAULT_BATCH = 32


def _categorical_family() -> Any:
    import constriction

    return constriction.stream.model.Categorical(perfect=False)


def checksum(data: bytes) -> str:
    """blake2b-128 of the original bytes, hex."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class Header:
    """What the decoder needs besides the payload."""

    spec: str
    fingerprint: dict[str, Any]
    length: int
    checksum: str
    chunk_size: int | None
    symbol_counts: list[int]
    genzip_version: str = __version__
    batch_size: int | None = None  # chunks coded side by side (StreamBatch); None = one at a time

    def to_bytes(self) -> bytes:
        """Compact JSON, raw-deflated: per-chunk symbol counts and long specs shrink to a few bytes."""
        raw = json.dumps(self.__dict__, sort_keys=True, separators=(",", ":")).encode()
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        return deflate.compress(raw) + deflate.flush()

    @classmethod
    def from_bytes(cls, packed: bytes) -> Header:
        try:
            inflate = zlib.decompressobj(-15)
            raw = inflate.decompress(packed, _MAX_HEADER_BYTES)
            if inflate.unconsumed_tail or not inflate.eof:
                raise ValueError("header does not inflate to one complete JSON document")
            return cls(**json.loads(raw.decode()))
        except (zlib.error, ValueError, TypeError) as exc:
            raise ContainerError(f"container header is not valid ({exc.__class__.__name__})") from None


def _encode_chunk(
    predictor: SequencePredictor, symbols: np.ndarray, encoder: Any, family: Any, advance: Any
) -> None:
    predictor.reset(b"")
    for start in range(0, len(symbols), ENCODE_BLOCK):
        part = symbols[start : start + ENCODE_BLOCK]
        probs = predictor.distributions(part)
        encoder.encode(part.astype(np.int32), family, probs)
        advance(len(part))


def _decode_chunk(
    predictor: SequencePredictor, count: int, decoder: Any, family: Any, advance: Any
) -> np.ndarray:
    predictor.reset(b"")
    out = np.empty(count, dtype=np.int64)
    for i in range(count):
        probs = predictor.distribution()
        symbol = int(decoder.decode(family, probs[None, :])[0])
        out[i] = symbol
        predictor.observe(symbol)
        if i % 256 == 255:
            advance(256)
    advance(count % 256)
    return out


def _groups(counts: list[int], batch_size: int) -> list[range]:
    """Consecutive chunk indices coded side by side (the last group may be smaller)."""
    return [range(i, min(i + batch_size, len(counts))) for i in range(0, len(counts), batch_size)]


def _encode_batched(
    streams: StreamBatch, chunks: list[np.ndarray], encoder: Any, family: Any, advance: Any
) -> None:
    counts = np.array([len(c) for c in chunks])
    steps = int(counts.max(initial=0))
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


def _decode_batched(
    streams: StreamBatch, counts: list[int], decoder: Any, family: Any, advance: Any
) -> list[np.ndarray]:
    sizes = np.array(counts)
    steps = int(sizes.max(initial=0))
    grid = np.zeros((len(counts), steps), dtype=np.int64)
    for t in range(steps):
        probs = streams.distributions()
        live = np.flatnonzero(sizes > t)
        grid[live, t] = decoder.decode(family, probs[live])
        advance(len(live))
        if t + 1 < steps:
            streams.observe(grid[:, t])
    return [grid[row, :n] for row, n in enumerate(counts)]


def _open(predictor: SequencePredictor, count: int) -> StreamBatch:
    streams = predictor.open_streams(count)
    if streams is None:
        raise ContainerError(f"predictor {predictor.spec} cannot code chunks side by side (no batched streams)")
    return streams


def encode(
    data: bytes,
    predictor: SequencePredictor,
    chunk_size: int | None = None,
    progress: bool = False,
    batch_size: int | None = None,
) -> bytes:
    """Compress `data` with `predictor` into a self-describing container.

    In chunked mode, a predictor with batched streams codes `batch_size`
    chunks side by side (default `DEFAULT_BATCH`; 0 turns batching off).
    """
    import constriction

    if chunk_size is not None and chunk_size <= 0:
        raise InputError(f"chunk size must be positive, got {chunk_size}")
    if batch_size is not None and batch_size < 0:
        raise InputError(f"batch size must be >= 0, got {batch_size}")
    chunks = split_chunks(bytes(data), chunk_size)
    symbol_chunks = []
    for chunk in chunks:
        symbols = predictor.tokenize(chunk)
        if not predictor.is_byte_level and predictor.detokenize(symbols) != chunk:
            raise InputError(f"{predictor.spec}: tokenizer does not round-trip this input")
        symbol_chunks.append(symbols)
    encoder = constriction.stream.queue.RangeEncoder()
    family = _categorical_family()
    total = sum(len(s) for s in symbol_chunks)
    counts = [len(s) for s in symbol_chunks]
    batch = None
    first: StreamBatch | None = None
    if chunk_size is not None and batch_size != 0:
        batch = min(batch_size or DEFAULT_BATCH, len(counts))
        first = predictor.open_streams(batch)
        if first is None:
            batch = None
    with progress_bar(total, f"compress {predictor.spec}", progress) as advance:
        if batch is None:
            for symbols in symbol_chunks:
                _encode_chunk(predictor, symbols, encoder, family, advance)
        else:
            for group in _groups(counts, batch):
                streams = first if len(group) == batch and first is not None else _open(predictor, len(group))
                first = None
                _encode_batched(streams, [symbol_chunks[i] for i in group], encoder, family, advance)
    header = Header(
        spec=predictor.spec,
        fingerprint=predictor.fingerprint(),
        length=len(data),
        checksum=checksum(bytes(data)),
        chunk_size=chunk_size,
        symbol_counts=counts,
        batch_size=batch,
    )
    head = header.to_bytes()
    payload = encoder.get_compressed().astype("<u4").tobytes()
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)) + head + payload
    return body + _CRC.pack(zlib.crc32(body))


def read_header(blob: bytes) -> tuple[Header, np.ndarray]:
    """Check magic, version and integrity; return the header and the payload words."""
    if len(blob) < _PREFIX.size + _CRC.size:
        raise ContainerError("not a genzip container: too short")
    magic, version, head_len = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise ContainerError("not a genzip container: wrong magic bytes")
    if version != FORMAT_VERSION:
        raise ContainerError(f"unsupported container format version {version} (this genzip reads {FORMAT_VERSION})")
    body, (crc,) = blob[: -_CRC.size], _CRC.unpack(blob[-_CRC.size :])
    if zlib.crc32(body) != crc:
        raise ContainerError("container is corrupted or truncated (crc32 mismatch)")
    head_end = _PREFIX.size + head_len
    if head_end > len(body) or (len(body) - head_end) % 4:
        raise ContainerError("container is truncated (payload is not whole 32-bit words)")
    header = Header.from_bytes(body[_PREFIX.size : head_end])
    if header.length < 0 or any(c < 0 for c in header.symbol_counts):
        raise ContainerError("container header has impossible lengths")
    if header.batch_size is not None and (not isinstance(header.batch_size, int) or header.batch_size < 1):
        raise ContainerError("container header has an impossible batch size")
    payload = np.frombuffer(body[head_end:], dtype="<u4").astype(np.uint32)
    return header, payload


def check_fingerprint(header: Header, predictor: SequencePredictor) -> None:
    """Raise ModelMismatchError if the rebuilt predictor differs from the encoder's."""
    now = predictor.fingerprint()
    if now != header.fingerprint:
        keys = sorted(k for k in set(now) | set(header.fingerprint) if now.get(k) != header.fingerprint.get(k))
        details = "; ".join(f"{k}: encoded {header.fingerprint.get(k)!r}, now {now.get(k)!r}" for k in keys)
        raise ModelMismatchError(f"predictor {header.spec} differs from the one that encoded this file ({details})")


def decode(
    blob: bytes,
    options: RuntimeOptions | None = None,
    progress: bool = False,
    predictor: SequencePredictor | None = None,
) -> bytes:
    """Decompress a container; rebuild the predictor from its spec unless one is given."""
    import constriction

    from .registry import build

    header, payload = read_header(bytes(blob))
    own = predictor is None
    if predictor is None:
        options = options or RuntimeOptions()
        encoded_dtype = header.fingerprint.get("dtype")
        if options.dtype is None and encoded_dtype in ("float32", "float16", "bfloat16"):
            options = replace(options, dtype=encoded_dtype)  # rebuild the model in the dtype that encoded
        try:
            predictor = build(header.spec, options)
        except SpecError as exc:
            raise ContainerError(f"container names a predictor this genzip cannot build: {exc}") from None
    try:
        check_fingerprint(header, predictor)
        decoder = constriction.stream.queue.RangeDecoder(payload)
        family = _categorical_family()
        pieces = []
        with progress_bar(sum(header.symbol_counts), f"decompress {header.spec}", progress) as advance:
            if header.batch_size is None:
                for count in header.symbol_counts:
                    symbols = _decode_chunk(predictor, count, decoder, family, advance)
                    pieces.append(predictor.detokenize(symbols))
            else:
                for group in _groups(header.symbol_counts, header.batch_size):
                    counts = [header.symbol_counts[i] for i in group]
                    for symbols in _decode_batched(_open(predictor, len(group)), counts, decoder, family, advance):
                        pieces.append(predictor.detokenize(symbols))
    finally:
        if own:
            predictor.close()
    data = b"".join(pieces)
    if len(data) != header.length or checksum(data) != header.checksum:
        raise ModelMismatchError(
            f"decoded data fails its checksum: predictor {header.spec} did not reproduce the "
            "encoder's distributions (different machine, library version or device?)"
        )
    return data
