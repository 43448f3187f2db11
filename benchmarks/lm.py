"""Language models as lossless compressors on CPU: load, scoring, stepping, chunk-batched coding.

    .venv/bin/python benchmarks/lm.py [--specs smollm2,bytelm] [--chunks 16] [--batch 16] [--steps 48]

For each spec: model load time (smollm2: first load converting the GGUF into a
fresh cache directory, then the cached load), batched teacher-forced scoring,
one KV-cached stream, and chunk-batched compress + decompress of `--chunks`
2048-byte chunks of Moby-Dick, in tokens/s and bytes/s, with bits/byte and
gzip -9 on the same chunks. The baselines are measured in the same run:
transformers' own forward with a `DynamicCache` for one stream (what the lean
engine replaces), and gzip -9 for the rate.
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time

import numpy as np

import genzip
import genzip.corpus
from genzip.chunks import DEFAULT_CHUNK_BYTES as CHUNK
from genzip.coder import decode, encode, read_header


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def load_times(spec: str) -> str:
    """First load into an empty cache directory, then the cached load (transformers already imported)."""
    import transformers  # noqa: F401 - imported first: import cost is not load cost

    old = os.environ.get("GENZIP_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GENZIP_CACHE"] = cache
        try:
            p, first = timed(genzip.predictor, spec, device="cpu")
            p.close()
            p, second = timed(genzip.predictor, spec, device="cpu")
            p.close()
        finally:
            if old is None:
                del os.environ["GENZIP_CACHE"]
            else:
                os.environ["GENZIP_CACHE"] = old
    return f"load: first {first:.1f} s (converts and caches), cached {second:.1f} s"


def step_rate(p, symbols: np.ndarray) -> float:
    p.reset(b"")
    _, seconds = timed(p.distributions, symbols)
    return len(symbols) / seconds


def transformers_step_rate(p, symbols: np.ndarray) -> float:
    """The same stepping through the model's own forward and DynamicCache (HFEngine)."""
    from functools import partial

    from genzip.language_models.engines import TokenStreams
    from genzip.language_models.files import load_pretrained
    from genzip.language_models.hf_engines import HFEngine, to_probabilities

    model = load_pretrained(p.path, p.dtype, False)[0]
    probabilities = partial(to_probabilities, mask=p.codec.mask, escapes=len(p.codec.escaped))
    streams = TokenStreams(HFEngine(model, p.device), 1, [p.bos], p.window, probabilities, p.codec.inputs)
    start = time.perf_counter()
    for s in symbols:
        streams.distributions()
        streams.observe(np.array([s]))
    return len(symbols) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="smollm2,bytelm")
    parser.add_argument(
        "--chunks", type=int, default=32, help="2048-byte chunks for scoring and batched coding"
    )
    parser.add_argument("--batch", type=int, default=32, help="chunks coded side by side")
    parser.add_argument("--steps", type=int, default=48, help="tokens stepped for the one-stream rates")
    parser.add_argument("--no-load", action="store_true", help="skip the load timing")
    parser.add_argument("--jobs", type=int, default=None, help="torch threads (default: the predictor's, 1)")
    parser.add_argument("--dtype", default=None, help="float32 | bfloat16 | float16 (default: float32)")
    args = parser.parse_args()

    import torch

    text = genzip.corpus.text()
    chunks = [text[o : o + CHUNK] for o in range(100_000, 100_000 + args.chunks * CHUNK, CHUNK)]
    data = b"".join(chunks)
    gzip_bpb = sum(8 * len(gzip.compress(c, 9, mtime=0)) for c in chunks) / len(data)
    print(
        f"CPU, {os.cpu_count()} cores shared with other jobs (numbers are noisy); torch {torch.__version__}, "
        f"threads: {args.jobs or 'predictor default'}, dtype: {args.dtype or 'default'}"
    )
    print(
        f"data: {len(chunks)} chunks x {CHUNK} bytes of Moby-Dick; gzip -9 on the same chunks: {gzip_bpb:.3f} bits/byte"
    )
    for spec in args.specs.split(","):
        try:
            p = genzip.predictor(spec, device="cpu", jobs=args.jobs, dtype=args.dtype)
        except genzip.GenzipError as exc:
            print(f"\n{spec}: skipped ({exc})")
            continue
        print(f"\n== {p.spec} ==")
        if spec == "smollm2" and not args.no_load:
            print(load_times(spec))
        tokens = [p.tokenize(c) for c in chunks]
        n_tokens = sum(len(t) for t in tokens)
        print(f"{n_tokens} tokens ({len(data) / n_tokens:.2f} bytes/token)")

        score, seconds = timed(genzip.score, data, p, CHUNK)
        print(
            f"batched scoring:        {n_tokens / seconds:8.1f} tokens/s {len(data) / seconds:8.0f} bytes/s"
            f"   {score.bits_per_byte:.3f} bits/byte"
        )

        one = step_rate(p, tokens[0][: args.steps])
        line = f"one stream (stepping): {one:8.1f} tokens/s {one * len(data) / n_tokens:8.0f} bytes/s"
        if hasattr(p, "codec"):
            base = transformers_step_rate(p, tokens[0][: args.steps])
            line += f"   baseline transformers DynamicCache: {base:.1f} tokens/s"
        print(line)

        blob, enc_s = timed(encode, data, p, chunk_size=CHUNK, batch_size=args.batch)
        out, dec_s = timed(decode, blob, predictor=p)
        assert out == data, "round trip failed"
        header, _ = read_header(blob)
        print(
            f"chunk-batched compress:   {n_tokens / enc_s:6.1f} tokens/s {len(data) / enc_s:8.0f} bytes/s"
            f"   (batch {header.batch_size})"
        )
        print(f"chunk-batched decompress: {n_tokens / dec_s:6.1f} tokens/s {len(data) / dec_s:8.0f} bytes/s")
        print(
            f"container: {len(blob)} bytes = {8 * len(blob) / len(data):.3f} bits/byte "
            f"(gzip -9 per chunk {gzip_bpb:.3f})"
        )
        p.close()


if __name__ == "__main__":
    main()
