"""Peak memory of streamed `genzip compress` / `genzip decompress` on files far larger than a chunk.

    PYTHONPATH=. python benchmarks/container_memory.py --mib 256 --spec order
    PYTHONPATH=. python benchmarks/container_memory.py --mib 16 64 --spec order ppm

For each size, a file is generated from the shipped texts (Moby-Dick and the
Jargon File, each repetition perturbed: its lines rotated and a seeded 1% of
its bytes replaced, so a context model never sees the same repeat twice),
compressed and decompressed by the CLI in fresh processes under
`/usr/bin/time -v`, compared with the original, and deleted. The baseline in
the same run is the peak RSS of a process that only builds the predictor and
codes 64 KiB: what is left above it is what the file's size costs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import genzip.corpus


def make_input(path: Path, n_bytes: int, seed: int = 0) -> None:
    """Write `n_bytes` of perturbed repetitions of the shipped texts, block by block."""
    rng = np.random.default_rng(seed)
    texts = [genzip.corpus.text(name=name) for name in sorted(genzip.corpus.TEXTS)]
    written = 0
    with path.open("wb") as out:
        while written < n_bytes:
            lines = texts[rng.integers(len(texts))].split(b"\n")
            cut = int(rng.integers(len(lines)))
            block = np.frombuffer(b"\n".join(lines[cut:] + lines[:cut]), dtype=np.uint8).copy()
            where = rng.random(len(block)) < 0.01
            block[where] = rng.integers(32, 127, int(where.sum()), dtype=np.uint8)
            piece = block[: n_bytes - written].tobytes()
            out.write(piece)
            written += len(piece)


def measured(command: list[str]) -> tuple[float, float]:
    """Run `command` under /usr/bin/time -v; return (peak RSS in MiB, wall seconds)."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{result.stderr[-2000:]}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))  # type: ignore[union-attr]
    return rss_kib / 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, nargs="+", default=[256], help="input sizes in MiB")
    parser.add_argument("--spec", nargs="+", default=["order", "ppm"], help="predictor specs")
    parser.add_argument("--chunk", type=int, default=None, help="--chunk for compress (default: whole file)")
    args = parser.parse_args()
    python = [sys.executable, "-m", "genzip"]
    env_note = (
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (a shared, loaded machine)"
    )
    print(f"container_memory: peak RSS of streamed compress/decompress; {env_note}")
    print(
        f"{'spec':<8} {'MiB':>6} {'container MiB':>14} {'baseline RSS':>13} {'compress RSS':>13} {'decompress RSS':>15}"
        f" {'compress s':>11} {'decompress s':>13} {'round trip':>10}"
    )
    with tempfile.TemporaryDirectory(prefix="genzip-memory-") as folder:
        tmp = Path(folder)
        original, packed, restored, small = (
            tmp / "in.txt",
            tmp / "in.gzpk",
            tmp / "out.txt",
            tmp / "small.txt",
        )
        make_input(small, 64 << 10, seed=1)
        for mib in args.mib:
            make_input(original, mib << 20)
            for spec in args.spec:
                chunk = ["--chunk", str(args.chunk)] if args.chunk else []
                base_rss, _ = measured(
                    [*python, "compress", str(small), "-o", str(packed), "-c", spec, "-j", "1", *chunk]
                )
                enc_rss, enc_s = measured(
                    [*python, "compress", str(original), "-o", str(packed), "-c", spec, "-j", "1", *chunk]
                )
                dec_rss, dec_s = measured(
                    [*python, "decompress", str(packed), "-o", str(restored), "-j", "1"]
                )
                same = (
                    subprocess.run(["cmp", "-s", str(original), str(restored)], check=False).returncode == 0
                )
                print(
                    f"{spec:<8} {mib:>6} {packed.stat().st_size / 2**20:>14.1f} {base_rss:>10.0f} MiB {enc_rss:>9.0f} MiB"
                    f" {dec_rss:>11.0f} MiB {enc_s:>11.0f} {dec_s:>13.0f} {'identical' if same else 'DIFFERS':>10}",
                    flush=True,
                )
                restored.unlink(missing_ok=True)
            original.unlink()


if __name__ == "__main__":
    main()
