"""The comparison engine: several predictors on the same data, one table.

Every input is cut into independent chunks (`chunk_size`, or whole files), and
each (predictor, chunk) pair is scored once with `genzip.likelihood.score`:
the code length of every symbol (the arithmetic-coded size is their sum / 8)
and, for real compressors, the size the compressor itself writes.

* Per-chunk results can be cached in a directory (`cache_dir`): a key hashes the
  predictor's spec and fingerprint, the mode and the chunk's bytes, so an
  interrupted run resumes where it stopped and a repeated run recomputes nothing.
* Chunks are spread over a process pool (`jobs`, default all cores) with one
  single-threaded predictor per worker. Language models, and predictors that
  see fewer chunks than there are workers, run in this process instead with
  all workers given to the predictor itself (threads, or its own pool).
* Token models give bits per token; for the per-byte surprisal trace each
  token's bits are spread evenly over its bytes (when the tokens' bytes do not
  add up to the chunk, e.g. a UTF-8 character split across tokens, the chunk's
  bits are spread evenly over the chunk). Totals are always exact.

The adjusted rate adds the model's size (2 bytes per parameter, as the paper)
to the compressed size: (bits/8 + model bytes) / data bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import multiprocessing
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .chunks import split_chunks
from .errors import InputError
from .predictor import RuntimeOptions, SequencePredictor

#: bumped when the cached per-chunk format or meaning changes
CACHE_VERSION = 1


@dataclass
class ChunkScore:
    """One predictor on one chunk: per-byte bits (None in native-only mode) and the real compressor's size."""

    n_bytes: int
    total_bits: float | None
    byte_bits: np.ndarray | None
    native_bytes: int | None


@dataclass
class PredictorResult:
    """One predictor over all inputs, chunks summed."""

    spec: str
    kind: str
    n_bytes: int
    total_bits: float | None
    native_bytes: int | None
    model_size_bytes: int | None
    byte_bits: np.ndarray | None = field(repr=False)  # the surprisal trace, one value per byte
    per_file: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""  # the spec as the user wrote it (shorter than the canonical `spec`)

    @property
    def bits_per_byte(self) -> float | None:
        return None if self.total_bits is None else self.total_bits / self.n_bytes

    @property
    def coded_bytes(self) -> float | None:
        """Arithmetic-coded size: ideal code length / 8 (the real coder adds a few bytes per chunk)."""
        return None if self.total_bits is None else self.total_bits / 8

    @property
    def rate(self) -> float | None:
        """Arithmetic-coded size over data size, in percent."""
        return None if self.total_bits is None else 100 * self.total_bits / 8 / self.n_bytes

    @property
    def native_rate(self) -> float | None:
        """The real compressor's own output size over data size, in percent."""
        return None if self.native_bytes is None else 100 * self.native_bytes / self.n_bytes

    @property
    def adjusted_rate(self) -> float | None:
        """Coded size plus the model's size (2 bytes/parameter) over data size, in percent."""
        if self.total_bits is None or self.model_size_bytes is None:
            return None
        return 100 * (self.total_bits / 8 + self.model_size_bytes) / self.n_bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "name": self.name,
            "kind": self.kind,
            "bytes": self.n_bytes,
            "total_bits": self.total_bits,
            "bits_per_byte": self.bits_per_byte,
            "coded_bytes": self.coded_bytes,
            "rate_percent": self.rate,
            "native_bytes": self.native_bytes,
            "native_rate_percent": self.native_rate,
            "model_size_bytes": self.model_size_bytes,
            "adjusted_rate_percent": self.adjusted_rate,
            "per_file": self.per_file,
        }


@dataclass
class Comparison:
    """Everything one `compare` run produced."""

    files: list[str]
    chunk_size: int | None
    results: list[PredictorResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunk_size": self.chunk_size,
            "results": [r.as_dict() for r in self.results],
        }


# --- scoring one chunk ---------------------------------------------------------


def score_chunk(predictor: SequencePredictor, chunk: bytes, native_only: bool = False) -> ChunkScore:
    """Score one chunk from a fresh state; in native-only mode compressors only report their own size."""
    from .likelihood import score

    native = predictor.compressed_size(chunk) if native_only else None
    if native is not None:
        return ChunkScore(len(chunk), None, None, native)
    result = score(chunk, predictor, None)
    return ChunkScore(len(chunk), result.total_bits, spread_to_bytes(predictor, chunk, result.symbol_bits), result.native_bytes)


def spread_to_bytes(predictor: SequencePredictor, chunk: bytes, symbol_bits: np.ndarray) -> np.ndarray:
    """Per-byte bits: each symbol's bits spread evenly over the bytes it stands for."""
    symbol_bits = np.asarray(symbol_bits, dtype=np.float64)
    if predictor.is_byte_level:
        return symbol_bits
    if not chunk:
        return np.zeros(0)
    tokens = predictor.tokenize(chunk)
    counts = np.array([len(predictor.detokenize([int(t)])) for t in tokens], dtype=np.int64)
    if len(counts) == len(symbol_bits) and counts.sum() == len(chunk) and (counts > 0).all():
        return np.repeat(symbol_bits / counts, counts)
    return np.full(len(chunk), symbol_bits.sum() / len(chunk))


_WORKER_PREDICTORS: dict[str, SequencePredictor] = {}


def _worker_score(spec: str, chunk: bytes, native_only: bool) -> ChunkScore:
    """Process-pool task: one chunk with a single-threaded predictor kept per worker."""
    if spec not in _WORKER_PREDICTORS:
        from .registry import build

        _WORKER_PREDICTORS[spec] = build(spec, RuntimeOptions(jobs=1))
    return score_chunk(_WORKER_PREDICTORS[spec], chunk, native_only)


# --- the cache -----------------------------------------------------------------


class ChunkCache:
    """Per-chunk results on disk, one small .npz per (predictor, mode, chunk); writes are atomic."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot use cache directory {self.directory}: {exc.strerror}") from None

    @staticmethod
    def key(identity: str, chunk: bytes, native_only: bool) -> str:
        h = hashlib.sha256()
        h.update(f"v{CACHE_VERSION}|{identity}|native_only={native_only}|".encode())
        h.update(chunk)
        return h.hexdigest()

    def get(self, key: str) -> ChunkScore | None:
        if self.directory is None:
            return None
        path = self.directory / f"{key}.npz"
        try:
            with np.load(path) as z:
                total = float(z["total_bits"]) if z["has_bits"] else None
                return ChunkScore(
                    int(z["n_bytes"]),
                    total,
                    np.array(z["byte_bits"]) if z["has_bits"] else None,
                    int(z["native_bytes"]) if z["native_bytes"] >= 0 else None,
                )
        except (FileNotFoundError, OSError, KeyError, ValueError):
            return None

    def put(self, key: str, value: ChunkScore) -> None:
        if self.directory is None:
            return
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".part", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    n_bytes=value.n_bytes,
                    has_bits=value.total_bits is not None,
                    total_bits=value.total_bits if value.total_bits is not None else 0.0,
                    byte_bits=value.byte_bits if value.byte_bits is not None else np.zeros(0),
                    native_bytes=-1 if value.native_bytes is None else value.native_bytes,
                )
            os.replace(tmp, self.directory / f"{key}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --- the engine ----------------------------------------------------------------


def _identity(predictor: SequencePredictor) -> str:
    return json.dumps({"spec": predictor.spec, "fingerprint": predictor.fingerprint()}, sort_keys=True, default=str)


def compare(
    inputs: Sequence[tuple[str, bytes]],
    specs: Sequence[str],
    chunk_size: int | None = 2048,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    native_only: bool = False,
    device: str = "auto",
    dtype: str | None = None,
    progress: bool = False,
    on_chunk: Callable[[str, int], None] | None = None,
) -> Comparison:
    """Score every input under every predictor; see the module docstring.

    `inputs` are (name, bytes) pairs; `on_chunk(spec, n_bytes)` is called for
    every chunk actually computed (not for cache hits).
    Work runs in two phases: first the chunks of every pool-friendly predictor
    go to the process pool together (so no core idles between predictors),
    then language models and predictors with fewer chunks than workers run
    here, one after another, each with all workers.
    """
    from .progress import progress_bar
    from .registry import build, parse_spec

    if not specs:
        raise InputError("no predictors given; add -c SPEC (see 'genzip list')")
    for name, data in inputs:
        if not data:
            raise InputError(f"empty input: {name} (bits per byte is undefined)")
    entries = [parse_spec(s)[0] for s in specs]  # validate every spec before any work
    options = RuntimeOptions(jobs=jobs, device=device, dtype=dtype)
    workers = options.worker_count
    cache = ChunkCache(cache_dir)
    pieces = [(fi, split_chunks(data, chunk_size)) for fi, (_, data) in enumerate(inputs)]
    n_chunks = sum(len(c) for _, c in pieces)
    scores: list[dict[tuple[int, int], ChunkScore]] = [{} for _ in specs]
    predictors: dict[int, SequencePredictor] = {}
    results: dict[int, PredictorResult] = {}
    pool: ProcessPoolExecutor | None = None

    def pending_of(index: int, advance: Callable[[int], None]) -> list[tuple[tuple[int, int], bytes, str]]:
        """Cache hits are filled in; the chunks still to compute are returned."""
        identity = _identity(predictors[index])
        todo = []
        for fi, file_chunks in pieces:
            for ci, chunk in enumerate(file_chunks):
                key = cache.key(identity, chunk, native_only)
                hit = cache.get(key)
                if hit is not None:
                    scores[index][(fi, ci)] = hit
                    advance(len(chunk))
                else:
                    todo.append(((fi, ci), chunk, key))
        return todo

    def finish(index: int) -> None:
        results[index] = _assemble(predictors[index], entries[index].kind, inputs, pieces, scores[index])
        results[index].name = specs[index]
        predictors.pop(index).close()

    try:
        with progress_bar(len(specs) * sum(len(d) for _, d in inputs), "compare", progress) as advance:

            def done(index: int, where: tuple[int, int], chunk: bytes, key: str, value: ChunkScore) -> None:
                scores[index][where] = value
                cache.put(key, value)
                advance(len(chunk))
                if on_chunk is not None:
                    on_chunk(specs[index], len(chunk))

            pooled: dict[Future[ChunkScore], tuple[int, tuple[int, int], bytes, str]] = {}
            later: list[int] = []
            for index, entry in enumerate(entries):
                if entry.kind == "language model" or workers == 1 or n_chunks < workers:
                    later.append(index)
                    continue
                predictors[index] = build(specs[index], options)
                todo = pending_of(index, advance)
                if todo and pool is None:
                    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
                for where, chunk, key in todo:
                    future = pool.submit(_worker_score, predictors[index].spec, chunk, native_only)  # type: ignore[union-attr]
                    pooled[future] = (index, where, chunk, key)
            remaining = set(pooled)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for f in finished:
                    done(*pooled[f], f.result())
            for index in [i for i in predictors]:
                finish(index)
            for index in later:  # language models and few-chunk work, after the pool has forked
                predictors[index] = build(specs[index], options)
                for where, chunk, key in pending_of(index, advance):
                    done(index, where, chunk, key, score_chunk(predictors[index], chunk, native_only))
                finish(index)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        for predictor in predictors.values():
            predictor.close()
    return Comparison([name for name, _ in inputs], chunk_size, [results[i] for i in range(len(specs))])


def _assemble(
    predictor: SequencePredictor,
    kind: str,
    inputs: Sequence[tuple[str, bytes]],
    pieces: list[tuple[int, list[bytes]]],
    scores: dict[tuple[int, int], ChunkScore],
) -> PredictorResult:
    per_file = []
    traces: list[np.ndarray] = []
    grand_bits: float | None = 0.0
    grand_native: int | None = 0
    for fi, file_chunks in pieces:
        parts = [scores[(fi, ci)] for ci in range(len(file_chunks))]
        bits = None if any(p.total_bits is None for p in parts) else float(sum(p.total_bits for p in parts))  # type: ignore[misc]
        native = None if any(p.native_bytes is None for p in parts) else sum(p.native_bytes for p in parts)  # type: ignore[misc]
        n = len(inputs[fi][1])
        per_file.append(
            {
                "file": inputs[fi][0],
                "bytes": n,
                "total_bits": bits,
                "bits_per_byte": None if bits is None else bits / n,
                "native_bytes": native,
                "chunks": len(file_chunks),
            }
        )
        if bits is not None:
            traces.extend(p.byte_bits for p in parts)  # type: ignore[misc]
        grand_bits = None if bits is None or grand_bits is None else grand_bits + bits
        grand_native = None if native is None or grand_native is None else grand_native + native
    return PredictorResult(
        spec=predictor.spec,
        kind=kind,
        n_bytes=sum(len(d) for _, d in inputs),
        total_bits=grand_bits,
        native_bytes=grand_native,
        model_size_bytes=predictor.model_size_bytes(),
        byte_bits=np.concatenate(traces) if grand_bits is not None and traces else None,
        per_file=per_file,
    )


# --- rendering -----------------------------------------------------------------

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


def _cell(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def table_rows(comparison: Comparison) -> list[list[str]]:
    """The table's cells as strings, one row per predictor, in `COLUMNS` order."""
    rows = []
    for r in comparison.results:
        rows.append(
            [
                r.name or r.spec,
                r.kind,
                str(r.n_bytes),
                _cell(r.bits_per_byte, ".3f"),
                _cell(r.rate, ".1f"),
                _cell(r.coded_bytes, ".0f"),
                _cell(r.native_bytes, "d"),
                _cell(r.native_rate, ".1f"),
                _cell(r.model_size_bytes, "d"),
                _cell(r.adjusted_rate, ".1f"),
            ]
        )
    return rows


def title(comparison: Comparison) -> str:
    chunking = "whole files" if comparison.chunk_size is None else f"{comparison.chunk_size}-byte chunks"
    return f"compression of {len(comparison.files)} file(s), {chunking} (rate = compressed / original; lower is better)"


def rich_table(comparison: Comparison) -> Any:
    """The comparison as a rich Table for the terminal."""
    from rich.table import Table

    table = Table(title=title(comparison))
    for c in COLUMNS:
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
    return f"**{title(comparison)}**\n\n" + markdown_table(COLUMNS, table_rows(comparison))


def to_json(comparison: Comparison) -> str:
    return json.dumps(comparison.as_dict(), indent=2)


def to_csv(comparison: Comparison) -> str:
    """One row per predictor and file, plus an `(all)` row per predictor with the totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["predictor", "kind", "file", "bytes", "total_bits", "bits_per_byte", "rate_percent",
         "native_bytes", "native_rate_percent", "model_size_bytes", "adjusted_rate_percent"]
    )
    for r in comparison.results:
        writer.writerow(
            [r.spec, r.kind, "(all)", r.n_bytes, r.total_bits, r.bits_per_byte, r.rate,
             r.native_bytes, r.native_rate, r.model_size_bytes, r.adjusted_rate]
        )
        for f in r.per_file:
            bits = f["total_bits"]
            native = f["native_bytes"]
            writer.writerow(
                [r.spec, r.kind, f["file"], f["bytes"], bits, f["bits_per_byte"],
                 None if bits is None else 100 * bits / 8 / f["bytes"], native,
                 None if native is None else 100 * native / f["bytes"], r.model_size_bytes, None]
            )
    return out.getvalue()
