"""What every language model in genzip reduces to: an `Engine`, one `KVCache`, and `TokenStreams`.

An engine is a causal model that, given token ids and a cache of past
keys/values, appends the new positions to the cache and returns next-token
logits (`prefill` many positions at once, `step` one). `TokenStreams` steps
B independent streams of one engine side by side, in lockstep (all streams
have the same length, so no attention mask or left padding is needed), and
turns logits into float64 distributions with the predictor's own softmax.
The Hugging Face predictors (`hf`, `smollm2`) and `bytelm` both batch through it.

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

Long inputs without chunking: two windows
-----------------------------------------
* Rebuild (`window=N`, the Hugging Face models): a stream holds at most N
  tokens. When one more would overflow it, the cache is rebuilt from the
  first token (begin of sequence, kept as an anchor) plus the last
  `N // 2 - 1` tokens (the new one included), in one prefill pass. So every
  prediction sees between N // 2 and N tokens of history; the rebuilds happen
  at the same positions in the encoder and the decoder.
* Ring (`window=None`, bytelm): the engine's cache is a ring buffer of the
  model's context (`KVCache(limit=...)`), which is sliding-window attention;
  the streams never rebuild.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..predictor import StreamBatch
from .devices import torch_threads

#: smallest window a rebuilding stream accepts (the anchor, a kept tail and the new token)
MIN_WINDOW = 4


class KVCache:
    """Keys and values of every layer: per layer a (batch, kv heads, capacity, head dim) tensor.

    Capacity grows in blocks as positions are written, up to `limit` slots when
    one is given; then position p lives in slot p % limit (a ring buffer, i.e.
    sliding-window attention). `length` counts the positions written so far. Unwritten slots are
    zeros, never uninitialised memory: the byte view's batched trunks mask them, and a masked
    NaN would still poison the softmax.
    """

    BLOCK = 256

    def __init__(
        self,
        layers: int,
        batch: int,
        heads: int,
        head_dim: int,
        dtype: torch.dtype,
        device: torch.device,
        limit: int | None = None,
    ) -> None:
        self.shape = (batch, heads, 0, head_dim)
        self.dtype, self.device, self.limit = dtype, device, limit
        self.length = 0
        self.keys = [torch.zeros(self.shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(self.shape, dtype=dtype, device=device) for _ in range(layers)]

    def reserve(self, length: int) -> None:
        """Make room for `length` positions (copies into a bigger buffer when needed)."""
        capacity = self.keys[0].shape[2]
        if length <= capacity or capacity == self.limit:
            return
        capacity = max(length, 2 * capacity, self.BLOCK)
        capacity = -(-capacity // self.BLOCK) * self.BLOCK
        if self.limit is not None:
            capacity = min(capacity, self.limit)
        b, h, _, d = self.shape
        for store in (self.keys, self.values):
            for i, old in enumerate(store):
                new = torch.zeros((b, h, capacity, d), dtype=self.dtype, device=self.device)
                new[:, :, : old.shape[2]] = old
                store[i] = new

    def slot(self, position: int) -> int:
        """Where the keys of `position` are stored."""
        return position if self.limit is None else position % self.limit

    def filled(self) -> int:
        """Number of valid slots (positions attended to by the next query)."""
        return self.length if self.limit is None else min(self.length, self.limit)

    def clone(self) -> KVCache:
        twin = copy.copy(self)
        twin.keys = [k.clone() for k in self.keys]
        twin.values = [v.clone() for v in self.values]
        return twin


class Engine(ABC):
    """A causal LM as coding needs it: feed tokens into a cache, get next-token logits."""

    #: short name recorded in fingerprints
    name: str
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

        Returns float logits: (B, V) for the last position, or (B, T, V) if `all_logits`.
        """

    def clone_cache(self, cache: Any) -> Any:
        """An independent copy of `cache` (for `fork`)."""
        return cache.clone() if isinstance(cache, KVCache) else copy.deepcopy(cache)


#: logits (..., V) -> float64 distributions (..., alphabet), deterministically
Probabilities = Callable[[torch.Tensor], np.ndarray]


class TokenStreams(StreamBatch):
    """B streams of one engine in lockstep, with one of the two windows described above."""

    def __init__(
        self,
        engine: Engine,
        batch: int,
        prefix: list[int],
        window: int | None,
        probabilities: Probabilities,
        inputs: np.ndarray | None = None,
    ) -> None:
        """`inputs` maps symbols to model input ids (escape symbols have no embedding of their own)."""
        if window is not None and window < MIN_WINDOW:
            raise ValueError(f"window must be at least {MIN_WINDOW} tokens")
        self.engine = engine
        self.batch = batch
        self.window = window
        self.probabilities = probabilities
        self.inputs = inputs
        self.cache = engine.new_cache(batch)
        self.length = 0  # positions in the cache
        self.history = torch.empty((batch, 0), dtype=torch.long)  # tokens in the cache (rebuild window only)
        start = (
            torch.as_tensor(self.model_ids(np.array(prefix, dtype=np.int64))).reshape(1, -1).expand(batch, -1)
        )
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
        if self.window is not None and self.length + new.shape[1] > self.window:
            out = self._rebuild(new)
            return out[:, None, :] if all_logits else out
        return self._extend(new, all_logits)

    def _extend(self, new: torch.Tensor, all_logits: bool) -> torch.Tensor:
        """Prefill `new` after what the cache holds."""
        start = self.length
        self.length += new.shape[1]
        if self.window is not None:
            self.history = torch.cat([self.history, new], dim=1)
        with torch_threads(self.engine.threads):
            out = self.engine.forward(new.to(self.engine.device), self.cache, start, all_logits=all_logits)
        self.logits = out[:, -1, :] if all_logits else out
        return out

    def _rebuild(self, new: torch.Tensor) -> torch.Tensor:
        """The rebuild window: a fresh cache from the anchor and the last `window // 2 - 1` tokens."""
        assert self.window is not None
        keep = self.window // 2 - 1
        tail = torch.cat([self.history[:, 1:], new], dim=1)[:, -keep:]
        anchor = self.history[:, :1] if self.history.shape[1] else new[:, :1]
        self.history = torch.cat([anchor, tail], dim=1)
        self.length = self.history.shape[1]
        self.cache = self.engine.new_cache(self.batch)
        with torch_threads(self.engine.threads):
            self.logits = self.engine.forward(
                self.history.to(self.engine.device), self.cache, 0, all_logits=False
            )
        return self.logits

    def distributions(self) -> np.ndarray:
        """(B, alphabet) float64 next-token distributions."""
        if self.pending:
            self.feed()
        assert self.logits is not None
        return self.probabilities(self.logits)

    def room(self) -> int | None:
        """Tokens that can still be fed before the window forces a rebuild (None: never)."""
        if self.window is None:
            return None
        return self.window - self.length - sum(p.shape[1] for p in self.pending)

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
        room = len(symbols) if room is None else room
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
            p = streams.probabilities(logits[: size - 1])
            bits[i + 1 : i + size] = -np.log2(p[np.arange(size - 1), part[1:]])
        i += size
    return bits
