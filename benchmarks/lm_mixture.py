"""`mix:cm+smollm2:view=bytes` against its parts on one long stream (issue 13's 64 KB target).

    .venv/bin/python benchmarks/lm_mixture.py --bytes 65536 --cache /tmp/genzip-dists

The byte view of SmolLM2 runs at about 20-30 bytes/s on this machine's CPUs, so
each component's next-byte distributions are computed once (`distributions()`
of the real predictor over the whole stream, 256 float64 per byte; `--cache`
keeps them between runs) and every mixture is then computed from them by
`genzip.mixing.mix_rows`, the kernel `MixPredictor.distributions` runs. That
this is exactly the mixture's coding distribution is checked on a prefix
against the real `mix:` predictor (bit for bit) before the table is printed.
The Jargon File was not used to tune the mixer (docs/context_models.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import genzip
import genzip.corpus
from genzip.mixing import mix_rows

PARTS = ("cm", "smollm2:view=bytes")
#: (method, select, rate): the default first, then the alternatives documented in docs/context_models.md
MIXTURES = (
    ("geometric", "hierarchical", 0.002),
    ("geometric", "byte-class", 0.005),
    ("geometric", "none", 0.002),
    ("bayes", "hierarchical", 0.002),
)


def component_rows(spec: str, symbols: np.ndarray, cache: Path | None, stem: str) -> np.ndarray:
    """The spec's distribution before every symbol, from `cache` when it holds them."""
    path = cache / f"{stem}-{spec.replace(':', '_').replace('=', '-')}.npy" if cache else None
    if path is not None and path.exists():
        return np.load(path)
    start = time.perf_counter()
    with genzip.predictor(spec) as p:
        rows = np.concatenate([p.distributions(symbols[i : i + 1024]) for i in range(0, len(symbols), 1024)])
    print(f"  {spec}: {len(symbols) / (time.perf_counter() - start):.1f} bytes/s")
    if path is not None:
        np.save(path, rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bytes", type=int, default=65536)
    parser.add_argument("--text", default="jargon")
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the components' rows")
    parser.add_argument("--check", type=int, default=128, help="prefix checked against the real mix:")
    args = parser.parse_args()
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
    data = genzip.corpus.text(args.bytes, args.offset, name=args.text)
    symbols = np.frombuffer(data, np.uint8).astype(np.int64)
    stem = f"{args.text}-{args.offset}-{len(symbols)}"
    rows = np.stack([component_rows(s, symbols, args.cache, stem) for s in PARTS], axis=1)
    spec = "mix:" + "+".join(PARTS)
    with genzip.predictor(spec) as real:
        expected = real.distributions(symbols[: args.check])
    if not np.array_equal(
        expected, mix_rows(rows[: args.check], symbols[: args.check], "geometric", "hierarchical", 0.002)
    ):
        raise SystemExit(f"the kernel's rows differ from {spec}'s own on the first {args.check} bytes")
    n, at = len(symbols), np.arange(len(symbols))
    bits = {s: -np.log2(rows[at, i, symbols]) for i, s in enumerate(PARTS)}
    for method, select, rate in MIXTURES:
        label = f"mix:method={method},rate={rate},select={select}+" + "+".join(PARTS)
        bits[label] = -np.log2(mix_rows(rows, symbols, method, select, rate)[at, symbols])
    best = min(bits[s].mean() for s in PARTS)
    print(
        f"{n} bytes of {args.text} from offset {args.offset}, coded as one stream (checked on {args.check}):"
    )
    for label, b in bits.items():
        print(
            f"  {label:78s} {b.mean():.4f} bits/byte  {b.sum() / 8:9,.0f} bytes  {b.mean() / best - 1:+.2%}"
        )


if __name__ == "__main__":
    main()
