"""One autoregressive sampler for every predictor.

Knobs are named as in Hugging Face `generate`: `temperature` (0 = greedy),
`top_k`, `top_p`. The same seed gives the same sample: the random numbers come
from numpy's PCG64 seeded with `seed`, one uniform draw per symbol.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .predictor import SequencePredictor
from .progress import progress_bar


def shape_distribution(
    probs: np.ndarray, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """Apply temperature, then top-k, then top-p (nucleus) filtering; return a distribution.

    Temperature 0 spreads the mass evenly over the most likely symbols (the limit of
    softmax as the temperature goes to 0), so exact ties are broken by the seeded
    draw, never by symbol order.
    """
    if temperature < 0:
        raise InputError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise InputError(f"top-k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise InputError(f"top-p must be in (0, 1], got {top_p}")
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 0:
        best = probs == probs.max()
        return best / best.sum()
    logits = np.log(probs) / temperature
    logits -= logits.max()
    weights = np.exp(logits)
    if top_k is not None and top_k < len(weights):
        kth = np.partition(weights, -top_k)[-top_k]
        weights = np.where(weights >= kth, weights, 0.0)
    weights /= weights.sum()
    if top_p is not None and top_p < 1:
        order = np.argsort(-weights, kind="stable")
        cumulative = np.cumsum(weights[order])
        keep = order[: int(np.searchsorted(cumulative, top_p)) + 1]
        mask = np.zeros_like(weights)
        mask[keep] = 1.0
        weights = weights * mask
        weights /= weights.sum()
    return weights


def draw(probs: np.ndarray, uniform: float) -> int:
    """Inverse-CDF draw: the symbol whose cumulative interval holds `uniform` in [0, 1)."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, uniform * cumulative[-1], side="right"))
    return min(index, len(probs) - 1)


def sample(
    predictor: SequencePredictor,
    prompt: bytes = b"",
    n: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> bytes:
    """Continue `prompt` with `n` bytes drawn from `predictor`; returns only the new bytes.

    For token models, tokens are drawn until at least `n` bytes exist, then the
    output is cut to `n` bytes.
    """
    if n < 0:
        raise InputError(f"number of bytes to sample must be >= 0, got {n}")
    shape_distribution(np.ones(2) / 2, temperature, top_k, top_p)  # validate options before the work
    rng = np.random.Generator(np.random.PCG64(seed))
    predictor.reset(bytes(prompt))
    symbols: list[int] = []
    produced = 0
    with progress_bar(n, f"sample {predictor.spec}", progress) as advance:
        while produced < n:
            probs = shape_distribution(predictor.distribution(), temperature, top_k, top_p)
            symbol = draw(probs, float(rng.random()))
            symbols.append(symbol)
            predictor.observe(symbol)
            step = 1 if predictor.is_byte_level else len(predictor.detokenize([symbol]))
            produced += step
            advance(step)
    return predictor.detokenize(symbols)[:n]
