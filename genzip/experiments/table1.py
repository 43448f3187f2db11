"""The paper's Table 1: compression rate per predictor x modality, chunked (2048 bytes) and whole-file.

Raw rate: for real compressors, the size the compressor itself writes (what the
paper reports); for models, the arithmetic-coded size (ideal code length / 8).
Adjusted rate: the raw size plus the model's size (2 bytes per parameter) over
the data size; it equals the raw rate for predictors without parameters.

Language models are slow on a CPU, so they see only the first `lm_bytes` of
each modality (a smaller, separately stated subset); everything else sees
`n_bytes`. With `adapter=True` the compressors' arithmetic-coded rate (their
code lengths through the adapter) is added, on the `lm_bytes` subset. With
`protocol="paper"` the rates follow the paper's code (see `genzip.evaluation.protocol`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..chunks import DEFAULT_CHUNK_BYTES
from ..data import MODALITIES, corpus_bytes
from ..evaluation import Comparison, PredictorResult, Protocol, compare, markdown_table
from ..registry import Kind, parse_spec
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

CHUNKINGS: tuple[int | None, ...] = (DEFAULT_CHUNK_BYTES, None)
GIB = 1 << 30


@dataclass(frozen=True)
class Column:
    """One column of the table: a modality, chunked or whole."""

    modality: str
    chunk: int | None

    @property
    def label(self) -> str:
        return f"chunk {self.chunk}" if self.chunk else "whole"

    @property
    def key(self) -> str:
        return f"{self.modality}|{self.label}"


@dataclass
class Cell:
    """One predictor on one column: raw and adjusted rate (%), and the adapter's coded rate if measured."""

    raw: float | None = None
    adjusted: float | None = None
    adapter: float | None = None


@dataclass
class Row:
    spec: str
    kind: Kind
    model_bytes: int | None = None
    cells: dict[Column, Cell] = field(default_factory=dict)

    def cell(self, column: Column) -> Cell:
        return self.cells.get(column, Cell())


@dataclass
class Table1:
    """Every number Table 1 shows, and how it was measured."""

    n_bytes: int
    lm_bytes: int
    modalities: tuple[str, ...]
    protocol: Protocol
    rows: dict[str, Row] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def columns(self) -> list[Column]:
        return [Column(m, c) for c in CHUNKINGS for m in self.modalities]

    def row(self, result: PredictorResult) -> Row:
        row = self.rows.setdefault(result.name, Row(result.name, result.kind))
        row.model_bytes = result.model_size_bytes
        return row

    def of_kind(self, kind: Kind) -> list[Row]:
        return [r for r in self.rows.values() if r.kind is kind]


@dataclass(frozen=True)
class Settings:
    """How table1 runs its comparisons (engine placement, cache, protocol); none of it changes the bits."""

    jobs: int | None = None
    cache_dir: Path | None = None
    progress: bool = False
    engine: str = "local"
    address: str | None = None
    protocol: Protocol = Protocol.GENZIP

    def compare(
        self, modality: str, data: bytes, specs: list[str], chunk: int | None, native_only: bool
    ) -> Comparison:
        return compare([(modality, data)], specs, chunk, jobs=self.jobs, cache_dir=self.cache_dir,
                       native_only=native_only, progress=self.progress, engine=self.engine, address=self.address,
                       protocol=self.protocol, modalities=[modality])  # fmt: skip


def record_rates(table: Table1, column: Column, comparison: Comparison) -> None:
    """Raw and adjusted rates: a compressor's own size where it has one, else the coded size."""
    for r in comparison.results:
        if r.native_rate is not None:
            table.row(r).cells[column] = Cell(r.native_rate, r.native_rate)
        else:
            adjusted = r.adjusted_rate if r.model_size_bytes is not None else r.rate
            table.row(r).cells[column] = Cell(r.rate, adjusted)


def record_adapter(table: Table1, column: Column, comparison: Comparison) -> None:
    """The compressors' arithmetic-coded rate through the code-length adapter."""
    for r in comparison.results:
        table.row(r).cells.setdefault(column, Cell()).adapter = r.rate


def measure(
    specs: list[str], n_bytes: int, lm_bytes: int, modalities: tuple[str, ...], adapter: bool, seed: int,
    settings: Settings,
) -> Table1:  # fmt: skip
    """Run every comparison Table 1 needs and collect the rates."""
    kinds = {s: parse_spec(s)[0].kind for s in specs}
    models = [s for s in specs if kinds[s] is Kind.LANGUAGE_MODEL]
    others = [s for s in specs if kinds[s] is not Kind.LANGUAGE_MODEL]
    compressors = [s for s in others if kinds[s] is Kind.COMPRESSOR]
    table = Table1(n_bytes, lm_bytes, modalities, settings.protocol)
    for modality in modalities:
        full = corpus_bytes(modality, n_bytes, seed, block=DEFAULT_CHUNK_BYTES)
        small = corpus_bytes(modality, lm_bytes, seed, block=DEFAULT_CHUNK_BYTES)
        for chunk in CHUNKINGS:
            column = Column(modality, chunk)
            with Timer() as t:
                if others:
                    record_rates(
                        table, column, settings.compare(modality, full, others, chunk, native_only=True)
                    )
                if models:
                    record_rates(
                        table, column, settings.compare(modality, small, models, chunk, native_only=False)
                    )
                if adapter and compressors and chunk is not None:
                    record_adapter(
                        table, column, settings.compare(modality, small, compressors, chunk, False)
                    )
            table.seconds[f"{modality}, {column.label}"] = t.seconds
    return table


def rate_table(table: Table1, value: str) -> str:
    """One Markdown table of the cells' `value` (raw or adjusted), a row per predictor."""
    headers = ["predictor"] + [f"{c.modality} {c.label}" for c in table.columns]
    body = [
        [row.spec] + [pct(getattr(row.cell(c), value)) for c in table.columns] for row in table.rows.values()
    ]
    return markdown_table(headers, body)


def gib_table(table: Table1) -> str:
    """Adjusted rates as if the dataset were 1 GiB (the paper's size): raw rate + model bytes / 1 GiB."""
    headers = ["predictor", "model bytes"] + [f"{c.modality} {c.label}" for c in table.columns]
    body = []
    for row in table.of_kind(Kind.LANGUAGE_MODEL):
        model = row.model_bytes or 0
        raws = [row.cell(c).raw for c in table.columns]
        body.append(
            [row.spec, f"{model:,}"] + [pct(None if r is None else r + 100 * model / GIB) for r in raws]
        )
    return markdown_table(headers, body)


def adapter_table(table: Table1) -> str:
    columns = [Column(m, DEFAULT_CHUNK_BYTES) for m in table.modalities]
    body = [
        [row.spec] + [pct(row.cell(c).adapter) for c in columns] for row in table.of_kind(Kind.COMPRESSOR)
    ]
    return markdown_table(["predictor", *table.modalities], body)


def to_markdown(table: Table1, report: Report) -> str:
    models = [row.spec for row in table.of_kind(Kind.LANGUAGE_MODEL)]
    protocol = (
        "Protocol: the paper's (a compressor's header counted once over all chunks; language models see "
        "right-shifted bytes for image/audio/random and MSB-masked non-ASCII text, rate rescaled by the bits kept)."
        if table.protocol is Protocol.PAPER
        else "Protocol: genzip's (every chunk's size counted in full; every predictor sees the bytes as they are)."
    )
    lines = [
        "# Table 1: compression rates (%) on the shipped corpus (lower is better)",
        "",
        f"Data per modality: {table.n_bytes:,} bytes for compressors and context models, "
        f"{table.lm_bytes:,} bytes for language models ({', '.join(models) or 'none'}), taken as 2048-byte blocks "
        "spread evenly over the shipped corpus (whole-file = those blocks concatenated); "
        "text = Moby-Dick, image = 32x64 greyscale patches of the shipped photos, "
        "audio = the shipped 16 kHz recording as 8-bit samples, random = seeded uniform bytes.",
        "Compressors: the size they write themselves; models: arithmetic-coded size (ideal code length / 8).",
        protocol,
        "",
        "## Raw rate (%)",
        "",
        rate_table(table, "raw"),
        "## Adjusted rate (%): raw size + model size (2 bytes/parameter) over data size",
        "",
        rate_table(table, "adjusted"),
    ]
    if models:
        lines += ["## Adjusted rate (%) if the dataset were 1 GiB (the paper's dataset size; raw rate as measured here)",
                  "", gib_table(table)]  # fmt: skip
    if any(cell.adapter is not None for row in table.rows.values() for cell in row.cells.values()):
        lines += [f"## Compressors through the code-length adapter: arithmetic-coded rate (%), chunk 2048, "
                  f"{table.lm_bytes:,} bytes", "", adapter_table(table)]  # fmt: skip
    lines += ["## Wall time", "", f"Measured on {machine_note()} (shared with other jobs while running).", ""]
    lines += [f"- {k}: {v:.1f} s" for k, v in table.seconds.items()]
    lines += [f"- total: {report.seconds:.1f} s", "", *iter_skipped(report)]
    return "\n".join(lines) + "\n"


def to_json(table: Table1, report: Report) -> str:
    payload: dict[str, Any] = {
        "n_bytes": table.n_bytes,
        "lm_bytes": table.lm_bytes,
        "protocol": str(table.protocol),
        "rows": {
            row.spec: {
                c.key: {"raw": v.raw, "adjusted": v.adjusted, "adapter": v.adapter}
                for c, v in row.cells.items()
            }
            for row in table.rows.values()
        },
        "seconds": table.seconds,
        "skipped": report.skipped,
    }
    return json.dumps(payload, indent=2)


def plot(table: Table1, path: Path) -> None:
    from ..plots import grouped_bars

    grouped_bars(
        path,
        [f"{c.modality}\n{c.label}" for c in table.columns],
        {row.spec: [row.cell(c).raw for c in table.columns] for row in table.rows.values()},
        "raw compression rate (% of original size)",
        "Table 1: raw compression rate per modality (lower is better; dashed line = 100%)",
    )


def table1(
    out_dir: Path,
    specs: tuple[str, ...] | list[str] = DEFAULT_SPECS,
    n_bytes: int = 65536,
    lm_bytes: int = 8192,
    modalities: tuple[str, ...] = MODALITIES,
    adapter: bool = False,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    seed: int = 0,
    engine: str = "local",
    address: str | None = None,
    protocol: Protocol | str = Protocol.GENZIP,
) -> Report:
    """Run Table 1 and write `table1.md`, `table1.json` and `table1.png` into `out_dir`."""
    out_dir = prepare_dir(out_dir)
    report = Report("table1")
    usable = usable_specs(specs, report)
    settings = Settings(jobs, cache_dir, progress, engine, address, Protocol(protocol))
    with Timer() as total:
        table = measure(usable, n_bytes, lm_bytes, modalities, adapter, seed, settings)
    report.seconds = total.seconds
    md, js, png = out_dir / "table1.md", out_dir / "table1.json", out_dir / "table1.png"
    write_text(md, to_markdown(table, report))
    write_text(js, to_json(table, report))
    plot(table, png)
    report.files = [md, js, png]
    return report
