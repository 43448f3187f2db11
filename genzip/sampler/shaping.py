"""Per-symbol shaping: the logits processors and warpers of Hugging Face `generate`.

Every control has transformers' meaning (their `RepetitionPenaltyLogitsProcessor`,
`NoRepeatNGramLogitsProcessor`, `TemperatureLogitsWarper`, `TopKLogitsWarper`,
`TopPLogitsWarper`, `MinPLogitsWarper`, `TypicalLogitsWarper`, with
``min_tokens_to_keep=1``) and is applied in their order: repetition penalty,
n-gram ban, temperature, top-k, top-p, min-p, typical-p. The logits of a
predictor are its log-probabilities. Arrays may be batched: the last axis is the
alphabet, so one call shapes the rows of many particles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class Controls:
    """The sampling controls of `generate`; None (or 1.0 for the penalty) means off."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    repetition_penalty: float | None = None
    no_repeat_ngram_size: int | None = None

    def __post_init__(self) -> None:
        if not self.temperature >= 0:
            raise InputError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"top-k must be >= 1, got {self.top_k}")
        for name, value in (("top-p", self.top_p), ("min-p", self.min_p), ("typical-p", self.typical_p)):
            if value is not None and not 0 < value <= 1:
                raise InputError(f"{name} must be in (0, 1], got {value}")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            raise InputError(f"repetition penalty must be > 0, got {self.repetition_penalty}")
        if self.no_repeat_ngram_size is not None and self.no_repeat_ngram_size < 1:
            raise InputError(f"no-repeat n-gram size must be >= 1, got {self.no_repeat_ngram_size}")

    @property
    def penalises(self) -> bool:
        return self.repetition_penalty is not None and self.repetition_penalty != 1.0


def shape(
    probs: np.ndarray, controls: Controls, seen: np.ndarray | None = None, banned: np.ndarray | None = None
) -> np.ndarray:
    """Shape distribution(s) `probs` (last axis = alphabet) by `controls`; rows stay distributions.

    `seen` marks the symbols already in the sequence (prompt included) for the
    repetition penalty, `banned` those the n-gram rule forbids (see `ngram_bans`).
    A ban that would remove every symbol of a row is ignored for that row.
    """
    with np.errstate(divide="ignore"):  # a symbol already removed upstream has probability 0
        logits = np.log(np.asarray(probs, dtype=np.float64))
    if controls.repetition_penalty is not None and controls.penalises and seen is not None:
        penalty = float(controls.repetition_penalty)
        penalised = np.where(logits < 0, logits * penalty, logits / penalty)
        logits = np.where(seen, penalised, logits)
    if banned is not None:
        keep_any = ~np.all(banned | np.isneginf(logits), axis=-1, keepdims=True)
        logits = np.where(banned & keep_any, -np.inf, logits)
    if controls.temperature == 0:  # greedy: the limit of softmax, ties shared (broken by the seeded draw)
        best = logits == logits.max(axis=-1, keepdims=True)
        return best / best.sum(axis=-1, keepdims=True)
    logits = (logits - logits.max(axis=-1, keepdims=True)) / controls.temperature  # the max stays finite
    if controls.top_k is not None and controls.top_k < logits.shape[-1]:
        kth = -np.partition(-logits, controls.top_k - 1, axis=-1)[..., controls.top_k - 1 : controls.top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    if controls.top_p is not None and controls.top_p < 1:
        logits = _top_p(logits, controls.top_p)
    if controls.min_p is not None:
        weights = _softmax(logits)
        logits = np.where(weights < controls.min_p * weights.max(axis=-1, keepdims=True), -np.inf, logits)
    if controls.typical_p is not None and controls.typical_p < 1:
        logits = _typical(logits, controls.typical_p)
    return _softmax(logits)


def shape_distribution(
    probs: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    typical_p: float | None = None,
    repetition_penalty: float | None = None,
    seen: np.ndarray | None = None,
    banned: np.ndarray | None = None,
) -> np.ndarray:
    """`shape` with the controls as keyword arguments (the functional form)."""
    controls = Controls(temperature, top_k, top_p, min_p, typical_p, repetition_penalty)
    return shape(probs, controls, seen, banned)


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def _scatter_removed(sorted_remove: np.ndarray, order: np.ndarray) -> np.ndarray:
    """A mask in symbol order from one in sorted order."""
    remove = np.empty_like(sorted_remove)
    np.put_along_axis(remove, order, sorted_remove, axis=-1)
    return remove


def _top_p(logits: np.ndarray, top_p: float) -> np.ndarray:
    """Drop the symbols whose ascending cumulative probability stays <= 1 - top_p (the top one stays)."""
    order = np.argsort(logits, axis=-1, kind="stable")
    cumulative = np.cumsum(np.take_along_axis(_softmax(logits), order, axis=-1), axis=-1)
    sorted_remove = cumulative <= 1 - top_p
    sorted_remove[..., -1] = False
    return np.where(_scatter_removed(sorted_remove, order), -np.inf, logits)


def _typical(logits: np.ndarray, mass: float) -> np.ndarray:
    """Keep the symbols whose surprisal is closest to the entropy, up to `mass` (locally typical sampling)."""
    top = logits.max(axis=-1, keepdims=True)
    log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
    probs = np.exp(log_probs)
    entropy = -(np.where(probs > 0, log_probs, 0.0) * probs).sum(axis=-1, keepdims=True)
    shifted = np.abs(-log_probs - entropy)
    order = np.argsort(shifted, axis=-1, kind="stable")
    sorted_shifted = np.take_along_axis(shifted, order, axis=-1)
    cumulative = np.cumsum(np.take_along_axis(probs, order, axis=-1), axis=-1)
    last = np.minimum((cumulative < mass).sum(axis=-1, keepdims=True), logits.shape[-1] - 1)
    sorted_remove = sorted_shifted > np.take_along_axis(sorted_shifted, last, axis=-1)
    sorted_remove[..., :1] = False
    return np.where(_scatter_removed(sorted_remove, order), -np.inf, logits)


def ngram_bans(history: np.ndarray, size: int, alphabet: int) -> np.ndarray:
    """Symbols that would repeat an n-gram of `history` (bool, length `alphabet`), as transformers bans them.

    Every window of `size` symbols whose first size - 1 match the last size - 1
    of the history bans its last symbol.
    """
    history = np.asarray(history, dtype=np.int64)
    banned = np.zeros(alphabet, dtype=bool)
    if len(history) < size:
        return banned
    windows = np.lib.stride_tricks.sliding_window_view(history, size)
    prefix = history[len(history) + 1 - size :]
    matches = np.all(windows[:, :-1] == prefix, axis=1)
    banned[windows[matches, -1]] = True
    return banned


def draw(probs: np.ndarray, uniform: float) -> int:
    """Inverse-CDF draw: the symbol whose cumulative interval holds `uniform` in [0, 1)."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, uniform * cumulative[-1], side="right"))
    return min(index, len(probs) - 1)


def draw_rows(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """`draw` for every row of `probs` (rows, alphabet), one uniform per row; int64 symbols."""
    cumulative = np.cumsum(probs, axis=-1)
    targets = np.asarray(uniforms)[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= targets).sum(axis=-1), probs.shape[-1] - 1).astype(np.int64)
