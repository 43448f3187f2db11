"""The coder and its container: lossless round trips, and every bad container rejected."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genzip
import genzip.corpus
from genzip.coder import FORMAT_VERSION, MAGIC, read_header
from genzip.container.format import FRAME
from genzip.errors import ContainerError, ModelMismatchError

from .conftest import rewrite_header, torture_inputs
from .containers import split

TORTURE = torture_inputs()
#: every registered real compressor with its default adapter; brotli at a low quality and short context,
#: and the heavily dithered defaults at dither=2, keep it fast
COMPRESSOR_SPECS = [
    "gzip",
    "zlib",
    "bz2:dither=2",
    "lzma:dither=2",
    "zstd:dither=2",
    "brotli:quality=4,context=64",
    "ppmd:dither=2",
]


@pytest.mark.parametrize("spec", COMPRESSOR_SPECS)
@pytest.mark.parametrize("name", sorted(TORTURE))
def test_round_trip_every_compressor(spec: str, name: str) -> None:
    data = TORTURE[name]
    predictor = genzip.predictor(spec, jobs=1)
    blob = genzip.compress(data, predictor)
    assert genzip.decompress(blob, jobs=1) == data


def test_round_trip_chunked(text: bytes) -> None:
    data = text[:700]
    blob = genzip.compress(data, genzip.predictor("zstd:level=3", jobs=1), chunk_size=256)
    header, _ = read_header(blob)
    assert header.chunk_size == 256 and header.symbol_counts == [256, 256, 188]
    assert genzip.decompress(blob, jobs=1) == data


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=120))
def test_round_trip_property(data: bytes) -> None:
    blob = genzip.compress(data, genzip.predictor("zlib:context=32", jobs=1))
    assert genzip.decompress(blob, jobs=1) == data


def test_code_length_close_to_ideal(text: bytes) -> None:
    """The payload is within 2% of the ideal code length: constriction quantises to 24 bits,
    so a byte the predictor gives less than 2^-24 costs at most ~24 bits, which can even
    make the payload a little shorter than the ideal."""
    data = text[:600]
    predictor = genzip.predictor("zstd:level=3", jobs=1)
    ideal = genzip.score(data, predictor).total_bits
    payload_bits = 32 * len(read_header(genzip.compress(data, predictor))[1])
    predictor.close()
    assert abs(payload_bits - ideal) <= 0.02 * ideal + 64


def test_header_records_spec_and_checksum(text: bytes) -> None:
    predictor = genzip.predictor("zlib:level=6", jobs=1)
    blob = genzip.compress(text[:50], predictor)
    header, _ = read_header(blob)
    assert header.spec == predictor.spec and header.spec.startswith("zlib:level=6,context=2048")
    assert header.length == 50
    assert blob[:4] == MAGIC and blob[4] == FORMAT_VERSION


def _reseal(body: bytes) -> bytes:
    """Fix the trailing crc32 so a deliberately edited container passes the integrity check."""
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.fixture(scope="module")
def blob() -> bytes:
    return genzip.compress(b"the quick brown fox jumps over the lazy dog", genzip.predictor("zlib", jobs=1))


def test_wrong_magic(blob: bytes) -> None:
    with pytest.raises(ContainerError, match="wrong magic"):
        genzip.decompress(b"XXXX" + blob[4:])


def test_unknown_version(blob: bytes) -> None:
    with pytest.raises(ContainerError, match="version 99"):
        genzip.decompress(_reseal(blob[:4] + bytes([99]) + blob[5:-4]))


@pytest.mark.parametrize("cut", [1, 4, 5, 20])
def test_truncated(blob: bytes, cut: int) -> None:
    with pytest.raises(ContainerError):
        genzip.decompress(blob[:-cut])


def test_too_short() -> None:
    with pytest.raises(ContainerError, match="too short"):
        genzip.decompress(b"GZ")


@pytest.mark.parametrize("position", [6, 12, 30, -6, -1])
def test_flipped_byte(blob: bytes, position: int) -> None:
    corrupted = bytearray(blob)
    corrupted[position] ^= 0x40
    with pytest.raises(ContainerError):
        genzip.decompress(bytes(corrupted))


def test_unknown_predictor(blob: bytes) -> None:
    header, _ = read_header(blob)
    with pytest.raises(ContainerError, match="unknown predictor"):
        genzip.decompress(rewrite_header(blob, spec=header.spec.replace("zlib:", "nope:")))


def test_header_that_is_not_deflate(blob: bytes) -> None:
    junk = b"not deflate at all"
    body = struct.pack("<4sBI", MAGIC, FORMAT_VERSION, len(junk)) + junk
    with pytest.raises(ContainerError, match="header is not valid"):
        genzip.decompress(_reseal(body))


@pytest.mark.parametrize("word", [0, 3, -1])
def test_payload_edit_is_refused(blob: bytes, word: int) -> None:
    """A payload word edited and every crc32 resealed: the decoder refuses it (checksum, or words the model rejects)."""
    head, frames, end = split(blob)
    raw = bytearray(frames[0][:-4])
    _, _, packed_len, n_words = FRAME.unpack_from(raw, 1)
    raw[1 + FRAME.size + packed_len + 4 * (word % n_words)] ^= 0x5A
    frames[0] = bytes(raw) + struct.pack("<I", zlib.crc32(bytes(raw)))
    edited = _reseal(head + b"".join(frames) + end)
    with pytest.raises(ContainerError, match=r"checksum|payload"):
        genzip.decompress(edited)


def test_fingerprint_mismatch_is_reported(blob: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from genzip.compressors import ZlibPredictor

    monkeypatch.setattr(ZlibPredictor, "fingerprint", lambda self: {"weights": "other"})
    with pytest.raises(ModelMismatchError, match="weights"):
        genzip.decompress(blob)


def test_all_errors_share_one_base() -> None:
    assert issubclass(ContainerError, genzip.GenzipError)
    assert issubclass(ModelMismatchError, ContainerError)


def test_distributions_are_proper() -> None:
    predictor = genzip.predictor("bz2", jobs=1)
    predictor.reset(b"abracadabra")
    probs = predictor.distributions(np.frombuffer(b"cad", dtype=np.uint8).astype(np.int64))
    assert probs.shape == (3, 256) and (probs > 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_header_stays_small_with_many_chunks() -> None:
    """Per-chunk symbol counts are deflated: 256 chunks cost a few bytes, not ~1.3 KB of JSON."""
    data = genzip.corpus.text(256 * 256)
    blob = genzip.compress(data, genzip.predictor("order", jobs=1), chunk_size=256)
    header, payload = read_header(blob)
    assert len(header.symbol_counts) == 256
    header_bytes = len(blob) - 4 * len(payload) - 4 - 9
    assert header_bytes < 300
    assert genzip.decompress(blob) == data


# --- limits, streaming and the CLI's compress/decompress -------------------------------------------------------------

ORDER = "order:k=2,memory=65536"


def test_max_output_refuses_a_larger_container(text: bytes) -> None:
    blob = genzip.compress(text[:500], genzip.predictor(ORDER, jobs=1), chunk_size=100)
    assert genzip.decompress(blob, max_output=500) == text[:500]
    with pytest.raises(ContainerError, match="max-output"):
        genzip.decompress(blob, max_output=499)


def test_max_memory_refuses_a_greedy_spec(blob: bytes) -> None:
    with pytest.raises(ContainerError, match="max-memory"):
        genzip.decompress(rewrite_header(blob, spec="ppm:order=5,memory=1099511627776"))
    with pytest.raises(ContainerError, match="max-memory"):
        genzip.decompress(rewrite_header(blob, spec=ORDER), max_memory=1000)


def test_format_1_is_still_read_and_checked(text: bytes) -> None:
    """A format 1 container (one record) with its header edited is refused by the same schema."""
    from .containers import seal_v1

    fingerprint = genzip.predictor(ORDER, jobs=1).fingerprint()
    fields = {
        "spec": ORDER,
        "fingerprint": fingerprint,
        "length": 10,
        "checksum": "0" * 32,
        "chunk_size": None,
        "symbol_counts": [10],
        "batch_size": None,
        "genzip_version": "0.1.0",
    }
    with pytest.raises(ModelMismatchError, match="checksum"):
        genzip.decompress(seal_v1(fields, b"\x00" * 8))
    cases: list[tuple[dict[str, object], str]] = [
        ({"symbol_counts": [9]}, "byte-level"),
        ({"length": 11}, r"chunks|byte-level"),
        ({"symbol_counts": [10, 0]}, "chunks"),
        ({"chunk_size": True}, "chunk_size"),
        ({"spec": 7}, "spec"),
        ({"extra": 1}, "unknown field"),
        ({"checksum": "x"}, "checksum"),
    ]
    for change, fragment in cases:
        with pytest.raises(ContainerError, match=fragment):
            genzip.decompress(seal_v1({**fields, **change}, b"\x00" * 8))


@pytest.fixture
def small_frames(monkeypatch: pytest.MonkeyPatch) -> int:
    """Frames of 64 symbols, so that multi-frame streams (continued chunks, whole files) are cheap to test."""
    import genzip.container.encoding as encoding

    monkeypatch.setattr(encoding, "FRAME_SYMBOLS", 64)
    return 64


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=400), chunk=st.one_of(st.none(), st.integers(1, 200)))
def test_multi_frame_round_trip(data: bytes, chunk: int | None) -> None:
    import genzip.container.encoding as encoding

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encoding, "FRAME_SYMBOLS", 64)
        blob = genzip.compress(data, genzip.predictor(ORDER, jobs=1), chunk_size=chunk)
    header, _ = read_header(blob)
    size = chunk or max(len(data), 1)
    assert header.symbol_counts == [len(data[i : i + size]) for i in range(0, len(data), size)] or [0]
    assert genzip.decompress(blob) == data


def test_frames_bound_the_encoder(small_frames: int, text: bytes) -> None:
    """A whole file of 1000 bytes is 16 frames of at most 64 symbols, each continuing the one chunk."""
    from .containers import split

    blob = genzip.compress(text[:1000], genzip.predictor(ORDER, jobs=1))
    _, frames, _ = split(blob)
    assert len(frames) == 16 and [f[1] for f in frames] == [0] + [1] * 15
    assert genzip.decompress(blob) == text[:1000]


def test_cli_streams_through_pipes_and_limits_output(tmp_path: Path, text: bytes) -> None:
    from .test_cli import assert_one_line_error
    from .test_cli import genzip as run

    packed = run("compress", "-", "-o", "-", "-c", ORDER, "--chunk", "256", "--verify", "-j", "1", stdin=text)
    assert packed.returncode == 0, packed.stderr
    assert run("decompress", "-", "-o", "-", "-j", "1", stdin=packed.stdout).stdout == text
    out = tmp_path / "out.txt"
    assert_one_line_error(
        run("decompress", "-", "-o", str(out), "--max-output", "1k", stdin=packed.stdout), "max-output"
    )
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert_one_line_error(
        run("decompress", "-", "-o", str(out), "--max-output", "lots", stdin=b""), "--max-output"
    )
    assert "default: 4g" in run("decompress", "--help").stdout.decode().replace("\n", " ")


def test_cli_leaves_no_output_when_the_last_frame_is_bad(
    tmp_path: Path, small_frames: int, text: bytes
) -> None:
    from .containers import seal, split
    from .test_cli import assert_one_line_error
    from .test_cli import genzip as run

    head, frames, end = split(genzip.compress(text[:600], genzip.predictor(ORDER, jobs=1)))
    bad = tmp_path / "bad.gzpk"
    bad.write_bytes(seal(head, frames[:-1] + frames[-1:] * 2, 600, end[9:25]))  # one frame too many
    out = tmp_path / "out.txt"
    assert_one_line_error(run("decompress", str(bad), "-o", str(out)), "container")
    assert not out.exists()
