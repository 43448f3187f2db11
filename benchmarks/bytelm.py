"""bytelm speed and quality on CPU: stepping, batched streams, batched scoring, bits/byte vs gzip -9.

    .venv/bin/python benchmarks/bytelm.py [--bytes 1024] [--streams 32] [--sizes 200k,800k,3.2m]

Speeds do not depend on the weights, so sizes without a shipped checkpoint are
timed with `init=random`. Quality is the shipped 200k checkpoint on 2048-byte
chunks of the held-out last 10% of Moby-Dick, next to gzip -9 on the same chunks
(the baseline, measured in the same run).
"""

from __future__ import annotations

import argparse
import gzip
import time

import numpy as np

import genzip
import genzip.corpus
from genzip.chunks import DEFAULT_CHUNK_BYTES as CHUNK
from genzip.language_models.bytelm_checkpoints import shipped_checkpoint


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1024, help="bytes per stepped stream")
    parser.add_argument("--streams", type=int, default=32, help="streams stepped side by side")
    parser.add_argument("--sizes", default="200k,800k,3.2m")
    parser.add_argument("--chunks", type=int, default=8, help="held-out 2048-byte chunks for bits/byte")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    text = genzip.corpus.text()
    held_out = text[round(len(text) * 0.9) :]
    data = held_out[: args.bytes]
    print(
        f"bytelm on {args.device} (torch threads for stepping: 1); shared 2-core machine, numbers are noisy"
    )
    print(
        f"{'size':>5} {'params':>9} {'step 1 stream':>15} {f'{args.streams} streams':>15} {'batched score':>15}"
    )
    for size in args.sizes.split(","):
        shipped = shipped_checkpoint(size).is_file()
        spec = f"bytelm:size={size}" + ("" if shipped else ",init=random")
        p = genzip.predictor(spec, device=args.device)
        symbols = p.tokenize(data)
        _, step_s = timed(p.distributions, symbols)
        streams = p.open_streams(args.streams)
        rows = np.frombuffer(held_out[: args.bytes * args.streams], dtype=np.uint8).reshape(args.streams, -1)

        def run_streams(streams=streams, rows=rows) -> None:
            for t in range(rows.shape[1]):
                streams.distributions()
                streams.observe(rows[:, t])

        _, streams_s = timed(run_streams)
        score_data = held_out[: 4 * CHUNK]
        p.reset(b"")
        _, score_s = timed(p.score, p.tokenize(score_data))
        print(
            f"{size:>5} {p.n_parameters:>9,} {len(symbols) / step_s:>11.0f} t/s {rows.size / streams_s:>11.0f} t/s "
            f"{len(score_data) / score_s:>11.0f} t/s" + ("" if shipped else "  (random weights: speed only)")
        )
        p.close()

    p = genzip.predictor("bytelm", device=args.device)
    chunks = [held_out[i : i + CHUNK] for i in range(0, args.chunks * CHUNK, CHUNK)]
    model_bits = sum(genzip.score(c, p).total_bits for c in chunks)
    gzip_bits = sum(8 * len(gzip.compress(c, compresslevel=9, mtime=0)) for c in chunks)
    n = sum(len(c) for c in chunks)
    print(
        f"held-out Moby-Dick, {len(chunks)} chunks of {CHUNK} bytes: shipped bytelm (200k) "
        f"{model_bits / n:.3f} bits/byte, gzip -9 (baseline) {gzip_bits / n:.3f} bits/byte"
    )
    blob, enc_s = timed(genzip.compress, chunks[0], p)
    out, dec_s = timed(genzip.decompress, blob)
    assert out == chunks[0]
    print(
        f"lossless round trip of one {CHUNK}-byte chunk: {len(blob)} bytes ({8 * len(blob) / CHUNK:.3f} bits/byte), "
        f"compress {CHUNK / enc_s:.0f} B/s, decompress {CHUNK / dec_s:.0f} B/s"
    )


if __name__ == "__main__":
    main()
