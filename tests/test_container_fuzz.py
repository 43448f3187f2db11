"""Fuzzing the decoder with mutated and hostile containers: only `ContainerError` or the right output, never a hang.

Hostile containers are well formed where it matters to get past the crc32s:
every record is sealed correctly, so the schema, the structure checks and the
resource limits are what must object. Each case runs under a 10 s alarm and a
small `--max-output`, with the fast `order` predictor; the case counts add up
to well over 2,000.
"""

from __future__ import annotations

import io
import signal
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, cast

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genzip.corpus
from genzip.container import Limits, decode, encode, read_header
from genzip.container.format import MAX_FRAME_SYMBOLS
from genzip.errors import ContainerError
from genzip.predictor import RuntimeOptions
from genzip.registry import build

from .containers import RawFrame, frame_bytes, header_bytes, header_fields, seal, seal_v1, split

SPEC = "order:k=2,memory=65536"
ONE_CORE = RuntimeOptions(jobs=1, device="cpu")
LIMITS = Limits(max_output=4096, max_model_memory=1 << 26)
DATA = genzip.corpus.text(300, offset=4000)
FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _container(chunk: int | None, data: bytes = DATA) -> bytes:
    with build(SPEC, ONE_CORE) as predictor:
        return encode(data, predictor, chunk_size=chunk)


BASES = {"whole": _container(None), "chunked": _container(64), "empty": _container(64, b"")}
ORIGINALS = {"whole": DATA, "chunked": DATA, "empty": b""}


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail a case that runs longer than `seconds` (a hang is a bug, not a slow test)."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"decoding ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_safe(blob: bytes, original: bytes | None) -> None:
    """The decoder refuses `blob` with a ContainerError, or decodes it to `original`."""
    with alarm(10):
        try:
            out = decode(blob, ONE_CORE, limits=LIMITS)
        except ContainerError as exc:
            assert "\n" not in str(exc)
            return
    assert out == original


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, -1, 2**31, 2**32, 2**63, 2**64, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=10,
)
FIELD_VALUES = {
    "spec": st.sampled_from(
        [
            SPEC,
            "order",
            "nope",
            "",
            "order:k=99",
            "order:memory=1t",
            "ppm:memory=1t",
            "order:k=x",
            "gzip:level=99",
            "order:k=2,memory=65536,extra=1",
            "hf:/nonexistent",
            "bytelm:checkpoint=/nonexistent",
            ":",
            "order:" + "k=1," * 500,
        ]
    )
    | st.text(max_size=30),
    "chunk_size": st.sampled_from(
        [None, 0, -1, 1, 63, 64, 65, 300, 2**40, 2**40 + 1, 2**64, True, 64.0, "64"]
    ),
    "batch_size": st.sampled_from([None, 0, 1, 2, 4096, 4097, -5, False, [1]]),
    "fingerprint": st.sampled_from([{}, [], None, "x", {"dtype": 5}, {"a": [[[[[[1]]]]]]}, {"k": "v" * 5000}])
    | json_values,
    "genzip_version": st.sampled_from(["0.1.0", "", "x" * 100, 1]) | json_values,
}


@st.composite
def edited_headers(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A real container whose header JSON has fields replaced, removed or added, sealed again."""
    name = draw(st.sampled_from(sorted(BASES)))
    fields: Any = header_fields(BASES[name])
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*FIELD_VALUES, "unknown"]))
        action = draw(st.sampled_from(["typed", "any", "drop"]))
        if action == "drop":
            fields.pop(key, None)
        else:
            strategy = FIELD_VALUES.get(key, json_values) if action == "typed" else json_values
            fields[key] = draw(strategy)
    if draw(st.integers(0, 19)) == 0:
        fields = draw(json_values)  # not even an object
    _, frames, end = split(BASES[name])
    body = header_bytes(fields) + b"".join(frames) + end
    return body + struct.pack("<I", zlib.crc32(body)), ORIGINALS[name]


@st.composite
def hostile_frames(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A real header followed by frames with any flags, counts, declared sizes and words, and any end record."""
    name = draw(st.sampled_from(sorted(BASES)))
    head, real_frames, end = split(BASES[name])
    count = st.integers(0, 300) | st.sampled_from(
        [2**32 - 1, MAX_FRAME_SYMBOLS, MAX_FRAME_SYMBOLS + 1, 4096, 4097]
    )
    frames: list[bytes] = []
    for _ in range(draw(st.integers(0, 3))):
        use_real = draw(st.booleans())
        if real_frames and use_real:
            frames.append(draw(st.sampled_from(real_frames)))
            continue
        raw = RawFrame(
            flags=draw(st.integers(0, 3)),
            counts=draw(st.lists(count, min_size=0, max_size=5)),
            words=draw(st.lists(st.integers(0, 2**32 - 1), max_size=12)),
        )
        if draw(st.integers(0, 4)) == 0:
            raw.segments = draw(st.sampled_from([0, 2**32 - 1, MAX_FRAME_SYMBOLS + 1, 7]))
        if draw(st.integers(0, 4)) == 0:
            raw.packed = draw(st.binary(max_size=20))
        frames.append(frame_bytes(raw))
    length = draw(st.sampled_from([len(ORIGINALS[name]), 0, 1, 2**64 - 1, 4097, 299]))
    digest = end[9:25] if draw(st.booleans()) else draw(st.binary(min_size=16, max_size=16))
    return seal(head, frames, length, digest), ORIGINALS[name]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """A real container with bytes flipped, inserted, deleted or cut, and sometimes its final crc32 fixed."""
    name = draw(st.sampled_from(sorted(BASES)))
    blob = bytearray(BASES[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(blob) - 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if kind == "flip":
            blob[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            blob[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del blob[at : at + draw(st.integers(1, 8))]
        else:
            del blob[at:]
        if len(blob) < 2:
            break
    if draw(st.booleans()) and len(blob) > 4:
        blob[-4:] = struct.pack("<I", zlib.crc32(bytes(blob[:-4])))
    return bytes(blob), ORIGINALS[name]


@st.composite
def hostile_v1(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """Format 1 containers (one sealed record) with any header fields and payload."""
    fields: dict[str, Any] = {
        "spec": SPEC,
        "fingerprint": {},
        "length": 300,
        "checksum": "0" * 32,
        "chunk_size": 64,
        "symbol_counts": [64, 64, 64, 64, 44],
        "genzip_version": "0.1.0",
        "batch_size": None,
    }
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*fields, "unknown"]))
        fields[key] = draw(
            st.sampled_from([[2**40], [10**12, 1], [], [64] * 5, list(range(9)), 10**12, 2**62, -1, "0" * 32])
            | FIELD_VALUES.get(key, json_values)
        )
    words = draw(st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4]))
    return seal_v1(fields, words), None


@FAST
@given(edited_headers())
def test_edited_headers(case: tuple[bytes, bytes | None]) -> None:
    assert_safe(*case)


@FAST
@given(hostile_frames())
def test_hostile_frames(case: tuple[bytes, bytes | None]) -> None:
    assert_safe(*case)


@FAST
@given(mutated())
def test_mutated_containers(case: tuple[bytes, bytes | None]) -> None:
    assert_safe(*case)


@FAST
@given(hostile_v1())
def test_hostile_format_1(case: tuple[bytes, bytes | None]) -> None:
    assert_safe(*case)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(BASES["chunked"]) - 1))
def test_every_truncation_is_refused(cut: int) -> None:
    with pytest.raises(ContainerError):
        decode(BASES["chunked"][:cut], ONE_CORE, limits=LIMITS)


@pytest.mark.parametrize("depth", [50, 2000, 200_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    deep = "[" * depth + "]" * depth
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = head.compress(deep.encode()) + head.flush()
    prefix = struct.pack("<4sBI", b"GZPK", 2, len(packed)) + packed
    with pytest.raises(ContainerError, match=r"not a JSON object|nests too deeply|inflates to more"):
        decode(
            seal(prefix + struct.pack("<I", zlib.crc32(prefix)), [], 0, bytes(16)), ONE_CORE, limits=LIMITS
        )
    fields = {**header_fields(BASES["whole"]), "fingerprint": {"a": [[[[[[[[1]]]]]]]]}}
    with pytest.raises(ContainerError, match="nests too deeply"):
        decode(seal(header_bytes(fields), [], 0, bytes(16)), ONE_CORE, limits=LIMITS)


def test_a_deflate_bomb_header_is_refused() -> None:
    bomb = b'{"spec":"' + b"a" * (8 << 20) + b'"}'
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(bomb) + packer.flush()
    prefix = struct.pack("<4sBI", b"GZPK", 2, len(packed)) + packed
    with pytest.raises(ContainerError, match="inflates to more"):
        decode(prefix + struct.pack("<I", zlib.crc32(prefix)), ONE_CORE, limits=LIMITS)


def test_many_frames_claiming_huge_outputs_stop_at_the_limit() -> None:
    """Frames of a million symbols each cost a few bytes; the symbol count is refused before any decoding."""
    head, _, _ = split(BASES["whole"])
    frames = [frame_bytes(RawFrame(flags=i > 0, counts=[MAX_FRAME_SYMBOLS], words=[0, 0])) for i in range(50)]
    with alarm(10), pytest.raises(ContainerError, match="max-output"):
        decode(seal(head, frames, 50 * MAX_FRAME_SYMBOLS, bytes(16)), ONE_CORE, limits=LIMITS)
    with (
        alarm(10),
        pytest.raises(ContainerError, match=r"max-output|more than"),
    ):  # a pipe: checked frame by frame
        from genzip.container import decode_stream

        decode_stream(
            cast(IO[bytes], _Pipe(seal(head, frames, 5, bytes(16)))), io.BytesIO(), ONE_CORE, limits=LIMITS
        )


class _Pipe(io.RawIOBase):
    """A non-seekable source, as stdin is."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self.data.read(min(len(buffer), 7))  # short reads, as pipes give
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_pipe_decodes_like_a_file() -> None:
    from genzip.container import decode_stream

    for name, blob in BASES.items():
        sink = io.BytesIO()
        decode_stream(io.BufferedReader(_Pipe(blob)), sink, ONE_CORE, limits=LIMITS)
        assert sink.getvalue() == ORIGINALS[name]
        assert read_header(blob)[0].length == len(ORIGINALS[name])


def test_words_the_model_cannot_produce_are_a_container_error() -> None:
    head, _, end = split(BASES["whole"])
    garbage = frame_bytes(RawFrame(flags=0, counts=[300], words=np.full(40, 0xFFFFFFFF).tolist()))
    with pytest.raises(ContainerError):
        decode(seal(head, [garbage], 300, end[9:25]), ONE_CORE, limits=LIMITS)


def test_header_text_in_errors_stays_on_one_line() -> None:
    """Found by the fuzzer: a fingerprint key with a newline once split the error message."""
    fields = {**header_fields(BASES["whole"]), "fingerprint": {"\nkey": False}}
    _, frames, end = split(BASES["whole"])
    with pytest.raises(ContainerError) as caught:
        decode(seal(header_bytes(fields), frames, len(DATA), end[9:25]), ONE_CORE, limits=LIMITS)
    assert "\n" not in str(caught.value) and "\\nkey" in str(caught.value)
