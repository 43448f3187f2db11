"""Likelihood tools: code lengths, bits per byte, and the compressor's own size beside them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .predictor import SequencePredictor


@dataclass
class Score:
    """How well a predictor codes some data.

    `symbol_bits` holds the code length of each symbol (byte or token), so a
    surprisal trace can be plotted; `bits_per_byte` always divides by the
    number of *bytes*, whatever the symbols are.
    """

    spec: str
    n_bytes: int
    symbol_bits: np.ndarray = field(repr=False)
    native_bytes: int | None = None  # the real compressor's own output size, if the predictor is one

    @property
    def total_bits(self) -> float:
        return float(self.symbol_bits.sum())

    @property
    def bits_per_byte(self) -> float:
        return self.total_bits / self.n_bytes if self.n_bytes else float("nan")

    @property
    def native_bits_per_byte(self) -> float | None:
        if self.native_bytes is None or not self.n_bytes:
            return None
        return 8 * self.native_bytes / self.n_bytes

    def as_dict(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "bytes": self.n_bytes,
            "total_bits": self.total_bits,
            "bits_per_byte": self.bits_per_byte,
            "native_bytes": self.native_bytes,
            "native_bits_per_byte": self.native_bits_per_byte,
        }


def score(data: bytes, predictor: SequencePredictor, chunk_size: int | None = None) -> Score:
    """Code length of `data` under `predictor`, whole or as independent chunks.

    For a compressor predictor, `native_bytes` is what the compressor itself
    writes for the same bytes (summed over chunks when chunked).
    """
    from .chunks import split_chunks

    data = bytes(data)
    if chunk_size is not None and chunk_size <= 0:
        raise InputError(f"chunk size must be positive, got {chunk_size}")
    chunks = split_chunks(data, chunk_size)
    pieces = []
    for chunk in chunks:
        predictor.reset(b"")
        pieces.append(predictor.score(predictor.tokenize(chunk)))
    sizes = [predictor.compressed_size(chunk) for chunk in chunks]
    native = sum(n for n in sizes if n is not None) if None not in sizes else None
    return Score(predictor.spec, len(data), np.concatenate(pieces), native)
