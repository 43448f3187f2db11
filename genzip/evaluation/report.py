"""The output formats of a comparison: terminal table, Markdown, JSON and CSV (plots: `genzip.plots`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from .results import Comparison, PredictorResult

COLUMNS = (
    "predictor",
    "kind",
    "bytes",
    "bits/byte",
    "rate %",
    "coded bytes",
    "own bytes",
    "own rate %",
    "model bytes",
    "adjusted rate %",
)

#: extra columns of a sampled run: the standard errors of bits/byte and of the compressor's own rate
SAMPLED_COLUMNS = ("± bits/byte", "± own rate %")


def _cell(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def columns(comparison: Comparison) -> tuple[str, ...]:
    """The table's headers: `COLUMNS`, with the standard errors beside their values for a sampled run."""
    if not comparison.sampled:
        return COLUMNS
    return (*COLUMNS[:4], SAMPLED_COLUMNS[0], *COLUMNS[4:8], SAMPLED_COLUMNS[1], *COLUMNS[8:])


def _row(r: PredictorResult, sampled: bool) -> list[str]:
    cells = [
        r.name or r.spec,
        str(r.kind),
        str(r.n_bytes),
        _cell(r.bits_per_byte, ".3f"),
        _cell(r.rate, ".1f"),
        _cell(r.coded_bytes, ".0f"),
        _cell(r.native_bytes, "d"),
        _cell(r.native_rate, ".1f"),
        _cell(r.model_size_bytes, "d"),
        _cell(r.adjusted_rate, ".1f"),
    ]
    if sampled:
        sample = r.sample
        cells.insert(4, _cell(None if sample is None else sample.bits_per_byte_se, ".3f"))
        cells.insert(9, _cell(None if sample is None else sample.native_rate_se, ".1f"))
    return cells


def table_rows(comparison: Comparison) -> list[list[str]]:
    """The table's cells as strings, one row per predictor, in `columns(comparison)` order."""
    return [_row(r, comparison.sampled) for r in comparison.results]


def title(comparison: Comparison) -> str:
    chunking = "whole files" if comparison.chunk_size is None else f"{comparison.chunk_size}-byte chunks"
    sample = next((r.sample for r in comparison.results if r.sample is not None), None)
    if sample is not None:
        chunking += f", {sample.drawn} of {sample.population} drawn uniformly (seed {sample.seed}; ± = standard error)"
    if comparison.protocol != "genzip":
        chunking += f", {comparison.protocol} protocol"
    return f"compression of {len(comparison.files)} file(s), {chunking} (rate = compressed / original; lower is better)"


def rich_table(comparison: Comparison) -> Any:
    """The comparison as a rich Table for the terminal."""
    from rich.table import Table

    table = Table(title=title(comparison))
    for c in columns(comparison):
        table.add_column(c, justify="left" if c in ("predictor", "kind") else "right", no_wrap=True)
    for row in table_rows(comparison):
        table.add_row(*row)
    return table


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (first column left-aligned, the rest right-aligned)."""
    align = [":--"] + ["--:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def to_markdown(comparison: Comparison) -> str:
    return f"**{title(comparison)}**\n\n" + markdown_table(columns(comparison), table_rows(comparison))


def to_json(comparison: Comparison) -> str:
    return json.dumps(comparison.as_dict(), indent=2)


CSV_HEADER = (
    "predictor", "kind", "file", "bytes", "total_bits", "bits_per_byte", "rate_percent",
    "native_bytes", "native_rate_percent", "model_size_bytes", "adjusted_rate_percent",
)  # fmt: skip


def to_csv(comparison: Comparison) -> str:
    """One row per predictor and file, plus an `(all)` row per predictor with the totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in comparison.results:
        writer.writerow(
            [r.spec, r.kind, "(all)", r.n_bytes, r.total_bits, r.bits_per_byte, r.rate,
             r.native_bytes, r.native_rate, r.model_size_bytes, r.adjusted_rate]
        )  # fmt: skip
        for f in r.per_file:
            bits, native = f["total_bits"], f["native_bytes"]
            writer.writerow(
                [r.spec, r.kind, f["file"], f["bytes"], bits, f["bits_per_byte"],
                 None if bits is None else 100 * bits / 8 / f["bytes"], native,
                 None if native is None else 100 * native / f["bytes"], r.model_size_bytes, None]
            )  # fmt: skip
    return out.getvalue()
