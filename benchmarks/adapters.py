"""Speed of the code-length adapter: predicted bytes per second, genzip vs the naive baseline.

For each compressor at a 2048-byte context, in the same run:
  naive      compress context+b from scratch with the library's one-shot call, for each of
             the 256 bytes b, in one process (the obvious implementation of the paper's adapter)
  genzip     genzip's adapter with the default spec and with the paper's
             formula (adapter=paper), through `distributions()` (the encoder/score path,
             positions split over --jobs processes) and through `distribution()` in one process
and the ratio genzip / naive. Slow compressors get fewer positions (brotli-11 is ~1 s per byte).

    .venv/bin/python benchmarks/adapters.py [--jobs N] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import os
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import genzip
import genzip.corpus
from genzip.chunks import DEFAULT_CHUNK_BYTES

CONTEXT = DEFAULT_CHUNK_BYTES


def _naive_calls() -> dict[str, Callable[[bytes], bytes]]:
    import brotli
    import pyppmd
    import zstandard

    zstd = zstandard.ZstdCompressor(level=19)
    return {
        "gzip": lambda d: gzip.compress(d, compresslevel=9, mtime=0),
        "zlib": lambda d: zlib.compress(d, 9),
        "bz2": lambda d: bz2.compress(d, 9),
        "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, preset=9),
        "zstd": zstd.compress,
        "brotli": lambda d: brotli.compress(d, quality=11),
        "ppmd": lambda d: pyppmd.compress(d, max_order=6, mem_size=16 << 20),
    }


#: (positions for the naive baseline, positions for genzip's adapter)
POSITIONS = {
    "gzip": (8, 96),
    "zlib": (8, 96),
    "bz2": (2, 16),
    "lzma": (1, 32),
    "zstd": (2, 16),
    "brotli": (1, 4),
    "ppmd": (1, 8),
}


def naive_rate(compress: Callable[[bytes], bytes], data: bytes, positions: int) -> float:
    start = time.perf_counter()
    for pos in range(CONTEXT, CONTEXT + positions):
        ctx = data[pos - CONTEXT : pos]
        lengths = np.array([8 * len(compress(ctx + bytes([b]))) for b in range(256)], dtype=np.float64)
        p = np.exp2(-(lengths - lengths.min()))
        p /= p.sum()
    return positions / (time.perf_counter() - start)


def batched_rate(spec: str, data: bytes, positions: int, jobs: int) -> float:
    predictor = genzip.predictor(spec, jobs=jobs)
    predictor.reset(data[:CONTEXT])
    symbols = np.frombuffer(data[CONTEXT : CONTEXT + positions], dtype=np.uint8).astype(np.int64)
    predictor.distributions(symbols[: min(2, positions)])  # start the worker processes outside the timing
    predictor.reset(data[:CONTEXT])
    start = time.perf_counter()
    predictor.distributions(symbols)
    rate = positions / (time.perf_counter() - start)
    predictor.close()
    return rate


def stepping_rate(spec: str, data: bytes, positions: int) -> float:
    predictor = genzip.predictor(spec, jobs=1)
    predictor.reset(data[:CONTEXT])
    start = time.perf_counter()
    for s in data[CONTEXT : CONTEXT + positions]:
        predictor.distribution()
        predictor.observe(s)
    return positions / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes for the batched path"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of positions measured")
    parser.add_argument("--compressors", default=",".join(POSITIONS))
    args = parser.parse_args()
    data = genzip.corpus.text(CONTEXT + 400, 100000)
    calls = _naive_calls()
    print(
        f"# predicted bytes/s at context {CONTEXT}; {os.cpu_count()} CPUs, batched path jobs={args.jobs}; "
        "shared machine: indicative"
    )
    header = (
        "compressor",
        "naive 1 proc",
        "default batched",
        "default 1 proc",
        "paper batched",
        "paper 1 proc",
        "default batched / naive",
        "default 1 proc / naive",
    )
    print(" | ".join(header))
    for name in args.compressors.split(","):
        n_naive, n_adapter = (max(1, round(k * args.scale)) for k in POSITIONS[name])
        naive = naive_rate(calls[name], data, n_naive)
        bits_b = batched_rate(name, data, n_adapter, args.jobs)
        bits_1 = stepping_rate(name, data, max(1, n_adapter // 4))
        bytes_b = batched_rate(f"{name}:adapter=paper", data, n_adapter, args.jobs)
        bytes_1 = stepping_rate(f"{name}:adapter=paper", data, max(1, n_adapter // 4))
        print(
            f"{name} | {naive:.2f} | {bits_b:.2f} | {bits_1:.2f} | {bytes_b:.2f} | {bytes_1:.2f} | "
            f"{bits_b / naive:.1f}x | {bits_1 / naive:.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
