"""In-context compression (the paper's Fig. 4): compression rate vs sequence length.

For each length L the data is cut into independent sequences of L bytes.

* Real compressors: the size they write for each sequence, summed, over the
  data size, for L from 128 bytes up to `max_length` (adaptive compressors keep
  improving with longer sequences).
* Context models (adaptive, unbounded context): scored at each L up to `max_length`.
* Language models: one pass over sequences of `lm_length` bytes (their context)
  gives every shorter L at once: an autoregressive model's code lengths for the
  first L bytes of a sequence do not depend on what follows, so the rate at L is
  the mean code length of the first L bytes of each sequence (token models:
  token bits spread over their bytes, so L is exact up to one token).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data import corpus_bytes
from ..errors import InputError
from ..evaluation import compare, markdown_table
from ..predictor import SequencePredictor
from ..registry import Kind, build, parse_spec
from . import (
    DEFAULT_SPECS,
    Report,
    Timer,
    iter_skipped,
    machine_note,
    pct,
    prepare_dir,
    usable_specs,
    write_text,
)


def lengths_up_to(maximum: int, start: int = 128) -> list[int]:
    """Powers of two from `start` to `maximum`."""
    out, n = [], start
    while n <= maximum:
        out.append(n)
        n *= 2
    return out


def prefix_rates(byte_bits: np.ndarray, sequence: int, lengths: list[int]) -> dict[int, float]:
    """Rate (%) at each length L <= sequence from per-byte bits of consecutive sequences of `sequence` bytes."""
    whole = len(byte_bits) // sequence
    rows = np.asarray(byte_bits[: whole * sequence]).reshape(whole, sequence)
    return {n: 100 * float(rows[:, :n].sum()) / 8 / (whole * n) for n in lengths if n <= sequence and whole}


def own_rate(predictor: SequencePredictor, data: bytes, length: int) -> float:
    """Rate (%) of the compressor behind `predictor` on `data` cut into pieces of `length` bytes."""
    sizes = [predictor.compressed_size(data[i : i + length]) for i in range(0, len(data), length)]
    if any(size is None for size in sizes):
        raise InputError(f"{predictor.spec}: no compressor behind this predictor")
    return 100 * sum(size or 0 for size in sizes) / len(data)


def in_context(
    out_dir: Path,
    specs: tuple[str, ...] | list[str] = DEFAULT_SPECS,
    modalities: tuple[str, ...] = ("text", "image", "audio"),
    n_bytes: int = 65536,
    max_length: int = 65536,
    lm_length: int = 2048,
    lm_sequences: int = 4,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> Report:
    """Run the in-context experiment; write `in_context.md`, `in_context.json` and `in_context.png`."""
    out_dir = prepare_dir(out_dir)
    report = Report("in_context")
    specs = usable_specs(specs, report)
    kinds = {s: parse_spec(s)[0].kind for s in specs}
    lengths = lengths_up_to(min(max_length, n_bytes))
    curves: dict[str, dict[str, dict[int, float]]] = {m: {} for m in modalities}
    timings: dict[str, float] = {}
    with Timer() as total:
        for modality in modalities:
            data = corpus_bytes(modality, n_bytes, block=n_bytes)  # one block from the middle of the corpus
            for spec in specs:
                with Timer() as t:
                    if kinds[spec] is Kind.COMPRESSOR:
                        with build(spec) as predictor:
                            curves[modality][spec] = {n: own_rate(predictor, data, n) for n in lengths}
                    elif kinds[spec] is Kind.LANGUAGE_MODEL:
                        part = data[: lm_length * lm_sequences]
                        result = compare(
                            [(modality, part)],
                            [spec],
                            lm_length,
                            jobs=jobs,
                            cache_dir=cache_dir,
                            progress=progress,
                        ).results[0]
                        if result.byte_bits is None:
                            raise InputError(f"{spec}: no per-byte code lengths to cut into prefixes")
                        curves[modality][spec] = prefix_rates(result.byte_bits, lm_length, lengths)
                    else:
                        curve: dict[int, float] = {}
                        for n in lengths:
                            result = compare(
                                [(modality, data)],
                                [spec],
                                n,
                                jobs=jobs,
                                cache_dir=cache_dir,
                                progress=progress,
                            ).results[0]
                            if result.rate is not None:
                                curve[n] = result.rate
                        curves[modality][spec] = curve
                timings[f"{modality}, {spec}"] = t.seconds
    report.seconds = total.seconds

    lines = [
        "# In-context compression: rate (%) vs sequence length (lower is better)",
        "",
        f"Data: {n_bytes:,} bytes from the middle of each modality of the shipped corpus, cut into sequences of L bytes. "
        f"Language models: {lm_sequences} sequence(s) of {lm_length:,} bytes, rate at L from the first L bytes "
        "of each (their context limits L). Compressors: the size they write; models: arithmetic-coded size.",
        "",
    ]
    from ..plots import line_figure

    for modality in modalities:
        lines += [f"## {modality}", ""]
        body = [[spec] + [pct(curves[modality][spec].get(n)) for n in lengths] for spec in curves[modality]]
        lines += [markdown_table(["predictor"] + [f"L={n}" for n in lengths], body)]
        line_figure(
            out_dir / f"in_context_{modality}.png",
            lengths,
            {spec: [curves[modality][spec].get(n) for n in lengths] for spec in curves[modality]},
            "sequence length L (bytes, log scale)",
            "compression rate (% of original size)",
            f"in-context compression, {modality} (lower is better)",
            reference=100,
        )
        report.files.append(out_dir / f"in_context_{modality}.png")
    lines += ["## Wall time", "", f"Measured on {machine_note()} (shared with other jobs while running).", ""]
    lines += [f"- {k}: {v:.1f} s" for k, v in timings.items()] + [f"- total: {report.seconds:.1f} s", ""]
    lines += list(iter_skipped(report))
    write_text(out_dir / "in_context.md", "\n".join(lines) + "\n")
    write_text(
        out_dir / "in_context.json",
        json.dumps(
            {
                "lengths": lengths,
                "curves": {
                    m: {s: {str(k): v for k, v in c.items()} for s, c in cs.items()}
                    for m, cs in curves.items()
                },
                "seconds": timings,
            },
            indent=2,
        ),
    )
    report.files += [out_dir / "in_context.md", out_dir / "in_context.json"]
    return report
