"""Evaluation at scale: throughput against workers, the Ray path's per-chunk overhead, and a cost model.

Prints, in one run and on the same chunks:
1. chunk-scoring throughput (chunks/s) of each predictor with 1 and 2 workers, local pool and Ray;
2. per-chunk overhead of each engine: wall time x workers minus the time spent scoring, per chunk,
   on tiny chunks of a fast predictor (so the overhead dominates);
3. a cost model of an enwik9-sized run (488,281 chunks of 2048 bytes) per predictor on N workers,
   from the measured CPU seconds per chunk: hours = 488,281 x s / N (+ the overhead per chunk / N).

    PYTHONPATH=. python benchmarks/scale.py --gzip-chunks 4
    PYTHONPATH=. python benchmarks/scale.py --cost-of photo.jpg   # what compare -c gzip -c lzma -c ppm costs

On a shared machine the absolute figures move with the load; the ratios in one run are the claim.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

import genzip.corpus
import genzip.evaluation.engines.local as local_engine
import genzip.evaluation.engines.ray as ray_engine
from genzip.evaluation.engines import make_engine
from genzip.evaluation.plan import Done, Job, Task
from genzip.predictor import RuntimeOptions
from genzip.registry import parse_spec

ENWIK9_CHUNKS = 488_281


def run_chunks(engine_name: str, workers: int, spec: str, chunks: list[bytes]) -> tuple[float, list[Done]]:
    """Wall seconds to score `chunks` with one engine, and each chunk's result (warm workers)."""
    with make_engine(engine_name, RuntimeOptions(jobs=workers), native_only=False) as engine:
        info = engine.describe(spec)
        kind = parse_spec(spec)[0].kind
        warm = Job(0, info.spec, kind, [Task(0, i, chunks[0][:64], "") for i in range(workers)])
        engine.run([warm], lambda done: None, 10**9)  # every worker builds its predictor first
        done: list[Done] = []
        job = Job(0, info.spec, kind, [Task(0, i, c, "") for i, c in enumerate(chunks)])
        began = time.perf_counter()
        engine.run([job], done.append, 10**9)  # 10**9 run chunks: the local engine uses its pool
        wall = time.perf_counter() - began
        engine.release(info.spec)
    return wall, done


def throughput(specs: list[str], counts: dict[str, int], engines: list[str]) -> dict[str, float]:
    """Both worker counts score the same chunks (2 x count), so that the chunks' own costs cancel.

    cpu share = CPU seconds / wall seconds of the scoring processes: 1.00 when a worker had its core
    to itself, lower when it waited for one (other processes), so a speed-up below 2 with a low
    share is the machine's load, one with a share near 1 a cost of running two workers at once."""
    text = genzip.corpus.text(offset=100_000)
    distinct = len(text) // 2048  # more chunks than the text holds repeat it (each is scored afresh)
    per_chunk: dict[str, float] = {}
    print("## throughput (2048-byte chunks of Moby-Dick; chunks/s; speed-up of 2 workers over 1)")
    for spec in specs:
        n = 2 * counts[spec]
        chunks = [text[(i % distinct) * 2048 : (i % distinct + 1) * 2048] for i in range(n)]
        for engine in engines:
            rates = []
            for workers in (1, 2):
                wall, done = run_chunks(engine, workers, spec, chunks)
                seconds = sum(d.seconds for d in done)
                cpu = sum(d.cpu_seconds for d in done)
                rates.append(n / wall)
                per_chunk.setdefault(spec, cpu / n)
                print(
                    f"{spec:<8} {engine:<5} workers={workers} chunks={n:>3} wall={wall:7.2f} s "
                    f"{n / wall:7.3f} chunks/s  scoring {1000 * seconds / n:8.1f} ms/chunk, "
                    f"cpu {1000 * cpu / n:8.1f} ms/chunk (cpu share {cpu / seconds:.2f})  "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            print(f"{spec:<8} {engine:<5} speed-up 2 vs 1 workers: {rates[1] / rates[0]:.2f}x", flush=True)
    return per_chunk


@contextmanager
def one_chunk_per_task() -> Iterator[None]:
    """Both engines without batching: every chunk its own task (what the engine itself costs per call)."""
    saved = local_engine.BATCH_SECONDS, ray_engine.BATCH_SECONDS
    local_engine.BATCH_SECONDS = ray_engine.BATCH_SECONDS = 0.0
    try:
        yield
    finally:
        local_engine.BATCH_SECONDS, ray_engine.BATCH_SECONDS = saved


def overhead(engines: list[str], n: int) -> dict[str, float]:
    """Per-chunk cost of the engine itself: (wall x workers - scoring time) / chunks, 16-byte chunks of
    order:k=0, one chunk per task and batched (the default: cheap chunks travel together)."""
    chunks = [genzip.corpus.text(16, offset=16 * i) for i in range(n)]
    out = {}
    print(f"## per-chunk overhead ({n} chunks of 16 bytes, order:k=0, 2 workers)")
    for engine in engines:
        for batching, context in (("one per task", one_chunk_per_task), ("batched", nullcontext)):
            with context():
                wall, done = run_chunks(engine, 2, "order:k=0", chunks)
            seconds = [d.seconds for d in done]
            out[engine] = (wall * 2 - sum(seconds)) / n  # the batched figure is what a run pays
            print(
                f"{engine:<5} {batching:<12} wall={wall:6.2f} s  scoring {1000 * sum(seconds) / n:.2f} ms/chunk  "
                f"overhead {1000 * out[engine]:.2f} ms/chunk",
                flush=True,
            )
    return out


def cost_model(per_chunk: dict[str, float], overheads: dict[str, float]) -> None:
    print(f"## cost model: {ENWIK9_CHUNKS:,} chunks of 2048 bytes (enwik9), hours on N workers")
    extra = max(overheads.values(), default=0.0)
    print(f"{'predictor':<10} {'s/chunk':>9} " + " ".join(f"{f'N={n}':>9}" for n in (1, 2, 16, 64, 256)))
    for spec, seconds in per_chunk.items():
        hours = [ENWIK9_CHUNKS * (seconds + extra) / n / 3600 for n in (1, 2, 16, 64, 256)]
        print(f"{spec:<10} {seconds:9.3f} " + " ".join(f"{h:9.1f}" for h in hours))


def adapter_cost(path: str, specs: list[str], sample_chunks: int, stride: int) -> None:
    """CPU seconds that `genzip compare PATH -c SPEC ... --sample-chunks N` needs, from every `stride`-th
    position of the drawn chunks (each position's code lengths cost the same wherever they are computed;
    the calibration on top is negligible): the floor of its wall time is that over the cores."""
    from genzip.data import load
    from genzip.evaluation.plan import select_pieces
    from genzip.registry import build

    pieces = select_pieces([load(Path(path))], 2048, sample_chunks=sample_chunks).pieces
    print(
        f"## CPU cost of compare {Path(path).name} --sample-chunks {sample_chunks}, every {stride}th position"
    )
    total = 0.0
    for spec in specs:
        with build(spec, RuntimeOptions(jobs=1)) as predictor:
            began = time.process_time()
            if hasattr(predictor, "evidence"):
                for piece in pieces:
                    for end in range(0, len(piece.data), stride):
                        predictor.evidence(piece.data[:end])
                seconds = (time.process_time() - began) * stride
            else:  # not a code-length adapter: score the chunks whole
                for piece in pieces:
                    predictor.reset()
                    predictor.distributions(np.frombuffer(piece.data, dtype=np.uint8))
                seconds = time.process_time() - began
        total += seconds
        print(f"{spec:<8} {seconds / len(pieces):8.1f} CPU s/chunk  {seconds:8.1f} CPU s in all", flush=True)
    print(
        f"all      {total:8.1f} CPU s: at least {total / 2:.0f} s on 2 idle cores (load {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2048, help="ppm chunks per worker (~4 s of work each)")
    parser.add_argument(
        "--gzip-chunks", type=int, default=1, help="gzip chunks per worker (about 25 s each on an idle core)"
    )
    parser.add_argument("--overhead-chunks", type=int, default=400)
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--specs", default="ppm,gzip", help="predictors whose throughput is measured")
    parser.add_argument("--cost-of", help="only the CPU cost of compare -c gzip -c lzma -c ppm on this file")
    parser.add_argument("--sample-chunks", type=int, default=8, help="--cost-of: chunks drawn")
    parser.add_argument("--stride", type=int, default=32, help="--cost-of: every Nth position timed")
    args = parser.parse_args()
    if args.cost_of:
        adapter_cost(args.cost_of, ["gzip", "lzma", "ppm"], args.sample_chunks, args.stride)
        return
    engines = args.engines.split(",")
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} cores, load average {load[0]:.1f} at start (shared machine: ratios, not absolutes)"
    )
    counts = {"ppm": args.chunks, "gzip": args.gzip_chunks}
    per_chunk = throughput(args.specs.split(","), counts, engines)
    overheads = overhead(engines, args.overhead_chunks)
    cost_model(per_chunk, overheads)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
