"""The one interface every predictor implements: `SequencePredictor`.

A predictor sees a sequence of symbols (bytes for byte models, token ids for
token language models) and, at every point, gives a full distribution over
the next symbol. The coder, the sampler and the likelihood tools only ever
talk to this interface, so a compressor, a context model and a transformer
are interchangeable.

Contract
--------
* `distribution()` returns a float64 array of length `alphabet_size`, summing
  to 1, with every entry > 0 (the arithmetic coder needs that).
* `distributions(symbols)` returns the distribution *before* each symbol and
  observes them all. It must be bit-identical to stepping `distribution()` /
  `observe()`; the encoder uses it, the decoder steps, so any difference would
  break decoding. Override it only with a path that keeps that promise.
* `score(symbols)` returns per-symbol code lengths in bits. It may use a faster
  path that is *not* bit-identical (batched teacher forcing of a language
  model); it is for likelihoods, never for coding.
* `fork()` returns an independent copy of the current state.
* `spec` is the canonical spec string; `genzip.predictor(spec)` rebuilds an
  identical predictor. `fingerprint()` adds what the spec cannot say
  (weights hash, dtype, library versions) and is checked at decode time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

#: Smallest probability a predictor hands out after `normalise`: keeps every
#: symbol codable and every code length finite (about 60 bits at most).
PROBABILITY_FLOOR = 2.0**-60


@dataclass(frozen=True)
class RuntimeOptions:
    """Settings that change speed or placement, not the predictions themselves.

    They are not part of the spec. `device` and `dtype` can change a model's
    floats, so model predictors record them in `fingerprint()`.
    """

    jobs: int | None = None  # worker processes; None means all cores
    device: str = "auto"  # cpu | cuda | auto (language models)
    dtype: str | None = None  # float32 | float16 | bfloat16 | None (model default)
    progress: bool = False  # show progress bars for long internal work

    @property
    def worker_count(self) -> int:
        import os

        return max(1, self.jobs if self.jobs else (os.cpu_count() or 1))


class SequencePredictor(ABC):
    """A next-symbol predictor with online state. See the module docstring."""

    #: canonical spec string, set by the registry when it builds the predictor
    spec: str = ""

    @property
    def alphabet_size(self) -> int:
        """Number of distinct symbols: 256 for bytes, the vocabulary for token models."""
        return 256

    @property
    def is_byte_level(self) -> bool:
        """True when symbols are bytes, i.e. tokenize/detokenize are the identity."""
        return True

    def tokenize(self, data: bytes) -> np.ndarray:
        """Map bytes to symbols (int64). Lossless for every byte string."""
        return np.frombuffer(data, dtype=np.uint8).astype(np.int64)

    def detokenize(self, symbols: np.ndarray | list[int]) -> bytes:
        """Inverse of `tokenize`."""
        return np.asarray(symbols, dtype=np.uint8).tobytes()

    @abstractmethod
    def reset(self, context: bytes = b"") -> None:
        """Forget everything, then condition on `context` (raw bytes)."""

    @abstractmethod
    def distribution(self) -> np.ndarray:
        """Distribution of the next symbol given everything observed so far."""

    @abstractmethod
    def observe(self, symbol: int) -> None:
        """Advance the state by one symbol."""

    @abstractmethod
    def fork(self) -> SequencePredictor:
        """An independent copy of the current state (for sampling and lookahead)."""

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        """Distributions before each of `symbols` (shape (n, alphabet)), observing them.

        Must be bit-identical to stepping; the encoder relies on it.
        """
        out = np.empty((len(symbols), self.alphabet_size), dtype=np.float64)
        for i, s in enumerate(np.asarray(symbols, dtype=np.int64).tolist()):
            out[i] = self.distribution()
            self.observe(s)
        return out

    def score(self, symbols: np.ndarray) -> np.ndarray:
        """Per-symbol code lengths in bits (-log2 p), observing the symbols."""
        symbols = np.asarray(symbols, dtype=np.int64)
        lengths = np.empty(len(symbols), dtype=np.float64)
        block = 4096
        for start in range(0, len(symbols), block):
            part = symbols[start : start + block]
            probs = self.distributions(part)
            lengths[start : start + len(part)] = -np.log2(probs[np.arange(len(part)), part])
        return lengths

    def open_streams(self, count: int) -> StreamBatch | None:
        """`count` independent fresh streams stepped side by side, or None if not supported.

        Language models override this to step many chunks as one batch (KV cache
        per stream). The coder uses it in chunked mode with the same layout on
        both sides, so the floats stay bit-identical.
        """
        return None

    def fingerprint(self) -> dict[str, Any]:
        """Facts beyond the spec that decoding must reproduce (weights hash, dtype, versions).

        Stored in the container; a different value at decode time is a
        `ModelMismatchError`, never silently wrong output.
        """
        return {}

    def compressed_size(self, data: bytes) -> int | None:
        """Bytes a real compressor behind this predictor writes for `data`, or None if there is none.

        Lets likelihood tables put a compressor's own size next to its predictor's code length.
        """
        return None

    def model_size_bytes(self) -> int | None:
        """Size of the model's parameters (2 bytes each, as in the paper), for adjusted rates."""
        return None

    def close(self) -> None:  # noqa: B027 - a default no-op: most predictors hold nothing to release
        """Release worker processes or devices. Safe to call twice."""

    def __enter__(self) -> Self:
        """``with genzip.predictor(spec) as p:`` closes the predictor when the block ends."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StreamBatch(ABC):
    """Several independent streams of one predictor, stepped in lockstep."""

    @abstractmethod
    def distributions(self) -> np.ndarray:
        """Next-symbol distributions, shape (count, alphabet), one row per stream."""

    @abstractmethod
    def observe(self, symbols: np.ndarray) -> None:
        """Advance every stream by one symbol (finished streams get padding they ignore)."""


def normalise(weights: np.ndarray) -> np.ndarray:
    """Turn non-negative weights into a proper distribution with every entry > 0.

    Deterministic: the same input array gives the same output bits, which is
    what the encoder/decoder contract needs.
    """
    p = np.asarray(weights, dtype=np.float64)
    p = p / p.sum(axis=-1, keepdims=True)
    p = np.maximum(p, PROBABILITY_FLOOR)
    return p / p.sum(axis=-1, keepdims=True)
