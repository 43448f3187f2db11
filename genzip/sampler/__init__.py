"""Sampling from any predictor: per-symbol (every predictor) or sequence-level (compressors).

`sample` draws continuations with the controls of Hugging Face `generate`
(temperature, top-k, top-p, min-p, typical-p, repetition penalty, no-repeat
n-gram size; `shaping`), reproducibly for a seed. For a compressor predictor
the default method draws whole blocks of bytes from the compressor's joint
distribution by sequential Monte Carlo (`sequence`); ``method="symbol"`` is the
paper's per-byte sampling from the horizon-1 marginals.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..predictor import SequencePredictor
from .autoregressive import sample_symbols
from .sequence import CodeLengths, SequenceSampler, SequenceSettings, compressor_window
from .shaping import Controls, draw, draw_rows, ngram_bans, shape, shape_distribution

__all__ = [
    "METHODS",
    "Controls",
    "SequenceSettings",
    "draw",
    "draw_rows",
    "ngram_bans",
    "sample",
    "shape",
    "shape_distribution",
]

#: auto = sequence for compressor predictors, symbol for the others
METHODS = ("auto", "symbol", "sequence")
#: the sequence method's controls when the caller leaves them unset (measured in docs/sampling.md): the
#: temperature of the sequence, and an n-gram rule that keeps verbatim copies from the prompt under 25 bytes
SEQUENCE_TEMPERATURE = 1.0
SEQUENCE_NO_REPEAT_NGRAM_SIZE = 25


def sample(
    predictor: SequencePredictor,
    prompt: bytes = b"",
    n: int = 200,
    temperature: float | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    *,
    min_p: float | None = None,
    typical_p: float | None = None,
    repetition_penalty: float | None = None,
    no_repeat_ngram_size: int | None = None,
    method: str = "auto",
    settings: SequenceSettings | None = None,
) -> bytes:
    """Continue `prompt` with `n` bytes drawn from `predictor`; returns only the new bytes.

    Unset controls (None) take the method's defaults: temperature 1 and nothing
    else for per-symbol sampling; for the sequence samplers of compressors,
    `SEQUENCE_TEMPERATURE` and `SEQUENCE_NO_REPEAT_NGRAM_SIZE` (0 turns the rule off). For token models, tokens are drawn until at least `n`
    bytes exist, then the output is cut to `n` bytes.
    """
    if n < 0:
        raise InputError(f"number of bytes to sample must be >= 0, got {n}")
    if method not in METHODS:
        raise InputError(f"sampling method must be one of {', '.join(METHODS)}, got {method!r}")
    window = compressor_window(predictor)
    if method == "auto":
        method = "symbol" if window is None else "sequence"
    if method != "symbol" and window is None:
        raise InputError(
            f"method {method} needs a compressor predictor (code lengths); {predictor.spec} is not one"
        )
    sequence = method == "sequence"
    if no_repeat_ngram_size is None and sequence:
        no_repeat_ngram_size = SEQUENCE_NO_REPEAT_NGRAM_SIZE
    controls = Controls(
        temperature=(SEQUENCE_TEMPERATURE if sequence else 1.0) if temperature is None else temperature,
        top_k=top_k,
        top_p=top_p,
        min_p=min_p,
        typical_p=typical_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram_size=no_repeat_ngram_size or None,
    )
    rng = np.random.Generator(np.random.PCG64(seed))
    if method == "symbol":
        return sample_symbols(predictor, prompt, n, controls, rng, progress)
    if window is None or not isinstance(predictor, CodeLengths):
        raise InputError(f"{predictor.spec}: method=sequence needs a compressor predictor (code_lengths)")
    sampler = SequenceSampler(predictor, window, controls, settings or SequenceSettings())
    return sampler.sample(prompt, n, rng, progress, predictor.spec)
