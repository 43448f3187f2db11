"""The byte view of SmolLM2 (`smollm2:view=bytes`) against its token view, on the same chunks.

    .venv/bin/python benchmarks/byte_view.py [--chunks 2] [--device cpu] [--texts moby-dick,jargon]

For `--chunks` chunks of `DEFAULT_CHUNK_BYTES` bytes of each shipped text, each scored from a fresh
state: bits/byte of the token view (canonical tokens, teacher-forced scoring) and of the byte view
(exact next-byte marginal, stepped), bytes/s of scoring, of one stream stepping and of
chunk-batched coding (all chunks of the first text side by side, compress then decompress, checked),
the byte view's average live branches, model steps and pruned mass per byte, and the prompt-boundary
figure p(next byte = "x" | "The quick brown fo") under both views. The defaults of the byte view
(prune, lazy, beam) were tuned on Moby-Dick bytes 200000-300250, not on these chunks.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import genzip
import genzip.corpus
from genzip.chunks import DEFAULT_CHUNK_BYTES as CHUNK
from genzip.coder import decode, encode

OFFSETS = {"moby-dick": 400_000, "jargon": 100_000}
PROMPT = b"The quick brown fo"


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def chunk_bits(p: Any, chunks: list[bytes]) -> tuple[float, float]:
    """Total bits of the chunks, each scored from a fresh state, and the seconds it took."""
    bits, seconds = 0.0, 0.0
    for chunk in chunks:
        p.reset(b"")
        lengths, dt = timed(p.score, p.tokenize(chunk))
        bits, seconds = bits + float(lengths.sum()), seconds + dt
    return bits, seconds


def prompt_boundary(tokens: Any, view: Any) -> tuple[float, float]:
    view.reset(PROMPT)
    p_view = float(view.distribution()[ord("x")])
    tokens.reset(PROMPT)
    probs = tokens.distribution()
    p_naive = float(sum(probs[t] for t, b in enumerate(tokens.codec.token_bytes) if b.startswith(b"x")))
    return p_view, p_naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2, help=f"{CHUNK}-byte chunks per text")
    parser.add_argument("--texts", default="moby-dick,jargon")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--spec", default="smollm2:view=bytes", help="the byte view to measure")
    parser.add_argument("--coding-bytes", type=int, default=CHUNK, help="chunk size for the coding figures")
    parser.add_argument("--parts", default="scoring,coding,prompt", help="which figures to measure")
    args = parser.parse_args()
    import torch

    tokens = genzip.predictor("smollm2", device=args.device)
    view = genzip.predictor(args.spec, device=args.device)
    print(
        f"{args.device}, {os.cpu_count()} cores shared with other jobs (timings are noisy); torch {torch.__version__}"
    )
    print(f"token view: {tokens.spec}\nbyte view:  {view.spec}")
    texts = {
        name: [
            genzip.corpus.text(CHUNK, offset=OFFSETS[name] + i * CHUNK, name=name) for i in range(args.chunks)
        ]
        for name in args.texts.split(",")
    }
    parts = set(args.parts.split(","))
    for name, chunks in texts.items() if "scoring" in parts else ():
        n = sum(len(c) for c in chunks)
        token_bits, token_s = chunk_bits(tokens, chunks)
        view_bits, view_s = chunk_bits(view, chunks)
        stats = view.stats
        print(f"\n== {name}: {len(chunks)} chunks x {CHUNK} bytes (offset {OFFSETS[name]}) ==")
        print(
            f"bits/byte   token view {token_bits / n:.4f}   byte view {view_bits / n:.4f}   "
            f"difference {(view_bits - token_bits) / n:+.4f}"
        )
        print(
            f"scoring     token view {n / token_s:8.1f} B/s (teacher forcing)   byte view {n / view_s:8.1f} B/s (stepping)"
        )
        print(
            f"byte view, last chunk: {stats.branches / stats.bytes:.2f} live branches/byte, "
            f"{stats.fed / stats.bytes:.3f} model steps/byte, pruned share {stats.pruned / stats.bytes:.2e}/byte "
            f"(worst byte {stats.worst_pruned:.2e}), {stats.escapes} escapes"
        )
    first = next(iter(texts.values()))
    if "coding" in parts:
        coding(tokens, view, [c[: args.coding_bytes] for c in first])
    if "prompt" in parts:
        prompt_figures(tokens, view)


def coding(tokens: Any, view: Any, chunks: list[bytes]) -> None:
    """One-stream stepping of the token view, then chunk-batched coding (all chunks side by side)."""
    symbols = tokens.tokenize(chunks[0])[:256]
    tokens.reset(b"")
    _, step_s = timed(tokens.distributions, symbols)
    step_bytes = len(tokens.detokenize(symbols))
    print(
        f"\none stream stepping: token view {step_bytes / step_s:.1f} B/s ({len(symbols) / step_s:.1f} tokens/s); "
        f"byte view: its scoring figure above (scoring is stepping)"
    )
    data = b"".join(chunks)
    for label, p in (("token view", tokens), ("byte view", view)):
        blob, enc_s = timed(encode, data, p, chunk_size=len(chunks[0]), batch_size=len(chunks))
        out, dec_s = timed(decode, blob, predictor=p)
        assert out == data, f"{label}: round trip failed"
        print(
            f"chunk-batched coding ({len(chunks)} x {len(chunks[0])} bytes), {label}: compress {len(data) / enc_s:7.1f} B/s, "
            f"decompress {len(data) / dec_s:7.1f} B/s, {8 * len(blob) / len(data):.4f} bits/byte (container, header included)"
        )


def prompt_figures(tokens: Any, view: Any) -> None:
    p_view, p_naive = prompt_boundary(tokens, view)
    print(
        f"\np(next byte = 'x' | {PROMPT.decode()!r}): byte view {p_view:.4f}, naive token level {p_naive:.4f}"
    )
    print("(naive: the prompt tokenized as it stands, then the mass of the next tokens that start with 'x')")
    generated = [genzip.sample(view, prompt=PROMPT, n=1, seed=seed) for seed in range(10)]
    print(
        f"genzip sample -c {view.spec} --prompt {PROMPT.decode()!r} -n 1, seeds 0-9: "
        f"{sum(g == b'x' for g in generated)}/10 give 'x' ({b''.join(generated)!r})"
    )


if __name__ == "__main__":
    main()
