"""How good are compressors as predictors? The paper's adapter vs genzip's improvements.

For each compressor, on the same N bytes of `genzip.corpus.text`
with a 2048-byte context, prints bits/byte of
  own        the compressor's own marginal rate on those bytes: 8 (|C(ctx+text)| - |C(ctx)|) / N
             (it sees all the text before each byte, the predictors only the last 2048 bytes)
  own 2K     the same with the compressor's window cut to the predictors' 2048 bytes: each block
             of 64 bytes costs 8 (|C(w+block)| - |C(w)|) bits, w = the 2048 bytes before it
  paper      the paper's adapter (adapter=paper)
  bits       finest reachable code lengths (adapter=paper,resolution=bits)
  +calib     bits + calibrate=true
  +look16    bits + lookahead=16
  +both      bits + lookahead=16 + calibrate=true
and the time per predicted byte of each spec in one process (measured on a few
positions). All five rates come from one pass that measures every length once;
the pass is checked against `genzip.score` with the real specs on a prefix.

Slow compressors are scored on every S-th position of the same N bytes
(`--stride brotli=50`): each scored position still sees its full 2048-byte
context, so the mean is an unbiased estimate of the rate on all N bytes (its
standard error is printed); only the calibrated variants differ a little from
scoring every byte, as their online mixture is fitted on the scored positions
alone (fewer bytes to learn from, so if anything pessimistic). `own` is always
the compressor's rate on all N bytes.

The sample-quality table that used to be part 2 is `benchmarks/adapter_samples.py`.

    .venv/bin/python benchmarks/adapter_quality.py --bytes 20000 --jobs 16
    .venv/bin/python benchmarks/adapter_quality.py --compressors bz2 --stride bz2=20 \
        --extra-only --extra dither=4,lookahead=16,calibrate=true --extra dither=16,lookahead=16,calibrate=true
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import genzip
import genzip.corpus
from genzip.adapter import CodeLengthPredictor
from genzip.adapter.calibration import Calibrator
from genzip.adapter.dispatch import LEAKY_CALLS_PER_WORKER
from genzip.adapter.evidence import position_evidence, probabilities
from genzip.adapter.plan import calls_per_position
from genzip.chunks import DEFAULT_CHUNK_BYTES
from genzip.workers import WorkerPool

COMPRESSORS = ["gzip", "zstd", "lzma", "brotli", "bz2", "ppmd"]
VARIANTS = ["paper", "bits", "+calib", "+look16", "+both"]
HORIZON = 16
#: the paper's formula, and the same with exact lengths: the base each variant adds one option to
PAPER = "adapter=paper"
BITS = "adapter=paper,resolution=bits"
CONTEXT = DEFAULT_CHUNK_BYTES
#: block size of the windowed own rate
OWN_BLOCK = 64


def variant_spec(name: str, variant: str) -> str:
    return {
        "paper": f"{name}:{PAPER}",
        "bits": f"{name}:{BITS}",
        "+calib": f"{name}:{BITS},calibrate=true",
        "+look16": f"{name}:{BITS},lookahead={HORIZON}",
        "+both": f"{name}:{BITS},lookahead={HORIZON},calibrate=true",
    }[variant]


# --- part 1: rates -------------------------------------------------------------------

_PREDICTORS: dict[str, CodeLengthPredictor] = {}


def _predictor(spec: str) -> CodeLengthPredictor:
    if spec not in _PREDICTORS:
        p = genzip.predictor(spec, jobs=1)
        assert isinstance(p, CodeLengthPredictor)
        _PREDICTORS[spec] = p
    return _PREDICTORS[spec]


def _evidence_block(name: str, buffer: bytes, positions: list[int]) -> np.ndarray:
    """Evidence (paper, bits, lookahead) for the context ending before each position: (n, 3, 2, 256) int64."""
    paper = _predictor(f"{name}:{PAPER}")
    look = _predictor(f"{name}:{BITS},lookahead={HORIZON}")
    out = np.empty((len(positions), 3, 2, 256), dtype=np.int64)
    for row, pos in enumerate(positions):
        ctx = buffer[max(0, pos - CONTEXT) : pos]
        out[row, 0] = position_evidence(paper.candidate_lengths(ctx))
        plan = look.plan(ctx)
        lengths = look.code_lengths(ctx, plan.items)
        out[row, 1] = position_evidence(lengths[:256])
        out[row, 2] = position_evidence(lengths[:256], int(lengths[256]), plan.continuations, lengths[257:])
    return out


def all_evidence(name: str, buffer: bytes, positions: list[int], jobs: int) -> np.ndarray:
    """`_evidence_block` over blocks of the positions in `jobs` forked processes. For a library that leaks
    memory per call (pyppmd) the processes are replaced every LEAKY_CALLS_PER_WORKER calls."""
    leaks = _predictor(f"{name}:{BITS},lookahead={HORIZON}").LEAKS_MEMORY
    per_position = calls_per_position(0, 1) + calls_per_position(HORIZON, 1)
    batch = max(1, LEAKY_CALLS_PER_WORKER * jobs // per_position) if leaks else len(positions)
    pool = WorkerPool(jobs, LEAKY_CALLS_PER_WORKER if leaks else None)
    parts = []
    for start in range(0, len(positions), batch):
        chunk = positions[start : start + batch]
        blocks = [(name, buffer, b.tolist()) for b in np.array_split(np.array(chunk), jobs * 8) if len(b)]
        parts.extend(pool.run(_evidence_block, blocks, calls=len(chunk) * per_position))
    pool.shutdown()
    return np.concatenate(parts)


def code_lengths(evidence: np.ndarray, symbols: np.ndarray, calibrate: bool, lookahead: bool) -> np.ndarray:
    """-log2 p(symbol) per position, exactly as the predictor computes p."""
    if not calibrate:
        return -np.log2(probabilities(evidence)[np.arange(len(symbols)), symbols])
    rows = Calibrator(lookahead).mix_sequence(evidence, symbols)
    return -np.log2(rows[np.arange(len(symbols)), symbols])


def time_per_byte(spec: str, buffer: bytes, start: int, positions: int) -> float:
    p = genzip.predictor(spec, jobs=1)
    p.reset(buffer[start - CONTEXT : start])
    t = time.perf_counter()
    for s in buffer[start : start + positions]:
        p.distribution()
        p.observe(s)
    return (time.perf_counter() - t) / positions


def positions_of(n: int, stride: int) -> list[int]:
    """The scored positions of the buffer: every `stride`-th of the N bytes after the context."""
    return list(range(CONTEXT, CONTEXT + n, stride))


def own_rates(p: CodeLengthPredictor, data: bytes, n: int) -> tuple[float, float]:
    """The compressor's own bits/byte on the last n bytes of `data`: with all of what precedes
    them, and with its window cut to the CONTEXT bytes before each block of OWN_BLOCK bytes."""
    full = 8 * (p.compressed_size(data) - p.compressed_size(data[:-n])) / n
    windowed = 0
    for start in range(len(data) - n, len(data), OWN_BLOCK):
        window = data[start - CONTEXT : start]
        windowed += 8 * (
            p.compressed_size(window + data[start : start + OWN_BLOCK]) - p.compressed_size(window)
        )
    return full, windowed / n


def check_first_position(spec: str, data: bytes, position: int, bits: float) -> None:
    """The one-pass figure at the first scored position must be what the real predictor gives there."""
    p = genzip.predictor(spec, jobs=1)
    p.reset(data[position - CONTEXT : position])
    real = -np.log2(p.distribution()[data[position]])
    if abs(real - bits) > 1e-9:
        raise SystemExit(f"{spec}: one-pass figure {bits} differs from the predictor's {real}")


def rates(
    name: str, n: int, offset: int, jobs: int, check: int, timing_positions: int, stride: int
) -> dict[str, Any]:
    data = genzip.corpus.text(CONTEXT + n, offset)
    ctx = data[:CONTEXT]
    positions = positions_of(n, stride)
    symbols = np.frombuffer(data, dtype=np.uint8)[positions].astype(np.int64)
    own, own_2k = own_rates(_predictor(f"{name}:{PAPER}"), data, n)
    t = time.perf_counter()
    evidence = all_evidence(name, data, positions, jobs)
    wall = time.perf_counter() - t
    bits = {
        "paper": code_lengths(evidence[:, 0], symbols, False, False),
        "bits": code_lengths(evidence[:, 1], symbols, False, False),
        "+calib": code_lengths(evidence[:, 1], symbols, True, False),
        "+look16": code_lengths(evidence[:, 2], symbols, False, True),
        "+both": code_lengths(evidence[:, 2], symbols, True, True),
    }
    for variant in VARIANTS:  # the one-pass figures are what the real predictors give
        spec = variant_spec(name, variant)
        if stride > 1:
            check_first_position(spec, data, positions[0], float(bits[variant][0]))
            continue
        p = genzip.predictor(spec, jobs=1)
        p.reset(ctx)
        real = p.score(symbols[:check])
        if not np.allclose(real, bits[variant][:check], rtol=0, atol=1e-9):
            raise SystemExit(f"{spec}: one-pass figures differ from genzip.score")
    times = {v: time_per_byte(variant_spec(name, v), data, CONTEXT, timing_positions) for v in VARIANTS}
    return {
        "compressor": name,
        "bytes": n,
        "positions": len(positions),
        "own": own,
        "own_2k": own_2k,
        **{v: float(bits[v].mean()) for v in VARIANTS},
        "standard_error": {v: standard_error(bits[v]) for v in VARIANTS},
        "ms_per_byte": {v: 1000 * times[v] for v in VARIANTS},
        "pass_seconds": wall,
    }


def standard_error(bits: np.ndarray) -> float:
    """Standard error of the mean of per-position code lengths (positions taken as independent)."""
    return float(bits.std(ddof=1) / np.sqrt(len(bits))) if len(bits) > 1 else float("nan")


def extra_rate(spec: str, n: int, offset: int, jobs: int, stride: int) -> dict[str, Any]:
    """Own rate, the full spec's bits/byte (on every `stride`-th position) and wall ms per scored byte."""
    data = genzip.corpus.text(CONTEXT + n, offset)
    p = genzip.predictor(spec, jobs=jobs)
    assert isinstance(p, CodeLengthPredictor) and p.window == CONTEXT
    own, own_2k = own_rates(p, data, n)
    positions = positions_of(n, stride)
    symbols = np.frombuffer(data, dtype=np.uint8)[positions].astype(np.int64)
    t = time.perf_counter()
    evidence = p.evidence_at(data, np.array(positions))  # the predictor's own workers (leak-safe for ppmd)
    seconds = time.perf_counter() - t
    p.close()
    bits = code_lengths(evidence, symbols, p.calibrate, p.lookahead >= 2)
    check_first_position(spec, data, positions[0], float(bits[0]))
    return {
        "spec": spec,
        "bytes": n,
        "positions": len(positions),
        "own": own,
        "own_2k": own_2k,
        "bits_per_byte": float(bits.mean()),
        "standard_error": standard_error(bits),
        "ms_per_byte": 1000 * seconds / len(positions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=20000, help="bytes scored per compressor")
    parser.add_argument(
        "--stride",
        default="zstd=10,lzma=10,bz2=10,ppmd=10,brotli=50",
        help="score every S-th position of the N bytes for slow compressors (others: every byte)",
    )
    parser.add_argument("--offset", type=int, default=50000, help="where in the book the context starts")
    parser.add_argument("--compressors", default=",".join(COMPRESSORS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--check", type=int, default=24, help="prefix checked against genzip.score")
    parser.add_argument("--timing", type=int, default=6, help="positions timed per spec (one process)")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help="also score NAME:EXTRA for each compressor, "
        "e.g. 'dither=4,lookahead=16,calibrate=true' on top of the defaults, or 'default' (a separate table; may be repeated)",
    )
    parser.add_argument("--extra-only", action="store_true", help="skip the main table (with --extra)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    strides = {k: int(v) for k, v in (item.split("=") for item in args.stride.split(",") if item)}
    results: dict[str, Any] = {"cpus": os.cpu_count(), "jobs": args.jobs}
    print(
        f"# adapter quality, context {CONTEXT}, {os.cpu_count()} CPUs, jobs={args.jobs} "
        "(timings on a shared machine are indicative)"
    )
    n = args.bytes
    if args.extra:
        print(
            f"{'spec':62s} {'bytes':>6s} {'scored':>6s} {'own':>6s} {'own 2K':>6s} {'bits/byte':>15s} "
            f"{'x own':>6s} {'x own 2K':>8s} {'ms/byte (jobs)':>15s}"
        )
        extra = []
        for name in args.compressors.split(","):
            for options in args.extra:
                r = extra_rate(
                    f"{name}:{options}" if options != "default" else name,
                    n,
                    args.offset,
                    args.jobs,
                    strides.get(name, 1),
                )
                extra.append(r)
                own = float(r["own"])
                bpb = float(r["bits_per_byte"])
                own_2k = float(r["own_2k"])
                print(
                    f"{r['spec']:62s} {n:6d} {r['positions']:6d} {own:6.3f} {own_2k:6.3f} {bpb:8.3f} ± "
                    f"{r['standard_error']:.3f} {bpb / own:5.2f}x {bpb / own_2k:7.2f}x {r['ms_per_byte']:15.0f}",
                    flush=True,
                )
        results["extra"] = extra
    if not args.extra_only:
        table = []
        print(
            f"{'compressor':10s} {'bytes':>6s} {'scored':>6s} {'own':>6s} {'own 2K':>6s} "
            + " ".join(f"{v:>8s}" for v in VARIANTS)
            + "   best/own (± se)  best/own 2K   ms/byte (1 process): "
            + " ".join(VARIANTS)
        )
        for name in args.compressors.split(","):
            r = rates(
                name, n, args.offset, args.jobs, min(args.check, n), min(args.timing, n), strides.get(name, 1)
            )
            table.append(r)
            best = min(VARIANTS, key=lambda v: float(r[v]))
            own = float(r["own"])
            se = r["standard_error"][best]
            ms = r["ms_per_byte"]
            own_2k = float(r["own_2k"])
            print(
                f"{name:10s} {n:6d} {r['positions']:6d} {own:6.3f} {own_2k:6.3f} "
                + " ".join(f"{r[v]:8.3f}" for v in VARIANTS)
                + f"   {float(r[best]) / own:5.2f}x (± {se / own:.2f})  {float(r[best]) / own_2k:10.2f}x   "
                + " ".join(f"{ms[v]:.0f}" for v in VARIANTS),
                flush=True,
            )
        results["rates"] = table
        print("resolution=bits measures:")
        for name in args.compressors.split(","):
            print(f"  {name}: {_predictor(f'{name}:{BITS}').BITS_MEANING}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
