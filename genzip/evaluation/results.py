"""What an evaluation produces: one chunk's score, one predictor's totals, one run.

Rates are derived from the measured totals in one place (the properties of
`PredictorResult`), so the two protocols and sampled runs only differ in the
few fields that say how the totals were obtained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry import Kind


@dataclass
class ChunkScore:
    """One predictor on one chunk: per-byte bits (None in native-only mode) and the real compressor's size."""

    n_bytes: int
    total_bits: float | None
    byte_bits: np.ndarray | None
    native_bytes: int | None


@dataclass(frozen=True)
class SampleEstimate:
    """How a sampled run was drawn and how uncertain its rates are (standard errors, same units)."""

    drawn: int  # chunks scored
    population: int  # chunks the run could have drawn from
    seed: int
    bits_per_byte_se: float | None
    native_rate_se: float | None  # percentage points

    def as_dict(self) -> dict[str, Any]:
        return {
            "drawn_chunks": self.drawn,
            "population_chunks": self.population,
            "seed": self.seed,
            "bits_per_byte_se": self.bits_per_byte_se,
            "native_rate_percent_se": self.native_rate_se,
        }


@dataclass
class PredictorResult:
    """One predictor over all scored chunks, summed.

    Under the paper's protocol `masked_bits` says how many bits of the input the
    model never saw (right-shifted or MSB-masked bytes): coded sizes are scaled by
    8n / (8n - masked_bits). `shared_header_bytes` is what counting a
    compressor's header once over all chunks removes from its own size.
    """

    spec: str
    kind: Kind
    n_bytes: int
    total_bits: float | None
    native_bytes: int | None
    model_size_bytes: int | None
    byte_bits: np.ndarray | None = field(repr=False)  # the surprisal trace, one value per byte
    per_file: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""  # the spec as the user wrote it (shorter than the canonical `spec`)
    masked_bits: int = 0
    shared_header_bytes: float = 0.0
    sample: SampleEstimate | None = None

    @property
    def kept_bits_scale(self) -> float:
        """8n / (8n - masked bits): 1 unless the paper's protocol masked some input bits."""
        return 8 * self.n_bytes / (8 * self.n_bytes - self.masked_bits)

    @property
    def bits_per_byte(self) -> float | None:
        return None if self.total_bits is None else self.total_bits * self.kept_bits_scale / self.n_bytes

    @property
    def coded_bytes(self) -> float | None:
        """Arithmetic-coded size: ideal code length / 8 (the real coder adds a few bytes per chunk)."""
        return None if self.total_bits is None else self.total_bits * self.kept_bits_scale / 8

    @property
    def rate(self) -> float | None:
        """Arithmetic-coded size over data size, in percent."""
        coded = self.coded_bytes
        return None if coded is None else 100 * coded / self.n_bytes

    @property
    def native_rate(self) -> float | None:
        """The real compressor's own output size over data size, in percent."""
        if self.native_bytes is None:
            return None
        return 100 * (self.native_bytes - self.shared_header_bytes) / self.n_bytes

    @property
    def adjusted_rate(self) -> float | None:
        """Coded size plus the model's size (2 bytes/parameter) over data size, in percent."""
        coded = self.coded_bytes
        if coded is None or self.model_size_bytes is None:
            return None
        return 100 * (coded + self.model_size_bytes) / self.n_bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "name": self.name,
            "kind": str(self.kind),
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
            **({"masked_bits": self.masked_bits} if self.masked_bits else {}),
            **({"shared_header_bytes": self.shared_header_bytes} if self.shared_header_bytes else {}),
            **({"sample": self.sample.as_dict()} if self.sample is not None else {}),
        }


@dataclass
class Comparison:
    """Everything one `compare` run produced."""

    files: list[str]
    chunk_size: int | None
    results: list[PredictorResult]
    protocol: str = "genzip"

    @property
    def sampled(self) -> bool:
        return any(r.sample is not None for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "chunk_size": self.chunk_size,
            **({"protocol": self.protocol} if self.protocol != "genzip" else {}),
            "results": [r.as_dict() for r in self.results],
        }
