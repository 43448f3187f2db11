"""Shared fixtures: real text from the shipped corpus, torture inputs for round trips."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import genzip.corpus
from genzip.predictor import SequencePredictor

# numba kernels compile once and are cached next to the package
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "numba"))


@pytest.fixture(scope="session")
def text() -> bytes:
    """A few KB of real English text (Moby-Dick)."""
    return genzip.corpus.text(3000, offset=20000)


def torture_inputs() -> dict[str, bytes]:
    """The inputs every coder round trip must survive."""
    rng = np.random.default_rng(7)
    return {
        "empty": b"",
        "one byte": b"\x00",
        "one high byte": b"\xff",
        "all 256 values": bytes(range(256)),
        "long run": b"a" * 200,
        "random": rng.integers(0, 256, 128, dtype=np.uint8).tobytes(),
        "real text": genzip.corpus.text(200, offset=1000),
        "invalid utf-8": b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc",
    }


def rewrite_header(blob: bytes, **changes: object) -> bytes:
    """The same container with header fields replaced and valid crc32s, so only the check under test can object."""
    from .containers import rewrite_header as rewrite

    return rewrite(blob, **changes)


def assert_batched_equals_stepping(
    predictor: SequencePredictor, symbols: np.ndarray, context: bytes = b""
) -> np.ndarray:
    """The coding contract: after `reset(context)`, the rows of `distributions(symbols)` (the encoder's
    path) are bit-identical to stepping `distribution()`/`observe()` (the decoder's path) on a fork, and
    both paths end in the same state. Returns the rows."""
    predictor.reset(context)
    stepper = predictor.fork()
    rows = predictor.distributions(symbols)
    for i, s in enumerate(np.asarray(symbols).tolist()):
        assert np.array_equal(stepper.distribution(), rows[i]), f"row {i} differs from stepping"
        stepper.observe(s)
    assert np.array_equal(stepper.distribution(), predictor.distribution())
    return rows
