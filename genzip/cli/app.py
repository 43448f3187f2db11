"""The typer app and what every command shares: options, input/output, building predictors."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer

from ..errors import InputError, SpecError
from ..files import atomic_path, atomic_write
from ..predictor import RuntimeOptions, SequencePredictor

app = typer.Typer(
    help="Language modeling is compression: compress, sample and score with any predictor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


SpecOption = Annotated[
    str,
    typer.Option("--compressor", "-c", help="predictor spec, e.g. gzip, zstd:level=19 (see 'genzip list')"),
]


JobsOption = Annotated[int | None, typer.Option("--jobs", "-j", help="worker processes (default: all cores)")]


DeviceOption = Annotated[str, typer.Option(help="cpu | cuda | auto (language models)")]


DtypeOption = Annotated[str | None, typer.Option(help="float32 | float16 | bfloat16 (language models)")]


EngineOption = Annotated[str, typer.Option(help="where chunks are scored: local (process pool) | ray")]


AddressOption = Annotated[
    str | None, typer.Option(help="--engine ray: join this running cluster (ray start --head)")
]


ProtocolOption = Annotated[
    str, typer.Option(help="genzip | paper (header once for compressors, masked bytes for language models)")
]


def read_input(path: Path) -> bytes:
    """Read a file, or stdin for '-', with a clear error when it cannot be read."""
    with open_input(path) as (handle, _):
        return handle.read()


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
    from ..registry import parse_spec

    entry, _ = parse_spec(spec)
    if not any(p.name == name for p in entry.params):
        raise SpecError(f"{entry.name} has no {name} parameter")
    return f"{spec}{',' if ':' in spec else ':'}{name}={value}"


def build_predictor(
    spec: str, jobs: int | None = None, device: str = "auto", dtype: str | None = None, progress: bool = False
) -> SequencePredictor:
    from ..registry import build

    return build(spec, RuntimeOptions(jobs=jobs, device=device, dtype=dtype, progress=progress))


def interactive() -> bool:
    return sys.stderr.isatty()


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
