"""`make demo`: the main job on embedded defaults, offline.

Opens with what `genzip sample --compressor gzip --prompt-file FILE` writes with
no other option (a slice of the shipped Moby-Dick text as the file), then
samples the same prompt from other predictors at their defaults, then scores
512 bytes of text with every kind of predictor and prints a bits-per-byte table next
to the compressors' own rates.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from . import corpus
from .likelihood import score
from .registry import ENTRIES, build
from .sampler import sample

SCORE_OFFSET = 400_000
SCORE_BYTES = 512
SAMPLE_BYTES = 200
#: after the default gzip sample: the paper's per-byte gzip sampler, then other predictors, all at their defaults
SAMPLERS = (
    ("gzip:adapter=paper", "symbol"),
    ("zstd", "auto"),
    ("ppm", "auto"),
    ("ctw", "auto"),
    ("bytelm", "auto"),
    ("smollm2", "auto"),
)
SCORERS = (
    "gzip:adapter=paper",
    "gzip",
    "zstd",
    "lzma",
    "ppmd",
    "order",
    "ppm",
    "ctw",
    "cm",
    "mix:cm+ppm",
    "bytelm",
    "smollm2",
)


def available(names: tuple[str, ...]) -> list[str]:
    """The registered predictors among `names`, in order (the demo runs on what is installed)."""
    return [n for n in names if n.partition(":")[0] in ENTRIES]


def main() -> None:
    console = Console(width=max(100, Console().width))
    text = corpus.text()
    prompt = corpus.default_prompt()  # what `genzip sample -c gzip` continues when given no prompt
    console.rule("genzip demo: every predictor is a compressor, every compressor a predictor")
    console.print(f"Prompt (last 300 of {len(prompt)} bytes of Moby-Dick as context):")
    console.print(prompt[-300:].decode("utf-8", "replace"), style="dim", markup=False)

    start = time.perf_counter()
    with build("gzip") as gzip:
        out = sample(gzip, prompt, n=SAMPLE_BYTES, seed=0)
    console.rule(
        f"genzip sample --compressor gzip --seed 0  ({time.perf_counter() - start:.1f} s; no other option)"
    )
    console.print(out.decode("utf-8", "replace"), markup=False)

    for spec, method in SAMPLERS:
        if not available((spec,)):
            continue
        start = time.perf_counter()
        with build(spec) as predictor:
            out = sample(predictor, prompt, n=SAMPLE_BYTES, seed=0, method=method)
        flag = "" if method == "auto" else f" --method {method}"
        console.rule(f"-c {spec}{flag}  ({time.perf_counter() - start:.1f} s, seed 0)")
        console.print(out.decode("utf-8", "replace"), markup=False)

    data = text[SCORE_OFFSET : SCORE_OFFSET + SCORE_BYTES]
    table = Table(title=f"bits per byte on {len(data)} bytes of Moby-Dick (lower is better)")
    for column in ("predictor", "kind", "bits/byte", "compressor's own", "seconds"):
        table.add_column(column, justify="left" if column in ("predictor", "kind") else "right", no_wrap=True)
    specs = []
    for spec in available(SCORERS):
        start = time.perf_counter()
        with build(spec) as predictor:
            specs.append(predictor.spec)
            result = score(data, predictor)
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
        "(adapter=paper is the paper's formula; the default adds exact bits, lookahead over "
        "continuations, dithering, online calibration and recalibration); 'compressor's own' is what the "
        "compressor itself writes for the same bytes."
    )


if __name__ == "__main__":
    main()
