"""The `genzip` command line: parse, call the Python API, print.

Every user-fixable problem is a `GenzipError`, printed as one line on stderr
with exit status 2. Output files are written to a temporary name and renamed
when complete, so a failed run never leaves a partial file.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Optional

import typer

from .errors import GenzipError, InputError, SpecError
from .files import atomic_path, atomic_write
from .predictor import RuntimeOptions, SequencePredictor

app = typer.Typer(
    help="Language modeling is compression: compress, sample and score with any predictor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecOption = Annotated[
    str, typer.Option("--compressor", "-c", help="predictor spec, e.g. gzip, zstd:level=19 (see 'genzip list')")
]
JobsOption = Annotated[Optional[int], typer.Option("--jobs", "-j", help="worker processes (default: all cores)")]
DeviceOption = Annotated[str, typer.Option(help="cpu | cuda | auto (language models)")]
DtypeOption = Annotated[Optional[str], typer.Option(help="float32 | float16 | bfloat16 (language models)")]
EngineOption = Annotated[str, typer.Option(help="where chunks are scored: local (process pool) | ray")]
AddressOption = Annotated[Optional[str], typer.Option(help="--engine ray: join this running cluster (ray start --head)")]
ProtocolOption = Annotated[
    str, typer.Option(help="genzip | paper (header once for compressors, masked bytes for language models)")
]


def read_input(path: Path) -> bytes:
    """Read a file, or stdin for '-', with a clear error when it cannot be read."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a file: {path}") from None
    except PermissionError:
        raise InputError(f"permission denied: {path}") from None


def write_output(path: Path | None, data: bytes) -> None:
    """Write atomically to `path` (temp file + rename), or to stdout if None or '-'."""
    if path is None or str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    directory = path.resolve().parent
    if not directory.is_dir():
        raise InputError(f"output directory does not exist: {directory}")
    atomic_write(path, data)


def with_param(spec: str, name: str, value: int | None) -> str:
    """Add or override one parameter of a spec (`--context 512` -> `gzip:context=512`)."""
    if value is None:
        return spec
    from .registry import parse_spec

    entry, _ = parse_spec(spec)
    if not any(p.name == name for p in entry.params):
        raise SpecError(f"{entry.name} has no {name} parameter")
    return f"{spec}{',' if ':' in spec else ':'}{name}={value}"


def build_predictor(
    spec: str, jobs: int | None = None, device: str = "auto", dtype: str | None = None, progress: bool = False
) -> SequencePredictor:
    from .registry import build

    return build(spec, RuntimeOptions(jobs=jobs, device=device, dtype=dtype, progress=progress))


def interactive() -> bool:
    return sys.stderr.isatty()


@app.command()
def sample(
    compressor: SpecOption = "gzip",
    prompt: Annotated[str, typer.Option(help="text to continue")] = "",
    prompt_file: Annotated[
        Optional[Path], typer.Option(help="read the prompt (raw bytes: conditioning text + prompt) from a file")
    ] = None,
    n: Annotated[int, typer.Option("-n", "--bytes", help="bytes to generate")] = 200,
    seed: Annotated[Optional[int], typer.Option(help="random seed; the same seed gives the same sample")] = None,
    temperature: Annotated[
        Optional[float], typer.Option(help="0 = greedy, 1 = the predictor's own distribution [1]")
    ] = None,
    top_k: Annotated[Optional[int], typer.Option(help="keep only the k most likely symbols")] = None,
    top_p: Annotated[Optional[float], typer.Option(help="keep the smallest set with this much probability")] = None,
    min_p: Annotated[Optional[float], typer.Option(help="drop symbols below min_p x the most likely one")] = None,
    typical_p: Annotated[Optional[float], typer.Option(help="locally typical sampling: keep this much mass")] = None,
    repetition_penalty: Annotated[
        Optional[float], typer.Option(help="> 1 discourages symbols already in prompt or sample (CTRL's penalty)")
    ] = None,
    no_repeat_ngram_size: Annotated[
        Optional[int],
        typer.Option(help="no n-gram of this many symbols occurs twice in prompt + sample (0 = off; compressors: 25)"),
    ] = None,
    method: Annotated[
        str, typer.Option(help="auto (compressors: sequence, others: symbol) | symbol | sequence")
    ] = "auto",
    particles: Annotated[Optional[int], typer.Option(help="sequence method: particles per block")] = None,
    horizon: Annotated[Optional[int], typer.Option(help="sequence method: bytes per block")] = None,
    context: Annotated[Optional[int], typer.Option(help="override the compressor's context window (bytes)")] = None,
    lookahead: Annotated[
        Optional[int], typer.Option(help="compressors: score continuations of up to K bytes (spec lookahead=K)")
    ] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="write here instead of stdout")] = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
) -> None:
    """Generate bytes that continue a prompt, from any predictor (see docs/sampling.md)."""
    from dataclasses import replace

    from .sampler import SequenceSettings
    from .sampler import sample as draw_sample

    prompt_bytes = read_input(prompt_file) if prompt_file is not None else prompt.encode()
    spec = with_param(with_param(compressor, "context", context), "lookahead", lookahead)
    settings = SequenceSettings()
    if particles is not None:
        settings = replace(settings, particles=particles)
    if horizon is not None:
        settings = replace(settings, horizon=horizon, commit=min(settings.commit or horizon, horizon))
    predictor = build_predictor(spec, jobs, device, dtype)
    try:
        out = draw_sample(
            predictor, prompt_bytes, n, temperature, top_k, top_p, seed, progress=interactive(), min_p=min_p,
            typical_p=typical_p, repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
            method=method, settings=settings,
        )
    finally:
        predictor.close()
    write_output(output, out)
    if output is None and sys.stdout.isatty():
        typer.echo()


@contextmanager
def open_input(path: Path) -> Iterator[tuple[IO[bytes], int]]:
    """A file (stdin for '-') opened for streaming, with its size when known (0 otherwise)."""
    if str(path) == "-":
        yield sys.stdin.buffer, 0
        return
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a file: {path}") from None
    except PermissionError:
        raise InputError(f"permission denied: {path}") from None
    with handle:
        yield handle, os.fstat(handle.fileno()).st_size


@contextmanager
def open_output(path: Path) -> Iterator[IO[bytes]]:
    """Stream to stdout for '-', else to a temporary file renamed over `path` only on success."""
    if str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    directory = path.resolve().parent
    if not directory.is_dir():
        raise InputError(f"output directory does not exist: {directory}")
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        yield handle


_SIZE_SUFFIXES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(raw: str, option: str) -> int | None:
    """'4g' -> 4 GiB, '512m', '1000'; '0' means no limit (None)."""
    text = raw.strip().lower()
    digits, suffix = (text[:-1], text[-1]) if text[-1:] in _SIZE_SUFFIXES else (text, "")
    if not digits.isdigit():
        raise InputError(f"{option} must be a size like 4g, 512m or 1000 (0 = no limit), got {raw!r}")
    return int(digits) * _SIZE_SUFFIXES[suffix] or None


@app.command()
def compress(
    file: Annotated[Path, typer.Argument(help="file to compress ('-' for stdin)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="container to write ('-' for stdout)")],
    compressor: SpecOption = "gzip",
    chunk: Annotated[Optional[int], typer.Option(help="code independent chunks of this many bytes")] = None,
    verify: Annotated[bool, typer.Option(help="decode right after encoding and check the checksum")] = False,
    batch: Annotated[
        Optional[int], typer.Option(help="with --chunk: chunks coded side by side by language models (0 = off)")
    ] = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
) -> None:
    """Compress a file with any predictor into a self-describing container (streamed, frame by frame)."""
    import shutil
    import tempfile

    from .container import Limits, decode_stream, encode_stream

    with open_input(file) as (source, size):
        predictor = build_predictor(compressor, jobs, device, dtype)
        try:
            with open_output(output) as sink:
                if not verify:
                    stats = encode_stream(source, sink, predictor, chunk, interactive(), batch, total=size)
                else:  # spool, decode the spool (the checksum proves the round trip), then copy it out
                    with tempfile.TemporaryFile() as spool:
                        stats = encode_stream(source, spool, predictor, chunk, interactive(), batch, total=size)
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


@app.command()
def decompress(
    file: Annotated[Path, typer.Argument(help="container to decompress ('-' for stdin)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="file to write ('-' for stdout)")],
    max_output: Annotated[
        str, typer.Option(help="refuse containers that decode to more bytes than this (k/m/g/t; 0 = no limit)")
    ] = "4g",
    max_memory: Annotated[
        str, typer.Option(help="refuse containers whose model asks for more memory than this (0 = no limit)")
    ] = "4g",
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Decompress a container written by 'genzip compress' (streamed; a file output appears only when complete)."""
    from .container import Limits, decode_stream

    limits = Limits(parse_size(max_output, "--max-output"), parse_size(max_memory, "--max-memory"))
    with open_input(file) as (source, _), open_output(output) as sink:
        decode_stream(source, sink, RuntimeOptions(jobs=jobs, device=device), interactive(), limits=limits)


@app.command()
def score(
    files: Annotated[list[Path], typer.Argument(help="files to score")],
    compressor: Annotated[
        list[str], typer.Option("--compressor", "-c", help="predictor spec; repeat to compare several")
    ] = ["gzip"],  # noqa: B006 - typer needs a literal default
    chunk: Annotated[Optional[int], typer.Option(help="score independent chunks of this many bytes")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
    engine: EngineOption = "local",
    address: AddressOption = None,
) -> None:
    """Bits per byte of files under one or more predictors (and the compressor's own rate)."""
    from .likelihood import score as score_data

    inputs = [(f, read_input(f)) for f in files]
    for f, data in inputs:
        if not data:
            raise InputError(f"empty input: {f} (bits per byte is undefined)")
    results = []
    if engine != "local":
        if chunk is None:
            raise InputError(f"--engine {engine} scores independent chunks: add --chunk N")
        from .evaluation.compare import score_files

        results = score_files(inputs, compressor, chunk, jobs=jobs, device=device, dtype=dtype, engine=engine,
                              address=address, progress=interactive())
    for spec in compressor if engine == "local" else ():
        predictor = build_predictor(spec, jobs, device, dtype, progress=interactive())
        try:
            for f, data in inputs:
                results.append((str(f), spec, score_data(data, predictor, chunk)))
        finally:
            predictor.close()
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


def parse_chunk(raw: str) -> int | None:
    """'2048' -> 2048, 'none'/'whole' -> None (whole files); anything else is an InputError."""
    if raw.strip().lower() in ("none", "whole", "0"):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"--chunk must be a positive number of bytes or 'none', got {raw!r}") from None
    if value < 0:
        raise InputError(f"--chunk must be a positive number of bytes or 'none', got {raw!r}")
    return value


@app.command()
def compare(
    files: Annotated[list[Path], typer.Argument(help="files to compress (text, images, audio)")],
    compressor: Annotated[
        list[str], typer.Option("--compressor", "-c", help="predictor spec; repeat to compare several")
    ] = ["gzip", "lzma"],  # noqa: B006 - typer needs a literal default
    chunk: Annotated[str, typer.Option(help="independent chunks of this many bytes, or 'none' for whole files")] = "2048",
    modality: Annotated[str, typer.Option(help="auto | text | image | audio (auto: from the file suffix)")] = "auto",
    native_only: Annotated[
        bool, typer.Option(help="for real compressors, measure only their own output (fast; no code lengths)")
    ] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="write the results as JSON here")] = None,
    csv_out: Annotated[Optional[Path], typer.Option("--csv", help="write the results as CSV here")] = None,
    markdown_out: Annotated[Optional[Path], typer.Option("--markdown", help="write the table as Markdown here")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="write a PNG: surprisal trace + bar chart of rates")] = None,
    cache: Annotated[Optional[Path], typer.Option(help="cache per-chunk results here; a rerun resumes")] = None,
    max_bytes: Annotated[Optional[int], typer.Option(help="score only the first N bytes (over all files)")] = None,
    sample_chunks: Annotated[
        Optional[int], typer.Option(help="score N chunks drawn uniformly; rates with standard errors")
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
    from .data import detect_modality, load
    from .evaluation import compare as run_compare
    from .evaluation import rich_table, to_csv, to_json, to_markdown
    from .evaluation.protocol import parse_protocol

    chunk_size = parse_chunk(chunk)
    if modality not in ("auto", "text", "image", "audio"):
        raise InputError(f"unknown modality {modality!r}; use auto, text, image or audio")
    inputs = [(str(f), load(f, modality)) for f in files]
    result = run_compare(
        inputs, compressor, chunk_size, jobs=jobs, cache_dir=cache, native_only=native_only,
        device=device, dtype=dtype, progress=interactive(), engine=engine, address=address,
        max_bytes=max_bytes, sample_chunks=sample_chunks, seed=seed, protocol=parse_protocol(protocol),
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
        from .plots import comparison_figure

        comparison_figure(result, plot)


@app.command()
def train(
    size: Annotated[str, typer.Option(help="bytelm size: 200k | 800k | 3.2m")] = "200k",
    data: Annotated[
        Optional[list[Path]], typer.Option(help="training files, repeatable (default: the shipped Moby-Dick)")
    ] = None,
    steps: Annotated[int, typer.Option(help="total optimizer steps (a resumed run continues to this)")] = 1000,
    device: DeviceOption = "auto",
    batch: Annotated[int, typer.Option(help="sequences per step")] = 32,
    lr: Annotated[float, typer.Option(help="peak learning rate (AdamW, warmup + cosine)")] = 3e-3,
    seq_len: Annotated[int, typer.Option(help="bytes per training sequence (at most 2048)")] = 512,
    eval_every: Annotated[int, typer.Option(help="evaluate held-out bits/byte and save every N steps")] = 250,
    out: Annotated[Optional[Path], typer.Option(help="resumable checkpoint (weights + optimizer)")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="continue from this checkpoint")] = None,
    export: Annotated[Optional[Path], typer.Option(help="also write a weights-only checkpoint here at the end")] = None,
    seed: Annotated[int, typer.Option(help="seed for initial weights and batches")] = 0,
) -> None:
    """Train the paper's byte transformer (bytelm); the last 10% of the data is held out."""
    from .corpus import MOBY_DICK
    from .language_models.train import TrainSettings
    from .language_models.train import train as run_training

    settings = TrainSettings(
        size=size, data=tuple(data or (MOBY_DICK,)), steps=steps, device=device, batch=batch, lr=lr,
        seq_len=seq_len, eval_every=eval_every, out=out, resume=resume, export=export, seed=seed,
    )
    run_training(settings, log=lambda message: typer.echo(message, err=True))


PAPER_EXPERIMENTS = ("table1", "context", "scaling", "samples")


@app.command()
def paper(
    experiment: Annotated[str, typer.Argument(help="table1 | context | scaling | samples")],
    out: Annotated[Path, typer.Option("-o", "--out", help="directory for the Markdown, JSON and PNG files")] = Path(
        "paper-results"
    ),
    compressor: Annotated[
        Optional[list[str]], typer.Option("--compressor", "-c", help="predictor spec (default: every known one)")
    ] = None,
    n_bytes: Annotated[Optional[int], typer.Option("--bytes", help="bytes per modality (table1, context)")] = None,
    lm_bytes: Annotated[Optional[int], typer.Option(help="bytes per modality for language models (table1)")] = None,
    adapter: Annotated[bool, typer.Option(help="table1: add compressors' arithmetic-coded rates (slow)")] = False,
    steps: Annotated[int, typer.Option(help="scaling: training steps per bytelm size")] = 200,
    lr: Annotated[Optional[float], typer.Option(help="scaling: peak learning rate (default: genzip train's)")] = None,
    shipped: Annotated[bool, typer.Option(help="scaling: use shipped bytelm checkpoints where they exist")] = True,
    cache: Annotated[Optional[Path], typer.Option(help="per-chunk result cache (default: OUT/.cache)")] = None,
    protocol: ProtocolOption = "genzip",
    engine: EngineOption = "local",
    address: AddressOption = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Reproduce one of the paper's experiments on the shipped corpus (Markdown table + PNG)."""
    if experiment not in PAPER_EXPERIMENTS:
        raise InputError(f"unknown experiment {experiment!r}; use one of {', '.join(PAPER_EXPERIMENTS)}")
    cache_dir = cache or out / ".cache"  # ignored by git (.gitignore: .cache/)
    specs = tuple(compressor) if compressor else None
    extra: dict[str, object] = {"specs": specs} if specs else {}
    if experiment == "table1":
        from .experiments.table1 import table1

        from .evaluation.protocol import parse_protocol

        report = table1(out, **extra, n_bytes=n_bytes or 65536, lm_bytes=lm_bytes or 8192, adapter=adapter,
                        jobs=jobs, cache_dir=cache_dir, progress=interactive(), engine=engine, address=address,
                        protocol=parse_protocol(protocol))  # type: ignore[arg-type]
    elif experiment == "context":
        from .experiments.in_context import in_context

        report = in_context(out, **extra, n_bytes=n_bytes or 65536, jobs=jobs, cache_dir=cache_dir,
                            progress=interactive())  # type: ignore[arg-type]
    elif experiment == "scaling":
        from .experiments.scaling import scaling

        report = scaling(out, steps=steps, device=device, jobs=jobs, cache_dir=cache_dir, progress=interactive(),
                         shipped=shipped, lr=lr)
    else:
        from .experiments.gallery import gallery

        report = gallery(out, **({"text_specs": specs} if specs else {}), jobs=jobs,
                         progress=interactive())  # type: ignore[arg-type]
    from rich.console import Console
    from rich.markdown import Markdown

    for path in report.files:  # the tables, rendered in the terminal
        if path.suffix == ".md":
            Console(width=max(160, Console().width)).print(Markdown(path.read_text()))
    for path in report.files:
        typer.echo(f"wrote {path}", err=True)
    for spec, why in report.skipped.items():
        typer.echo(f"skipped {spec}: {why}", err=True)
    typer.echo(f"{experiment}: {report.seconds:.1f} s", err=True)


@app.command("list")
def list_predictors() -> None:
    """Every available predictor spec with its parameters."""
    from rich.console import Console
    from rich.table import Table

    from .registry import ENTRIES

    from rich.markup import escape

    table = Table(title=escape("predictors (spec: name or name:key=value,...; [default])"))
    table.add_column("name")
    table.add_column("kind")
    table.add_column("what")
    table.add_column("parameters")
    meanings: dict[str, str] = {}
    for entry in ENTRIES.values():
        parameters = "  ".join(p.describe() for p in entry.params) or "-"
        table.add_row(entry.name, entry.kind, escape(entry.summary), escape(parameters))
        for p in entry.params:
            meanings.setdefault(f"{p.name}: {p.help}", entry.name)
    console = Console(width=max(120, Console().width))
    console.print(table)
    console.print("parameters:", markup=False)
    for meaning in meanings:
        console.print(f"  {meaning}", markup=False)


def main() -> None:
    """Console-script entry: run the app, turning GenzipError into a one-line error."""
    try:
        app()
    except GenzipError as exc:
        typer.echo(f"genzip: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("genzip: interrupted", err=True)
        sys.exit(130)
