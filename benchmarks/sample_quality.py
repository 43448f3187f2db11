"""Sample quality of every sampler on three axes, plus speed (issue 11).

Protocol: for each text and prompt, the conditioning is a slice of the text
(--slice bytes) followed by a short prompt (the next --prompt-bytes of the
text), what `genzip sample --prompt-file` would be given; each sampler draws
--bytes bytes for each seed. Axes:

  smollm2 b/B   SmolLM2-135M bits/byte of the sample given its short prompt (naturalness; lower is better)
  4-gram        distinct 4-grams / 4-grams of the sample (diversity; 1 = no repeats)
  copy          longest run of the sample found verbatim in the conditioning (novelty; lower is better)
  bytes/s       sampling speed (on this machine as loaded when run)

Rows: the default `genzip sample -c gzip`, each sampling method of gzip,
other predictors with their defaults, and the real text that follows the prompt.
Tuned on moby-dick; jargon is the held-out text.

    .venv/bin/python benchmarks/sample_quality.py                    # full run: 10 seeds x 3 prompts x 2 texts
    .venv/bin/python benchmarks/sample_quality.py --seeds 2 --bytes 100 --rows default,smc
    .venv/bin/python benchmarks/sample_quality.py --texts moby-dick --seeds 6 --rows default \
        --variant '{"label": "M16", "settings": {"particles": 16}}'      # tuning: extra rows
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genzip import corpus
from genzip.predictor import RuntimeOptions
from genzip.registry import build
from genzip.sampler import SequenceSettings, sample

#: where the prompts start in each text (fractions of its length), one per prompt
PROMPT_AT = (0.31, 0.52, 0.77)


@dataclass(frozen=True)
class Row:
    """One sampler: a label, a predictor spec and the `genzip.sample` keyword arguments."""

    label: str
    spec: str
    options: dict[str, Any] = field(default_factory=dict)
    slow: bool = False  # ~10 bytes/s: gets --slow-seeds seeds


ROWS = (
    Row("default", "gzip"),
    Row("symbol", "gzip", {"method": "symbol"}),
    Row("symbol-lookahead16-T0.5", "gzip:lookahead=16", {"method": "symbol", "temperature": 0.5}),
    Row("joint", "gzip", {"settings": SequenceSettings(proposal_weight=0.0)}),
    Row("joint-T0.5", "gzip", {"temperature": 0.5, "settings": SequenceSettings(proposal_weight=0.0)}),
    Row("smc", "gzip", {"settings": SequenceSettings(resample_every=4)}),
    Row("no-rules", "gzip", {"no_repeat_ngram_size": 0, "settings": SequenceSettings(own_ngram_size=0)}),
    Row("proposal-only", "gzip", {"settings": SequenceSettings(particles=1)}),
    Row("no-compressor", "gzip", {"settings": SequenceSettings(compressor_weight=0.0)}),
    Row("zstd", "zstd"),
    Row("ppm", "ppm"),
    Row("ctw", "ctw"),
    Row("bytelm", "bytelm", slow=True),
    Row("smollm2", "smollm2", slow=True),
    Row("real text", ""),
)


@dataclass(frozen=True)
class Case:
    """One text and prompt: the conditioning (slice + prompt), the short prompt and the real continuation."""

    text: str
    conditioning: bytes
    prompt: bytes
    real: bytes


def cases(text: str, prompts: int, slice_bytes: int, prompt_bytes: int, n: int) -> list[Case]:
    """Conditioning and prompt at fixed places of `text`; the prompt starts after a space."""
    data = corpus.text(name=text)
    out = []
    for at in PROMPT_AT[:prompts]:
        start = data.index(b" ", int(at * len(data))) + 1
        prompt_start = start + slice_bytes
        prompt_start = data.index(b" ", prompt_start) + 1
        prompt = data[prompt_start : prompt_start + prompt_bytes]
        prompt = prompt[: prompt.rindex(b" ") + 1]
        real = data[prompt_start + len(prompt) : prompt_start + len(prompt) + n]
        out.append(Case(text, data[start:prompt_start] + prompt, prompt, real))
    return out


def distinct_4grams(sample: bytes) -> float:
    grams = [sample[i : i + 4] for i in range(len(sample) - 3)]
    return len(set(grams)) / len(grams) if grams else 1.0


def longest_copy(sample: bytes, source: bytes) -> int:
    """Longest substring of `sample` that occurs in `source`."""
    best = 0
    for i in range(len(sample)):
        while i + best < len(sample) and sample[i : i + best + 1] in source:
            best += 1
    return best


class Judge:
    """SmolLM2 bits/byte of a sample given its prompt: score(prompt + sample) - score(prompt)."""

    def __init__(self) -> None:
        self.model = build("smollm2", RuntimeOptions(jobs=1))

    def bits(self, data: bytes) -> float:
        self.model.reset(b"")
        return float(self.model.score(self.model.tokenize(data)).sum())

    def bits_per_byte(self, prompt: bytes, sample: bytes) -> float:
        return (self.bits(prompt + sample) - self.bits(prompt)) / max(1, len(sample))


def run_row(row: Row, case_list: list[Case], seeds: int, n: int, judge: Judge) -> dict[str, float]:
    """Mean of every axis over the cases and seeds; the time is sampling only."""
    metrics: list[tuple[float, float, int]] = []
    seconds = 0.0
    produced = 0
    predictor = build(row.spec, RuntimeOptions(jobs=1)) if row.spec else None
    try:
        for case in case_list:
            for seed in range(seeds if predictor is not None else 1):
                start = time.perf_counter()
                if predictor is None:
                    out = case.real[:n]
                else:
                    out = sample(predictor, case.conditioning, n, seed=seed, **row.options)
                seconds += time.perf_counter() - start
                produced += len(out)
                metrics.append(
                    (
                        judge.bits_per_byte(case.prompt, out),
                        distinct_4grams(out),
                        longest_copy(out, case.conditioning),
                    )
                )
    finally:
        if predictor is not None:
            predictor.close()
    values = np.array(metrics, dtype=np.float64)
    return {
        "smollm2": float(values[:, 0].mean()),
        "4gram": float(values[:, 1].mean()),
        "copy": float(values[:, 2].mean()),
        "copy_max": float(values[:, 2].max()),
        "speed": produced / seconds if predictor is not None and seconds > 0 else float("nan"),
        "samples": float(len(values)),
    }


def describe(options: dict[str, Any]) -> str:
    """Options as short key=value text; sequence settings only where they differ from the defaults."""
    parts = []
    for key, value in options.items():
        if isinstance(value, SequenceSettings):
            default = SequenceSettings()
            parts += [
                f"{k}={getattr(value, k)}" for k in vars(value) if getattr(value, k) != getattr(default, k)
            ]
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def print_table(text: str, results: dict[str, dict[str, float]], rows: dict[str, Row], title: str) -> None:
    print(f"\n### {text} ({title})\n")
    print(
        "| sampler | spec / options | SmolLM2 bits/byte | distinct 4-grams | longest copy (mean / max) | bytes/s | samples |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, r in results.items():
        row = rows[label]
        what = f"`{row.spec}` {describe(row.options)}".strip() if row.spec else "the text itself"
        speed = "-" if np.isnan(r["speed"]) else f"{r['speed']:.1f}"
        print(
            f"| {label} | {what} | {r['smollm2']:.2f} | {r['4gram']:.3f} | {r['copy']:.1f} / {r['copy_max']:.0f} "
            f"| {speed} | {r['samples']:.0f} |"
        )
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", default="moby-dick,jargon", help="comma-separated shipped texts")
    parser.add_argument("--rows", default=",".join(r.label for r in ROWS), help="comma-separated row labels")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--slow-seeds", type=int, default=3, help="seeds for the language models (~10 bytes/s)"
    )
    parser.add_argument("--prompts", type=int, default=3, choices=range(1, len(PROMPT_AT) + 1))
    parser.add_argument("--bytes", type=int, default=200, help="bytes per sample")
    parser.add_argument("--slice", type=int, default=1900, help="bytes of text before the prompt")
    parser.add_argument("--prompt-bytes", type=int, default=60)
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help='extra gzip row as JSON: {"label": ..., "spec": "gzip", "settings": {...}, other sample() options}',
    )
    args = parser.parse_args(argv)
    rows = {r.label: r for r in ROWS}
    for raw in args.variant:
        variant = json.loads(raw)
        label, spec = variant.pop("label"), variant.pop("spec", "gzip")
        if "settings" in variant:
            variant["settings"] = SequenceSettings(**variant["settings"])
        rows[label] = Row(label, spec, variant)
        args.rows += f",{label}"
    labels = list(dict.fromkeys(label for label in args.rows.split(",") if label))  # each row once, in order
    unknown = [label for label in labels if label not in rows]
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {', '.join(rows)}")
    judge = Judge()
    print(
        f"sample quality: {args.seeds} seeds x {args.prompts} prompts, {args.bytes} bytes per sample, "
        f"conditioning {args.slice} bytes + a {args.prompt_bytes}-byte prompt; language models "
        f"{min(args.seeds, args.slow_seeds)} seeds; one process; sequence defaults: {SequenceSettings()}"
    )
    for text in args.texts.split(","):
        case_list = cases(text, args.prompts, args.slice, args.prompt_bytes, args.bytes)
        results = {}
        for label in labels:
            row = rows[label]
            seeds = min(args.seeds, args.slow_seeds) if row.slow else args.seeds
            results[label] = run_row(row, case_list, seeds, args.bytes, judge)
            print(f"  {text} {label}: {results[label]}", file=sys.stderr, flush=True)
        print_table(text, results, rows, "tuned on" if text == "moby-dick" else "held out")


if __name__ == "__main__":
    main()
