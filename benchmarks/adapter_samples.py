"""Samples from compressors: the paper's horizon-1 gzip vs genzip's lookahead, scored by SmolLM2.

200-byte gzip samples for the same prompts (the 2048 bytes before a point of the
book) and seeds, scored by SmolLM2 (bits/byte of the sample given its prompt:
naturalness), by their distinct 4-gram ratio (diversity) and by the fraction of
their 8-grams found in the prompt (copying), next to the real continuation.

    .venv/bin/python benchmarks/adapter_samples.py --seeds 10 --temperature 0.5
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
from genzip.chunks import DEFAULT_CHUNK_BYTES

CONTEXT = DEFAULT_CHUNK_BYTES
HORIZON = 16
#: bytes per sample
SAMPLE_BYTES = 200


def distinct_4grams(sample: bytes) -> float:
    grams = [sample[i : i + 4] for i in range(len(sample) - 3)]
    return len(set(grams)) / len(grams) if grams else 0.0


def copied_8grams(sample: bytes, prompt: bytes) -> float:
    """Fraction of the sample's 8-byte substrings that occur in the prompt (verbatim copying)."""
    grams = [sample[i : i + 8] for i in range(len(sample) - 7)]
    return sum(g in prompt for g in grams) / len(grams) if grams else 0.0


class SmolScorer:
    """SmolLM2 bits/byte of a text given a prompt, through genzip's predictor."""

    def __init__(self) -> None:
        self.predictor = genzip.predictor("smollm2", device="auto")

    def bits_per_byte(self, prompt: bytes, text: bytes) -> float:
        self.predictor.reset(prompt)
        return float(self.predictor.score(self.predictor.tokenize(text)).sum()) / len(text)


def samples(
    seeds: int, prompts: list[int], n: int, settings: dict[str, dict[str, Any]], jobs: int
) -> list[dict]:
    scorer = SmolScorer()
    rows = []
    real = []
    for offset in prompts:
        data = genzip.corpus.text(CONTEXT + n, offset)
        real.append((data[:CONTEXT], data[CONTEXT:]))
    rows.append(
        _row(
            "real text",
            [scorer.bits_per_byte(p, t) for p, t in real],
            [distinct_4grams(t) for _, t in real],
            [copied_8grams(t, p) for p, t in real],
        )
    )
    for label, how in settings.items():
        predictor = genzip.predictor(str(how["spec"]), jobs=jobs)
        bpb, distinct, copied, examples = [], [], [], []
        t = time.perf_counter()
        for prompt, _ in real:
            for seed in range(seeds):
                out = genzip.sample(
                    predictor,
                    prompt,
                    n=n,
                    seed=seed,
                    temperature=float(how["temperature"]),
                    top_p=how.get("top_p"),
                )
                bpb.append(scorer.bits_per_byte(prompt, out))
                distinct.append(distinct_4grams(out))
                copied.append(copied_8grams(out, prompt))
                examples.append(out)
        predictor.close()
        row = _row(label, bpb, distinct, copied)
        row["seconds_per_sample"] = (time.perf_counter() - t) / len(bpb)
        row["example"] = examples[0].decode("utf-8", "replace")
        rows.append(row)
    return rows


def _row(label: str, bpb: list[float], distinct: list[float], copied: list[float]) -> dict:
    return {
        "what": label,
        "n": len(bpb),
        "smollm2_bpb": float(np.mean(bpb)),
        "smollm2_bpb_sd": float(np.std(bpb)),
        "distinct4": float(np.mean(distinct)),
        "distinct4_sd": float(np.std(distinct)),
        "copied8": float(np.mean(copied)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--prompts", default="120000,300000", help="book offsets of the prompts")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    prompts = [int(x) for x in args.prompts.split(",")]
    common = {"temperature": args.temperature, "top_p": args.top_p}
    settings = {
        "gzip, paper": {"spec": "gzip:adapter=paper", **common},
        "gzip, horizon 1": {"spec": "gzip:adapter=paper,resolution=bits", **common},
        f"gzip, lookahead {HORIZON}": {
            "spec": f"gzip:adapter=paper,resolution=bits,lookahead={HORIZON}",
            **common,
        },
        "gzip (default)": {"spec": "gzip", **common},
    }
    rows = samples(args.seeds, prompts, SAMPLE_BYTES, settings, args.jobs)
    print(
        f"# {SAMPLE_BYTES}-byte samples, {len(prompts)} prompts x {args.seeds} seeds, "
        f"temperature {args.temperature}, top-p {args.top_p}"
    )
    print(f"{'what':24s} {'SmolLM2 bits/byte':>18s} {'distinct 4-grams':>17s} {'8-grams in prompt':>18s}")
    for row in rows:
        print(
            f"{row['what']:24s} {row['smollm2_bpb']:10.2f} ± {row['smollm2_bpb_sd']:4.2f}"
            f" {row['distinct4']:10.2f} ± {row['distinct4_sd']:4.2f} {row['copied8']:14.2f}"
        )
    for row in rows[1:]:
        print(f"example ({row['what']}): {row['example']!r}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
