"""Coverage-guided fuzzing of the container decoder with atheris (libFuzzer), for long runs.

    pip install -e '.[fuzz]'
    PYTHONPATH=. python fuzz/fuzz_container.py -max_total_time=3600 -timeout=10 [-runs=N] [corpus_dir]

Each input is turned into a container one of three ways: taken as it is
(the crc32s then stop nearly everything), as a header JSON sealed with valid
crc32s in front of a real container's frames, or as a real header followed by
frames built from the input, all sealed. The decoder may refuse with a
`ContainerError` or decode correctly; any other exception is a crash, a run
past `-timeout` a hang, and RSS past `-rss_limit_mb` a memory blow-up.
The suite runs the same idea with hypothesis (tests/test_container_fuzz.py).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import genzip.corpus
    from genzip.container import Limits, decode, encode
    from genzip.errors import ContainerError
    from genzip.predictor import RuntimeOptions
    from genzip.registry import build

from tests.containers import RawFrame, frame_bytes, seal, split

ONE_CORE = RuntimeOptions(jobs=1, device="cpu")
LIMITS = Limits(max_output=4096, max_model_memory=1 << 26)
DATA = genzip.corpus.text(300, offset=4000)
with build("order:k=2,memory=65536", ONE_CORE) as _predictor:
    BASES = [
        encode(DATA, _predictor),
        encode(DATA, _predictor, chunk_size=64),
        encode(b"", _predictor, chunk_size=64),
    ]


def container(data: bytes) -> bytes:
    """One container from the fuzzer's bytes (see the module docstring)."""
    fdp = atheris.FuzzedDataProvider(data)
    mode, base = fdp.ConsumeIntInRange(0, 2), BASES[fdp.ConsumeIntInRange(0, len(BASES) - 1)]
    head, frames, end = split(base)
    if mode == 0:
        return fdp.ConsumeBytes(fdp.remaining_bytes())
    if mode == 1:
        text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 2000))
        return seal_end(_json_header(text) + b"".join(frames) + end)
    built = []
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        built.append(
            frame_bytes(
                RawFrame(
                    flags=fdp.ConsumeIntInRange(0, 3),
                    counts=fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 4), 0, 2**32 - 1),
                    words=fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 16), 0, 2**32 - 1),
                )
            )
        )
    return seal(head, built, fdp.ConsumeIntInRange(0, 2**64 - 1), fdp.ConsumeBytes(16).ljust(16, b"\0"))


def _json_header(text: str) -> bytes:
    """A header record whose JSON is the fuzzer's text (not necessarily JSON at all), correctly sealed."""
    import struct
    import zlib

    from genzip.container.format import MAGIC, PREFIX, deflate

    head = deflate(text.encode("utf-8", "surrogatepass"))
    prefix = PREFIX.pack(MAGIC, 2, len(head)) + head
    return prefix + struct.pack("<I", zlib.crc32(prefix))


def seal_end(body_with_end: bytes) -> bytes:
    import struct
    import zlib

    return body_with_end + struct.pack("<I", zlib.crc32(body_with_end))


def test_one_input(data: bytes) -> None:
    try:
        out = decode(container(data), ONE_CORE, limits=LIMITS)
    except ContainerError as exc:
        if "\n" in str(exc):
            raise AssertionError("a ContainerError message spans several lines") from exc
        return
    if out != DATA and out != b"":
        raise AssertionError("a container decoded to bytes that are not its original")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
