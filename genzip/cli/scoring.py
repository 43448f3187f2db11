"""`genzip score` and `genzip compare`: code lengths, bits per byte, comparisons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .app import (
    AddressOption,
    DeviceOption,
    DtypeOption,
    EngineOption,
    JobsOption,
    ProtocolOption,
    build_predictor,
    interactive,
    parse_chunk,
    read_input,
    write_output,
)


def score(
    files: Annotated[list[Path], typer.Argument(help="files to score")],
    compressor: Annotated[
        list[str], typer.Option("--compressor", "-c", help="predictor spec; repeat to compare several")
    ] = ["gzip"],  # noqa: B006 - typer needs a literal default
    chunk: Annotated[int | None, typer.Option(help="score independent chunks of this many bytes")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
) -> None:
    """Bits per byte of files under one or more predictors (and the compressor's own rate)."""
    from ..likelihood import score as score_data

    inputs = [(str(f), read_input(f)) for f in files]
    for f, data in inputs:
        if not data:
            raise InputError(f"empty input: {f} (bits per byte is undefined)")
    results = []
    if engine != "local":
        if chunk is None:
            raise InputError(f"--engine {engine} scores independent chunks: add --chunk N")
        from ..evaluation.compare import score_files

        results = score_files(
            inputs,
            compressor,
            chunk,
            jobs=jobs,
            device=device,
            dtype=dtype,
            engine=engine,
            address=address,
            progress=interactive(),
        )
    for spec in compressor if engine == "local" else ():
        with build_predictor(spec, jobs, device, dtype, progress=interactive()) as predictor:
            for name, data in inputs:
                results.append((name, spec, score_data(data, predictor, chunk)))
    if as_json:
        typer.echo(json.dumps([{"file": f, **s.as_dict()} for f, _, s in results], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bits per byte (lower is better)")
    table.add_column("file", overflow="fold")
    table.add_column("predictor (full specs below)", no_wrap=True)
    for column in ("bytes", "bits/byte", "compressor's own bits/byte", "predictor / own"):
        table.add_column(column, justify="right")
    for f, spec, s in results:
        own = s.native_bits_per_byte
        table.add_row(
            f,
            spec,
            str(s.n_bytes),
            f"{s.bits_per_byte:.3f}",
            "-" if own is None else f"{own:.3f}",
            "-" if own is None else f"{s.bits_per_byte / own:.2f}x",
        )
    console = Console(width=max(110, Console().width))
    console.print(table)
    for spec in dict.fromkeys(s.spec for _, _, s in results):
        console.print(f"  {spec}", style="dim", markup=False, soft_wrap=True)


def compare(
    files: Annotated[list[Path], typer.Argument(help="files to compress (text, images, audio)")],
    compressor: Annotated[
        list[str], typer.Option("--compressor", "-c", help="predictor spec; repeat to compare several")
    ] = ["gzip", "lzma"],  # noqa: B006 - typer needs a literal default
    chunk: Annotated[
        str, typer.Option(help="independent chunks of this many bytes, or 'none' for whole files")
    ] = "2048",
    modality: Annotated[
        str, typer.Option(help="auto | text | image | audio (auto: from the file suffix)")
    ] = "auto",
    native_only: Annotated[
        bool, typer.Option(help="for real compressors, measure only their own output (fast; no code lengths)")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the results as JSON here")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="write the results as CSV here")] = None,
    markdown_out: Annotated[
        Path | None, typer.Option("--markdown", help="write the table as Markdown here")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="write a PNG: surprisal trace + bar chart of rates")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="cache per-chunk results here; a rerun resumes")] = None,
    max_bytes: Annotated[
        int | None, typer.Option(help="score only the first N bytes (over all files)")
    ] = None,
    sample_chunks: Annotated[
        int | None, typer.Option(help="score N chunks drawn uniformly; rates with standard errors")
    ] = None,
    seed: Annotated[int, typer.Option(help="--sample-chunks: the seed of the draw")] = 0,
    protocol: ProtocolOption = "genzip",
    engine: EngineOption = "local",
    address: AddressOption = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
) -> None:
    """Compression rates of several predictors on the same files, as one table (and JSON/CSV/plot)."""
    from ..data import detect_modality, load
    from ..evaluation import compare as run_compare
    from ..evaluation import rich_table, to_csv, to_json, to_markdown
    from ..evaluation.protocol import parse_protocol

    chunk_size = parse_chunk(chunk)
    if modality not in ("auto", "text", "image", "audio"):
        raise InputError(f"unknown modality {modality!r}; use auto, text, image or audio")
    inputs = [(str(f), load(f, modality)) for f in files]
    result = run_compare(
        inputs,
        compressor,
        chunk_size,
        jobs=jobs,
        cache_dir=cache,
        native_only=native_only,
        device=device,
        dtype=dtype,
        progress=interactive(),
        engine=engine,
        address=address,
        max_bytes=max_bytes,
        sample_chunks=sample_chunks,
        seed=seed,
        protocol=parse_protocol(protocol),
        modalities=[detect_modality(f) if modality == "auto" else modality for f in files],
        on_estimate=lambda estimate: typer.echo(estimate.describe(), err=True),
    )
    from rich.console import Console

    widest = max(len(r.name or r.spec) for r in result.results)
    Console(width=max(160 + widest, Console().width)).print(rich_table(result))
    for path, text in ((json_out, to_json), (csv_out, to_csv), (markdown_out, to_markdown)):
        if path is not None:
            write_output(path, text(result).encode())
    if plot is not None:
        from ..plots import comparison_figure

        comparison_figure(result, plot)
