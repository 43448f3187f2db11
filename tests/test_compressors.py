"""The code-length adapter: lengths equal the real libraries', distributions are proper."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from pathlib import Path
from typing import Any

import brotli
import numpy as np
import pyppmd
import pytest
import zstandard

import genzip
import genzip.corpus
from genzip.adapter import CodeLengthPredictor
from genzip.adapter.evidence import MAX_GAP_BITS, probabilities_from_lengths

from .conftest import assert_batched_equals_stepping

CONTEXT = b"It was the best of times, it was the worst of times, it was the age of "

REFERENCE = {
    "gzip": lambda d: gzip.compress(d, compresslevel=9, mtime=0),
    "gzip:level=1": lambda d: gzip.compress(d, compresslevel=1, mtime=0),
    "zlib": lambda d: zlib.compress(d, 9),
    "bz2": lambda d: bz2.compress(d, 9),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, preset=9),
    "zstd:level=19": lambda d: zstandard.ZstdCompressor(level=19).compress(d),
    "zstd:level=3": lambda d: zstandard.ZstdCompressor(level=3).compress(d),
    "brotli:quality=5": lambda d: brotli.compress(d, quality=5),
    "ppmd:order=6": lambda d: pyppmd.compress(d, max_order=6, mem_size=16 << 20),
}


def adapter(spec: str) -> CodeLengthPredictor:
    """A compressor predictor built from `spec`, in this process, typed as the adapter it is."""
    predictor = genzip.predictor(spec, jobs=1)
    assert isinstance(predictor, CodeLengthPredictor)
    return predictor


@pytest.mark.parametrize("spec", sorted(REFERENCE))
def test_compressed_size_equals_library(spec: str) -> None:
    predictor = genzip.predictor(spec, jobs=1)
    for data in (b"", b"x", CONTEXT, bytes(range(256)) * 3):
        assert predictor.compressed_size(data) == len(REFERENCE[spec](data))


@pytest.mark.parametrize("spec", ["gzip", "zlib", "zstd:level=3", "bz2", "ppmd:order=6"])
def test_candidate_lengths_equal_library(spec: str) -> None:
    lengths = adapter(spec).candidate_lengths(CONTEXT)
    expected = [8 * len(REFERENCE[spec](CONTEXT + bytes([b]))) for b in range(256)]
    assert lengths.tolist() == expected


def test_distribution_is_the_papers_formula() -> None:
    """adapter=paper is the paper's formula exactly."""
    predictor = genzip.predictor("gzip:adapter=paper", jobs=1)
    predictor.reset(CONTEXT)
    probs = predictor.distribution()
    lengths = np.array([8 * len(REFERENCE["gzip"](CONTEXT + bytes([b]))) for b in range(256)], dtype=float)
    expected = 2.0 ** -(lengths - lengths.min())
    np.testing.assert_allclose(probs, expected / expected.sum(), rtol=1e-12)
    assert probs.dtype == np.float64 and probs.shape == (256,)
    assert (probs > 0).all() and abs(probs.sum() - 1) < 1e-12


def test_context_window_cuts_history() -> None:
    narrow = genzip.predictor("zlib:context=8", jobs=1)
    narrow.reset(b"ignored prefix " + b"12345678")
    alone = genzip.predictor("zlib:context=8", jobs=1)
    alone.reset(b"12345678")
    assert np.array_equal(narrow.distribution(), alone.distribution())


def test_huge_length_gaps_keep_every_symbol_codable() -> None:
    probs = probabilities_from_lengths(np.array([0, 5000] + [8] * 254))
    assert (probs > 0).all() and np.isfinite(np.log2(probs)).all()
    assert probs[1] < probs[2] * 2.0 ** -(MAX_GAP_BITS - 20)


@pytest.mark.parametrize("jobs", [1, 2])
def test_batched_distributions_bit_identical_to_stepping(jobs: int) -> None:
    data = genzip.corpus.text(40, offset=500)
    predictor = genzip.predictor("gzip", jobs=jobs)
    assert_batched_equals_stepping(
        predictor, np.frombuffer(data, dtype=np.uint8).astype(np.int64), b"prefix "
    )
    predictor.close()


def test_fork_is_independent() -> None:
    predictor = genzip.predictor("zlib", jobs=1)
    predictor.reset(b"abcabcabc")
    twin = predictor.fork()
    twin.observe(ord("z"))
    fresh = genzip.predictor("zlib", jobs=1)
    fresh.reset(b"abcabcabc")
    assert np.array_equal(predictor.distribution(), fresh.distribution())
    assert not np.array_equal(twin.distribution(), fresh.distribution())


def test_score_reports_native_size(text: bytes) -> None:
    data = text[:300]
    result = genzip.score(data, genzip.predictor("zstd:level=3", jobs=1))
    assert result.native_bytes == len(zstandard.ZstdCompressor(level=3).compress(data))
    assert result.symbol_bits.shape == (300,)
    assert result.total_bits == pytest.approx(result.symbol_bits.sum())
    assert result.bits_per_byte == pytest.approx(result.total_bits / 300)


@pytest.mark.parametrize("preset", [0, 6, 9])
def test_lzma_lengths_equal_library_across_sizes(preset: int) -> None:
    predictor = genzip.predictor(f"lzma:preset={preset}", jobs=1)
    text = genzip.corpus.text(9000)
    for n in (0, 1, 4095, 4096, 4097, 9000):
        assert predictor.compressed_size(text[:n]) == len(lzma.compress(text[:n], preset=preset))


@pytest.mark.parametrize("spec", ["zlib", "zstd:level=3,lookahead=4,dither=2"])
def test_few_positions_split_candidates_over_workers_bit_identically(spec: str) -> None:
    symbols = np.frombuffer(b"whale", dtype=np.uint8).astype(np.int64)
    single, split = genzip.predictor(spec, jobs=1), genzip.predictor(spec, jobs=2)
    for p in (single, split):
        p.reset(b"Call me Ishmael. The whale, the whale")
    assert np.array_equal(single.distributions(symbols), split.distributions(symbols))
    split.close()


def test_ppmd_is_only_called_in_workers_that_get_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyppmd leaks each encoder's model (~7 KB a call): the calling process never runs it, and the
    workers are replaced after a call budget, with the same distributions as computing in-process."""
    import os

    from genzip import workers
    from genzip.adapter import dispatch
    from genzip.compressors import PpmdPredictor

    parent = os.getpid()
    real_compress = pyppmd.compress

    def compress_in_workers_only(*args: Any, **kwargs: Any) -> bytes:
        assert os.getpid() != parent, "pyppmd called in the predictor's own process"
        return real_compress(*args, **kwargs)

    pools: list[object] = []
    real_pool = workers.ProcessPoolExecutor

    def counting_pool(*args: Any, **kwargs: Any) -> object:
        pools.append(real_pool(*args, **kwargs))
        return pools[-1]

    data = np.frombuffer(CONTEXT[:24], dtype=np.uint8).astype(np.int64)
    reference = genzip.predictor("ppmd:order=4,adapter=paper", jobs=1)
    monkeypatch.setattr(PpmdPredictor, "LEAKS_MEMORY", False)
    reference.reset(b"the ")
    expected = reference.distributions(data)
    monkeypatch.undo()

    monkeypatch.setattr(pyppmd, "compress", compress_in_workers_only)
    monkeypatch.setattr(workers, "ProcessPoolExecutor", counting_pool)
    monkeypatch.setattr(dispatch, "LEAKY_CALLS_PER_WORKER", 3 * 256)  # 3 positions per batch
    predictor = genzip.predictor("ppmd:order=4,adapter=paper", jobs=1)
    predictor.reset(b"the ")
    assert np.array_equal(predictor.distributions(data), expected)  # 24 positions: 8 batches
    predictor.reset(b"the ")
    assert np.array_equal(predictor.distribution(), expected[0])  # a single position, in a worker too
    predictor.close()
    assert len(pools) >= 8


def test_ppmd_in_compare_workers_exits_cleanly(tmp_path: Path) -> None:
    """A ppmd predictor kept alive in a `genzip compare` worker has its own worker pool, which is shut
    down when that worker exits (multiprocessing skips atexit hooks there: this used to hang)."""
    import json
    import subprocess
    import sys

    text = tmp_path / "text.txt"
    text.write_bytes(CONTEXT * 2)
    out = tmp_path / "out.json"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from genzip.cli import main; main()",
            "compare",
            str(text),
            "-c",
            "ppmd:order=4,adapter=paper",
            "--chunk",
            "48",
            "--jobs",
            "2",
            "--json",
            str(out),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    reported = json.loads(out.read_text())
    predictor = genzip.predictor("ppmd:order=4,adapter=paper", jobs=1)
    chunks = [(CONTEXT * 2)[i : i + 48] for i in range(0, 2 * len(CONTEXT), 48)]
    expected = sum(genzip.score(c, predictor).total_bits for c in chunks)
    predictor.close()
    assert reported["results"][0]["total_bits"] == pytest.approx(expected, abs=1e-9)
