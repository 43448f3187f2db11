"""KV-cached token streams for causal language models, shared by the LM predictors.

A language model is reduced to an `Engine`: a torch module that, given token
ids and a cache of past keys/values, appends the new positions to the cache
and returns the logits of the next token. `TokenStreams` steps B independent
streams of one engine side by side, in lockstep (all streams have the same
length, so no attention mask or left padding is needed), and turns logits
into float64 distributions.

StreamBatch contract (what `genzip.coder` relies on in chunked mode)
--------------------------------------------------------------------
* `predictor.open_streams(count)` returns `count` fresh streams (each starts
  like `predictor.reset(b"")`), or None when the predictor cannot batch.
* `distributions()` gives a (count, alphabet) float64 array, one row per
  stream, each a proper distribution (`genzip.predictor.normalise`).
* `observe(symbols)` advances every stream by one symbol; the coder feeds a
  padding symbol (0) to streams whose chunk has ended and ignores their rows.
* The floats depend only on the sequence of calls and the batch size, never
  on wall-clock or on which side (encoder/decoder) makes the calls. The coder
  uses the same batch layout (recorded in the container) on both sides, so
  the distributions are bit-identical.

Sliding window (long inputs without chunking)
---------------------------------------------
A stream holds at most `window` tokens in its cache. When one more token
would overflow it, the cache is rebuilt from the first token (begin of
sequence, kept as an anchor) plus the last `window // 2 - 1` tokens (the new
one included), in one prefill pass. So every prediction sees between
`window // 2` and `window` tokens of history; the rebuilds happen at the
same positions in the encoder and the decoder.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch

from ..predictor import StreamBatch, normalise
from .devices import torch_threads


class Engine(ABC):
    """A causal LM as coding needs it: feed tokens into a cache, get next-token logits."""

    #: number of logits per position (the alphabet of the predictor)
    vocab_size: int
    #: device the engine's tensors live on
    device: torch.device
    #: CPU torch threads its forward passes run on (the predictor's --jobs)
    threads: int = 1

    @abstractmethod
    def new_cache(self, batch: int) -> Any:
        """An empty cache for `batch` streams."""

    @abstractmethod
    def forward(self, tokens: torch.Tensor, cache: Any, start: int, all_logits: bool = False) -> torch.Tensor:
        """Feed `tokens` (B, T) at positions start..start+T-1, appending them to `cache`.

        Returns float32 logits: (B, V) for the last position, or (B, T, V) if `all_logits`.
        """

    def clone_cache(self, cache: Any) -> Any:
        """An independent copy of `cache` (for `fork`)."""
        return copy.deepcopy(cache)


#: probability mass shared by escape symbols (bytes the tokenizer has no token for)
ESCAPE_MASS = 2.0**-12


def to_probabilities(logits: torch.Tensor, mask: np.ndarray | None, escapes: int = 0) -> np.ndarray:
    """Float32 logits (..., V) -> float64 distributions, deterministically (numpy, fixed order).

    `mask` lists symbols that never occur (special tokens); they keep only the
    probability floor of `normalise`. `escapes` extra symbols are appended
    after the V logits, sharing `ESCAPE_MASS` equally (the model's own mass is
    scaled by 1 - ESCAPE_MASS).
    """
    x = logits.detach().to("cpu", torch.float64, copy=True).numpy()  # a fresh array, safe to modify
    if mask is not None and len(mask):
        x[..., mask] = -np.inf
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    if escapes:
        x *= (1.0 - ESCAPE_MASS) / x.sum(axis=-1, keepdims=True)
        extra = np.full((*x.shape[:-1], escapes), ESCAPE_MASS / escapes)
        x = np.concatenate([x, extra], axis=-1)
    return normalise(x)


class TokenStreams(StreamBatch):
    """B streams of one engine in lockstep, with the sliding window described above."""

    def __init__(
        self,
        engine: Engine,
        batch: int,
        prefix: list[int],
        window: int,
        mask: np.ndarray | None = None,
        inputs: np.ndarray | None = None,
    ) -> None:
        """`inputs` maps symbols to model input ids (escape symbols have no embedding of their own)."""
        if window < 4:
            raise ValueError("window must be at least 4 tokens")
        self.engine = engine
        self.batch = batch
        self.window = window
        self.mask = mask
        self.inputs = inputs
        self.escapes = 0 if inputs is None else len(inputs) - engine.vocab_size
        self.cache = engine.new_cache(batch)
        self.history = torch.empty((batch, 0), dtype=torch.long)  # tokens already in the cache
        start = torch.as_tensor(self.model_ids(np.array(prefix, dtype=np.int64))).reshape(1, -1).expand(batch, -1)
        self.pending: list[torch.Tensor] = [start]  # tokens observed but not yet fed
        self.logits: torch.Tensor | None = None

    def observe(self, symbols: np.ndarray) -> None:
        """Advance every stream by one token."""
        self.pending.append(torch.as_tensor(self.model_ids(symbols).reshape(self.batch, -1)))

    def model_ids(self, symbols: np.ndarray) -> np.ndarray:
        """Model input ids for symbols (escape symbols mapped to their stand-in token)."""
        symbols = np.asarray(symbols, dtype=np.int64)
        return symbols if self.inputs is None else self.inputs[symbols]

    def feed(self, all_logits: bool = False) -> torch.Tensor:
        """Feed pending tokens; return the last logits (B, V), or (B, T, V) for the fed tokens."""
        new = torch.cat(self.pending, dim=1) if len(self.pending) > 1 else self.pending[0]
        self.pending = []
        if self.history.shape[1] + new.shape[1] > self.window:
            keep = self.window // 2 - 1
            tail = torch.cat([self.history[:, 1:], new], dim=1)[:, -keep:]
            anchor = self.history[:, :1] if self.history.shape[1] else new[:, :1]
            self.history = torch.cat([anchor, tail], dim=1)
            self.cache = self.engine.new_cache(self.batch)
            with torch_threads(self.engine.threads):
                out = self.engine.forward(self.history.to(self.engine.device), self.cache, 0, all_logits=False)
            self.logits = out
            return out[:, None, :] if all_logits else out
        start = self.history.shape[1]
        self.history = torch.cat([self.history, new], dim=1)
        with torch_threads(self.engine.threads):
            out = self.engine.forward(new.to(self.engine.device), self.cache, start, all_logits=all_logits)
        self.logits = out[:, -1, :] if all_logits else out
        return out

    def distributions(self) -> np.ndarray:
        """(B, V) float64 next-token distributions."""
        if self.pending:
            self.feed()
        assert self.logits is not None
        return to_probabilities(self.logits, self.mask, self.escapes)

    def room(self) -> int:
        """Tokens that can still be fed before the window forces a rebuild."""
        return self.window - self.history.shape[1] - sum(p.shape[1] for p in self.pending)

    def clone(self) -> TokenStreams:
        """An independent copy (the cache is copied)."""
        if self.pending:
            self.feed()
        twin = copy.copy(self)
        twin.cache = self.engine.clone_cache(self.cache)
        twin.pending = []
        return twin


def teacher_forced_bits(streams: TokenStreams, symbols: np.ndarray, segment: int = 256) -> np.ndarray:
    """-log2 p of each symbol, fed in segments (batched teacher forcing); observes them all.

    Uses the same window rule as stepping, so each token is conditioned on the
    same history; the floats may differ from stepping in the last bits (other
    matrix shapes), which is why this is for scoring, never for coding.
    """
    symbols = np.asarray(symbols, dtype=np.int64)
    bits = np.empty(len(symbols), dtype=np.float64)
    i = 0
    while i < len(symbols):
        probs = streams.distributions()[0]  # predicts symbols[i]
        room = streams.room()
        if room <= 0:  # the window is full: the next token rebuilds the cache, one step
            bits[i] = -np.log2(probs[symbols[i]])
            streams.observe(symbols[i : i + 1])
            i += 1
            continue
        size = min(segment, room, len(symbols) - i)
        part = symbols[i : i + size]
        streams.pending.append(torch.as_tensor(streams.model_ids(part).reshape(1, -1)))
        logits = streams.feed(all_logits=True)[0]  # row j predicts symbols[i + j + 1]
        bits[i] = -np.log2(probs[part[0]])
        if size > 1:
            p = to_probabilities(logits[: size - 1], streams.mask, streams.escapes)
            bits[i + 1 : i + size] = -np.log2(p[np.arange(size - 1), part[1:]])
        i += size
    return bits
