"""genzip: language modeling is compression.

Any predictor of the next symbol is a compressor (through arithmetic coding),
and any compressor is a predictor (through its code lengths). The public API:

>>> import genzip
>>> data = b"a rose is a rose is a rose is a rose"
>>> with genzip.predictor("ppm") as p:        # any spec: "gzip", "zstd:level=19", "ctw", "smollm2", ...
...     blob = genzip.compress(data, p)       # a self-describing container
>>> genzip.decompress(blob) == data           # rebuilds the predictor from the container
True
>>> genzip.score(data, "ppm").bits_per_byte < 4  # total_bits, symbol_bits too
True
>>> sample = genzip.sample("ppm", prompt=b"a rose is", n=12, seed=0)
>>> len(sample), sample == genzip.sample("ppm", prompt=b"a rose is", n=12, seed=0)
(12, True)

Importing genzip does not import torch or transformers.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ContainerError, GenzipError, InputError, ModelMismatchError, SpecError  # noqa: E402
from .predictor import RuntimeOptions, SequencePredictor  # noqa: E402

__all__ = [
    "ContainerError",
    "GenzipError",
    "InputError",
    "ModelMismatchError",
    "RuntimeOptions",
    "SequencePredictor",
    "SpecError",
    "compress",
    "decompress",
    "predictor",
    "sample",
    "score",
]


def predictor(spec: str, *, jobs: int | None = None, device: str = "auto", dtype: str | None = None) -> SequencePredictor:
    """Build a predictor from a spec string (see `genzip list`)."""
    from .registry import build

    return build(spec, RuntimeOptions(jobs=jobs, device=device, dtype=dtype))


def _as_predictor(p: SequencePredictor | str) -> SequencePredictor:
    return predictor(p) if isinstance(p, str) else p


def compress(data: bytes, predictor: SequencePredictor | str, chunk_size: int | None = None, progress: bool = False) -> bytes:
    """Arithmetic-code `data` with `predictor` into a self-describing container."""
    from .container import encode

    return encode(data, _as_predictor(predictor), chunk_size=chunk_size, progress=progress)


def decompress(
    blob: bytes,
    *,
    jobs: int | None = None,
    device: str = "auto",
    progress: bool = False,
    max_output: int | None = 4 << 30,
    max_memory: int | None = 4 << 30,
) -> bytes:
    """Decode a container; raises ContainerError (or ModelMismatchError) if it is not valid.

    `max_output` bounds the decoded size and `max_memory` a spec's model memory (None: no limit).
    """
    from .container import Limits, decode

    limits = Limits(max_output=max_output, max_model_memory=max_memory)
    return decode(blob, RuntimeOptions(jobs=jobs, device=device), progress=progress, limits=limits)


def sample(
    predictor: SequencePredictor | str,
    prompt: bytes = b"",
    n: int = 200,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    *,
    min_p: float | None = None,
    typical_p: float | None = None,
    repetition_penalty: float | None = None,
    no_repeat_ngram_size: int | None = None,
    method: str = "auto",
) -> bytes:
    """Draw `n` bytes continuing `prompt`; the same seed gives the same bytes.

    The controls mean what they mean in Hugging Face `generate`. For compressors the
    default method draws whole blocks from the compressor's code lengths
    (method="sequence"); method="symbol" is the paper's per-byte sampling.
    """
    from .sampler import sample as _sample

    return _sample(
        _as_predictor(predictor), prompt, n, temperature, top_k, top_p, seed, min_p=min_p, typical_p=typical_p,
        repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size, method=method,
    )


def score(data: bytes, predictor: SequencePredictor | str, chunk_size: int | None = None):  # -> likelihood.Score
    """Code length of `data` under `predictor`: total bits, bits/byte, per-symbol bits."""
    from .likelihood import score as _score

    return _score(data, _as_predictor(predictor), chunk_size)
