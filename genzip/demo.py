"""`make demo`: the main job on embedded defaults, offline.

Takes a slice of the shipped Moby-Dick text, samples continuations of one
prompt from gzip and from other predictors, then scores the same 2 KB of text
with every kind of predictor and prints a bits-per-byte table next to the
compressors' own rates.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from . import corpus
from .likelihood import score
from .registry import ENTRIES, build
from .sampler import sample

PROMPT_OFFSET = 200_000
SCORE_OFFSET = 400_000
SCORE_BYTES = 1024
SAMPLE_BYTES = 120
TEMPERATURE = 0.5
#: the paper's naive horizon-1 gzip sampler, then genzip's match-aware lookahead, then the models
SAMPLERS = ("gzip:adapter=paper", "gzip:lookahead=16", "ppm", "ctw", "bytelm", "smollm2")
SCORERS = (
    "gzip:adapter=paper",
    "gzip",
    "gzip:lookahead=16,calibrate=true",
    "zstd",
    "lzma",
    "ppmd",
    "order",
    "ppm",
    "ctw",
    "bytelm",
    "smollm2",
)


def available(names: tuple[str, ...]) -> list[str]:
    """The registered predictors among `names`, in order (the demo runs on what is installed)."""
    return [n for n in names if n.partition(":")[0] in ENTRIES]


def main() -> None:
    console = Console(width=max(100, Console().width))
    text = corpus.text()
    prompt = text[PROMPT_OFFSET : PROMPT_OFFSET + 1500]
    prompt = prompt[prompt.index(b"\n\n") + 2 :]  # start at a paragraph
    console.rule("genzip demo: every predictor is a compressor, every compressor a predictor")
    console.print(f"Prompt (last 300 of {len(prompt)} bytes of Moby-Dick as context):")
    console.print(prompt[-300:].decode("utf-8", "replace"), style="dim", markup=False)

    for spec in available(SAMPLERS):
        predictor = build(spec)
        start = time.perf_counter()
        out = sample(predictor, prompt, n=SAMPLE_BYTES, temperature=TEMPERATURE, seed=0)
        predictor.close()
        console.rule(f"sample from {spec}  ({time.perf_counter() - start:.1f} s, seed 0, temperature {TEMPERATURE})")
        console.print(out.decode("utf-8", "replace"), markup=False)

    data = text[SCORE_OFFSET : SCORE_OFFSET + SCORE_BYTES]
    table = Table(title=f"bits per byte on {len(data)} bytes of Moby-Dick (lower is better)")
    for column in ("predictor", "kind", "bits/byte", "compressor's own", "seconds"):
        table.add_column(column, justify="left" if column in ("predictor", "kind") else "right", no_wrap=True)
    specs = []
    for spec in available(SCORERS):
        start = time.perf_counter()
        predictor = build(spec)
        specs.append(predictor.spec)
        result = score(data, predictor)
        predictor.close()
        own = result.native_bits_per_byte
        table.add_row(
            spec,
            ENTRIES[spec.partition(":")[0]].kind,
            f"{result.bits_per_byte:.3f}",
            "-" if own is None else f"{own:.3f}",
            f"{time.perf_counter() - start:.1f}",
        )
    console.print(table)
    console.print("full specs:", style="dim")
    for full in specs:
        console.print(f"  {full}", style="dim", markup=False, soft_wrap=True)
    console.print(
        "A compressor's predictor codes each byte from its 256 candidate code lengths "
        "(adapter=paper is the paper's formula; the default adds genzip's improvements: exact bits, "
        "lookahead, calibration, dithering); 'compressor's own' is what the compressor "
        "itself writes for the same bytes."
    )


if __name__ == "__main__":
    main()
