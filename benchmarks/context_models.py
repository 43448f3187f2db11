"""Speed and quality of genzip's context models next to real compressors, on the same text.

    .venv/bin/python benchmarks/context_models.py            # 1 MiB of Moby-Dick, cold numba compile
    .venv/bin/python benchmarks/context_models.py --warm     # reuse numba's on-disk cache

Prints, per model: numba compile time (first call, kept apart from the
steady-state figures), scoring speed (p of the actual byte only), full
256-way distribution speed (`distributions`, what the encoder uses, and
`distribution`/`observe` stepping, what the decoder and sampler use), and
bits per byte; then the real compressors' bits per byte on the same bytes,
and the issue's targets as pass/fail. Speeds are single-core; both wall-clock
and process CPU time are shown because the machine may be shared (CPU time
is the fairer figure then, wall time the honest one).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(fn, *args):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, Timing(time.perf_counter() - w, time.process_time() - c)


def rate(n: int, t: Timing) -> str:
    def fmt(x: float) -> str:
        return f"{x / 1e6:.2f} MB/s" if x >= 1e6 else f"{x / 1e3:.0f} KB/s"

    return f"{fmt(n / t.cpu)} cpu, {fmt(n / t.wall)} wall"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=int, default=1 << 20, help="bytes of Moby-Dick to use (default 1 MiB)")
    parser.add_argument("--warm", action="store_true", help="use numba's on-disk cache instead of compiling")
    parser.add_argument("--dist-bytes", type=int, default=1 << 17, help="bytes for the full-distribution timing")
    args = parser.parse_args()
    if not args.warm:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="genzip-numba-")

    import genzip
    from genzip.corpus import text

    data = text(args.bytes)
    symbols = np.frombuffer(data, dtype=np.uint8)
    n = len(data)
    load = os.getloadavg()
    print(f"genzip context models on {n} bytes of Moby-Dick; python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} (shared machine: compare CPU-time figures)")
    print()

    specs = ["order:k=3", "ppm:order=5", "ppm:order=6", "ctw", "ctw:alpha=0.0625"]
    results: dict[str, dict[str, float]] = {}
    for spec in specs:
        p = genzip.predictor(spec)
        _, compile_t = timed(
            lambda: (p.score(symbols[:64]), p.distributions(symbols[:8]), p.distribution(), p.observe(0))
        )
        p.reset()
        bits, score_t = timed(p.score, symbols)
        bpb = float(bits.sum()) / n
        memory, events = p.memory_bytes(), p.limit_events
        _, fork_t = timed(p.fork)
        m = min(args.dist_bytes, n)
        p.reset()

        def full() -> None:
            for start in range(0, m, 2048):
                p.distributions(symbols[start : start + 2048])

        _, dist_t = timed(full)
        steps = min(20000, n)
        p.reset()

        def step() -> None:
            for s in symbols[:steps].tolist():
                p.distribution()
                p.observe(s)

        _, step_t = timed(step)
        print(f"{p.spec}")
        print(f"  numba compile (first calls)   {compile_t.wall:6.2f} s")
        print(f"  scoring                       {rate(n, score_t)}")
        print(f"  full distributions (batched)  {rate(m, dist_t)}   [{m} bytes]")
        print(f"  distribution()+observe()      {rate(steps, step_t)}   [{steps} bytes, Python loop]")
        print(f"  after scoring: {memory / 2**20:.0f} MiB allocated, {events} memory-limit events, "
              f"fork() {fork_t.wall * 1e3:.0f} ms")
        print(f"  bits/byte                     {bpb:.4f}")
        print()
        results[spec] = {"bpb": bpb, "score": n / score_t.cpu, "dist": m / dist_t.cpu}

    import brotli
    import pyppmd
    import zstandard

    real = {
        "gzip -9": lambda d: gzip.compress(d, 9, mtime=0),
        "bz2 -9": lambda d: bz2.compress(d, 9),
        "xz -9": lambda d: lzma.compress(d, preset=9),
        "zstd -19": lambda d: zstandard.ZstdCompressor(level=19).compress(d),
        "brotli -q 11": lambda d: brotli.compress(d, quality=11),
        "ppmd order 5, 16 MiB": lambda d: pyppmd.compress(d, max_order=5, mem_size=16 << 20),
        "ppmd order 6, 16 MiB": lambda d: pyppmd.compress(d, max_order=6, mem_size=16 << 20),
    }
    print("bits/byte on the same bytes")
    rates = {}
    for name, fn in real.items():
        rates[name] = 8 * len(fn(data)) / n
    for name, value in sorted([*rates.items(), *((s, r["bpb"]) for s, r in results.items())], key=lambda x: x[1]):
        print(f"  {name:28s} {value:.4f}")
    print()

    ppm = min(results["ppm:order=5"]["bpb"], results["ppm:order=6"]["bpb"])
    ctw = results["ctw"]
    checks = [
        (f"ppm within 3% of ppmd order 6 ({ppm / rates['ppmd order 6, 16 MiB'] - 1:+.2%})",
         ppm <= 1.03 * rates["ppmd order 6, 16 MiB"]),
        ("ppm better than xz -9", ppm < rates["xz -9"]),
        ("ctw better than gzip -9 and bz2 -9", ctw["bpb"] < min(rates["gzip -9"], rates["bz2 -9"])),
        ("ppm:order=5 scoring >= 1 MB/s (cpu)", results["ppm:order=5"]["score"] >= 1e6),
        ("ppm:order=5 full distributions >= 200 KB/s (cpu)", results["ppm:order=5"]["dist"] >= 2e5),
        ("ctw scoring >= 200 KB/s (cpu)", ctw["score"] >= 2e5),
        ("ctw full distributions >= 50 KB/s (cpu)", ctw["dist"] >= 5e4),
        ("order:k=3 scoring >= 2 MB/s (cpu)", results["order:k=3"]["score"] >= 2e6),
    ]
    print("targets (issue 3)")
    for label, ok in checks:
        print(f"  [{'pass' if ok else 'FAIL'}] {label}")


if __name__ == "__main__":
    main()
