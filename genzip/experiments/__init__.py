"""The paper's experiments as functions, each writing a Markdown table and a PNG into a directory.

* `table1`: compression rate (raw and adjusted) per predictor x modality, chunked and whole-file.
* `in_context`: compression rate vs sequence length (the paper's Fig. 4).
* `scaling`: adjusted rate vs bytelm model size for datasets of growing size (the paper's Fig. 2).
* `gallery`: text / image / audio samples from every predictor (the paper's Fig. 3 and C.1).

They run on the corpus shipped in `genzip/corpus`, only with the predictors that
exist in the registry and can be built here (a model without weights is
skipped with a note), and cache per-chunk results so an interrupted run resumes.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GenzipError, InputError
from ..files import atomic_write
from ..registry import ENTRIES, build, parse_spec

#: the predictors the experiments use when none are named, in table order (missing ones are skipped)
DEFAULT_SPECS = (
    "gzip",
    "zlib",
    "lzma",
    "zstd",
    "bz2",
    "brotli",
    "ppmd",
    "png",
    "flac",
    "order",
    "ppm",
    "ctw",
    "bytelm",
    "smollm2",
)


@dataclass
class Report:
    """What an experiment wrote, what it skipped and how long it took."""

    name: str
    files: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def usable_specs(specs: tuple[str, ...] | list[str], report: Report) -> list[str]:
    """The specs that are registered and can be built here; the others go to `report.skipped` with the reason."""
    out = []
    for spec in specs:
        name = spec.partition(":")[0].strip().lower()
        if name not in ENTRIES:
            report.skipped[spec] = "not in the registry"
            continue
        try:
            parse_spec(spec)
            build(spec).close()
        except (GenzipError, ImportError, OSError) as exc:
            report.skipped[spec] = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            continue
        out.append(spec)
    return out


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode())


def prepare_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out_dir}: {exc.strerror}") from None
    return out_dir


def machine_note() -> str:
    """One line saying where the numbers were measured."""
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}"


class Timer:
    """Wall time of a block: `with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> Timer:
        self.began = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.began


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def iter_skipped(report: Report) -> Iterator[str]:
    for spec, why in report.skipped.items():
        yield f"- skipped `{spec}`: {why}"
