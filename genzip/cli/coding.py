"""`genzip compress` and `genzip decompress`: streamed, atomic, with limits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..predictor import RuntimeOptions
from .app import (
    DeviceOption,
    DtypeOption,
    JobsOption,
    SpecOption,
    build_predictor,
    interactive,
    open_input,
    open_output,
    parse_size,
)


def compress(
    file: Annotated[Path, typer.Argument(help="file to compress ('-' for stdin)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="container to write ('-' for stdout)")],
    compressor: SpecOption = "gzip",
    chunk: Annotated[int | None, typer.Option(help="code independent chunks of this many bytes")] = None,
    verify: Annotated[bool, typer.Option(help="decode right after encoding and check the checksum")] = False,
    batch: Annotated[
        int | None, typer.Option(help="with --chunk: chunks coded side by side by language models (0 = off)")
    ] = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
) -> None:
    """Compress a file with any predictor into a self-describing container (streamed, frame by frame)."""
    import shutil
    import tempfile

    from ..container import Limits, decode_stream, encode_stream

    with open_input(file) as (source, size):
        predictor = build_predictor(compressor, jobs, device, dtype)
        try:
            with open_output(output) as sink:
                if not verify:
                    stats = encode_stream(source, sink, predictor, chunk, interactive(), batch, total=size)
                else:  # spool, decode the spool (the checksum proves the round trip), then copy it out
                    with tempfile.TemporaryFile() as spool:
                        stats = encode_stream(
                            source, spool, predictor, chunk, interactive(), batch, total=size
                        )
                        spool.seek(0)
                        decode_stream(spool, None, predictor=predictor, limits=Limits(None, None))
                        spool.seek(0)
                        shutil.copyfileobj(spool, sink)
        finally:
            predictor.close()
    n, packed, payload = stats.input_bytes, stats.output_bytes, stats.payload_bytes
    rate = (
        f"{8 * packed / n:.3f} bits/byte; payload {payload} bytes = "
        f"{8 * payload / n:.3f} bits/byte + header and framing {packed - payload} bytes"
        if n
        else "empty input"
    )
    typer.echo(f"{file}: {n} -> {packed} bytes ({rate}) with {predictor.spec}", err=True)


def decompress(
    file: Annotated[Path, typer.Argument(help="container to decompress ('-' for stdin)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write ('-' for stdout)")],
    max_output: Annotated[
        str,
        typer.Option(help="refuse containers that decode to more bytes than this (k/m/g/t; 0 = no limit)"),
    ] = "4g",
    max_memory: Annotated[
        str, typer.Option(help="refuse containers whose model asks for more memory than this (0 = no limit)")
    ] = "4g",
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Decompress a container written by 'genzip compress' (streamed; a file output appears only when complete)."""
    from ..container import Limits, decode_stream

    limits = Limits(parse_size(max_output, "--max-output"), parse_size(max_memory, "--max-memory"))
    with open_input(file) as (source, _), open_output(output) as sink:
        decode_stream(source, sink, RuntimeOptions(jobs=jobs, device=device), interactive(), limits=limits)
