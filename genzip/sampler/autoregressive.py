"""Per-symbol autoregressive sampling, for every predictor.

One seeded uniform per symbol (numpy's PCG64), the predictor's distribution
shaped by the `generate` controls of `shaping`, drawn by inverse CDF. For token
models the controls act on tokens, as in transformers.
"""

from __future__ import annotations

import numpy as np

from ..predictor import SequencePredictor
from ..progress import progress_bar
from .shaping import Controls, draw, ngram_bans, shape


def sample_symbols(
    predictor: SequencePredictor,
    prompt: bytes,
    n: int,
    controls: Controls,
    rng: np.random.Generator,
    progress: bool = False,
) -> bytes:
    """Continue `prompt` with at least `n` bytes, one symbol at a time; returns the first `n` new bytes."""
    predictor.reset(bytes(prompt))
    alphabet = predictor.alphabet_size
    history = list(predictor.tokenize(bytes(prompt)).tolist()) if controls.no_repeat_ngram_size else []
    seen = np.zeros(alphabet, dtype=bool)
    if controls.penalises:
        seen[predictor.tokenize(bytes(prompt))] = True
    symbols: list[int] = []
    produced = 0
    with progress_bar(n, f"sample {predictor.spec}", progress) as advance:
        while produced < n:
            banned = None
            if controls.no_repeat_ngram_size:
                banned = ngram_bans(np.asarray(history), controls.no_repeat_ngram_size, alphabet)
            probs = shape(predictor.distribution(), controls, seen, banned)
            symbol = draw(probs, float(rng.random()))
            symbols.append(symbol)
            seen[symbol] = True
            if controls.no_repeat_ngram_size:
                history.append(symbol)
            predictor.observe(symbol)
            step = 1 if predictor.is_byte_level else len(predictor.detokenize([symbol]))
            produced += step
            advance(step)
    return predictor.detokenize(symbols)[:n]
