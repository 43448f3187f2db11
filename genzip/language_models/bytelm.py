"""The paper's byte-level transformer, nanoGPT style, and its predictor (`bytelm`).

A decoder-only transformer over bytes: 4 pre-LN blocks, vocabulary 256 (plus
one begin-of-sequence input id, 256, that starts every stream), rotary
positions, context 2048. Three sizes as in Delétang et al. (2024):

    size   width  heads  parameters
    200k     64     4     ~0.23 M
    800k    128     4     ~0.86 M
    3.2m    256     8     ~3.3 M

Positions are rotary (RoPE): attention only sees relative distances, which
makes the sliding window simple. Keys are stored in the KV cache already
rotated at their absolute position, and the cache is a ring buffer of
`context` slots: once a stream is longer than the window, each new byte
overwrites the oldest one. That is sliding-window attention (as in
Mistral): at every layer, each position attends to the last `context`
positions, itself included, whose keys and values were computed in their
own windows; `ByteTransformer.forward(ids, window=context)` computes the same
thing with a banded mask. The begin-of-sequence id drops out first. Rotation
angles are computed in float64 and then rounded, so long streams do not lose
positional precision.

Coding needs bit-identical floats in encoder and decoder, so `distributions()`
is the same KV-cached single-step path as `distribution()`/`observe()`;
`score()` uses a batched teacher-forced forward pass instead (fast, equal to
stepping up to float rounding, never used for coding).

torch is imported when this module is, which the registry only does when a
`bytelm` predictor is built.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InputError, SpecError
from ..predictor import RuntimeOptions, SequencePredictor, StreamBatch, normalise
from .devices import resolve_device, resolve_dtype, torch_threads

#: input id that starts every stream (bytes are 0..255)
BOS = 256
#: where the shipped checkpoints live inside the package
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
CHECKPOINT_FORMAT = "genzip-bytelm-1"


@dataclass(frozen=True)
class Config:
    """Shape of one bytelm model."""

    width: int
    heads: int
    layers: int = 4
    context: int = 2048
    vocab: int = 256

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


SIZES: dict[str, Config] = {
    "200k": Config(width=64, heads=4),
    "800k": Config(width=128, heads=4),
    "3.2m": Config(width=256, heads=8),
}


def shipped_checkpoint(size: str) -> Path:
    """Path of the checkpoint shipped in the package for `size` (may not exist)."""
    return CHECKPOINT_DIR / f"bytelm-{size}.pt"


# --- the model ---------------------------------------------------------------


def rotary(positions: torch.Tensor, head_dim: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, shape (len(positions), head_dim // 2), angles computed in float64."""
    inv_freq = 10000.0 ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().to(device, dtype), angles.sin().to(device, dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the last dimension of x (..., T, head_dim)."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


class KVCache:
    """Keys and values of every layer for a batch of streams stepped in lockstep.

    A ring buffer of at most `context` slots that grows by doubling, so short
    streams (and their forks) stay small.
    """

    def __init__(self, config: Config, batch: int, device: torch.device, dtype: torch.dtype, capacity: int = 256):
        self.config = config
        self.position = 0  # absolute position of the next token
        capacity = min(capacity, config.context)
        shape = (config.layers, batch, config.heads, capacity, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)

    @property
    def filled(self) -> int:
        """Number of valid slots after the token at `position` has been written."""
        return min(self.position + 1, self.config.context)

    def make_room(self) -> int:
        """Grow if needed; return the slot the token at `position` goes to."""
        capacity = self.k.shape[3]
        if self.position >= capacity and capacity < self.config.context:
            grown = min(2 * capacity, self.config.context)
            pad = (0, 0, 0, grown - capacity)
            self.k = F.pad(self.k, pad)
            self.v = F.pad(self.v, pad)
        return self.position % self.config.context

    def clone(self) -> KVCache:
        twin = KVCache.__new__(KVCache)
        twin.config, twin.position = self.config, self.position
        twin.k, twin.v = self.k.clone(), self.v.clone()
        return twin


class Attention(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.qkv = nn.Linear(config.width, 3 * config.width, bias=False)
        self.proj = nn.Linear(config.width, config.width, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        slot: int = 0,
        window: int | None = None,
    ) -> torch.Tensor:
        """Causal self-attention over x (B, T, C), optionally limited to a sliding `window`.

        With a cache, T == 1 and the keys come from the cache (which holds the window).
        """
        B, T, C = x.shape
        H, D = self.config.heads, self.config.head_dim
        q, k, v = self.qkv(x).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)  # each (B, H, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is None and (window is None or T <= window):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif cache is None:  # banded causal mask: query t sees keys t - window + 1 .. t
            i = torch.arange(T, device=x.device)
            band = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
        else:
            cache.k[layer, :, :, slot] = k[:, :, 0]
            cache.v[layer, :, :, slot] = v[:, :, 0]
            n = cache.filled
            y = F.scaled_dot_product_attention(q, cache.k[layer, :, :, :n], cache.v[layer, :, :, :n])
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.width)
        self.attn = Attention(config)
        self.ln2 = nn.LayerNorm(config.width)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, 4 * config.width, bias=False),
            nn.GELU(),
            nn.Linear(4 * config.width, config.width, bias=False),
        )

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, **cached: Any) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cos, sin, **cached)
        return x + self.mlp(self.ln2(x))


class ByteTransformer(nn.Module):
    """Decoder-only byte transformer: embedding (257 ids), pre-LN blocks, final LN, untied 256-way head."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab + 1, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.ln_f = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.vocab, bias=False)
        self.apply(self._init)
        for block in self.blocks:  # GPT-2's scaled init of the residual projections
            for proj in (block.attn.proj, block.mlp[2]):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, ids: torch.Tensor, window: int | None = None) -> torch.Tensor:
        """Teacher-forced logits (B, T, 256) for input ids (B, T); position 0 is the first id.

        Without `window`, T may not exceed the context; with it, attention is
        limited to the last `window` positions (what KV-cached stepping computes).
        """
        T = ids.shape[1]
        if window is None and T > self.config.context:
            raise ValueError(f"sequence of {T} is longer than the context {self.config.context}")
        cos, sin = rotary(torch.arange(T), self.config.head_dim, ids.device, self.head.weight.dtype)
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, cos, sin, window=window)
        return self.head(self.ln_f(x))

    def step(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Feed one id per stream (B,), advance the cache, return next-byte logits (B, 256)."""
        cos, sin = rotary(torch.tensor([cache.position]), self.config.head_dim, ids.device, self.head.weight.dtype)
        slot = cache.make_room()
        x = self.embed(ids)[:, None, :]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache=cache, layer=i, slot=slot)
        cache.position += 1
        return self.head(self.ln_f(x))[:, 0]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- checkpoints -------------------------------------------------------------


def save_checkpoint(path: Path, model: ByteTransformer, size: str, **extra: Any) -> None:
    """Write a checkpoint atomically (temp file + rename): weights, config and `extra` metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": CHECKPOINT_FORMAT,
        "size": size,
        "config": asdict(model.config),
        "model": {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()},
        **extra,
    }
    tmp = path.with_name(f".{path.name}.part")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint dict, with a clear error when it is missing or not a bytelm checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"bytelm: no checkpoint file at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise SpecError(f"bytelm: {path} is not a readable checkpoint ({exc.__class__.__name__})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise SpecError(f"bytelm: {path} is not a genzip bytelm checkpoint")
    return state


def load_model(state: dict[str, Any]) -> ByteTransformer:
    """Build the model a checkpoint dict describes and load its weights."""
    model = ByteTransformer(Config(**state["config"]))
    model.load_state_dict(state["model"])
    return model


def weights_hash(model: nn.Module) -> str:
    """blake2b-128 over every parameter's name, shape and float32 bytes, in state-dict order."""
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


# --- the predictor -------------------------------------------------------------


def _make_deterministic(device: torch.device) -> None:
    """On CUDA, ask torch for deterministic kernels (cuBLAS needs its workspace setting first).

    CPU stepping is deterministic already: the same ops in the same order on one thread.
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


class BytelmPredictor(SequencePredictor):
    """`bytelm[:size=200k|800k|3.2m,checkpoint=PATH,init=trained|random,context=N]`.

    Loads `checkpoint`, else the checkpoint shipped for `size` (200k when no
    size is given); a size without a shipped checkpoint is a SpecError unless
    `init=random` asks for random weights (seeded, for experiments).
    `context` is the sliding window (at most the model's 2048).
    """

    def __init__(
        self,
        options: RuntimeOptions,
        size: str | None = None,
        checkpoint: str | None = None,
        init: str = "trained",
        context: int = 2048,
    ):
        self.options = options
        if init == "random":
            if checkpoint is not None:
                raise SpecError("bytelm: init=random and checkpoint= exclude each other")
            size = size or "200k"
            with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
                torch.manual_seed(0)
                model = ByteTransformer(SIZES[size])
        else:
            wanted = size or "200k"
            path = Path(checkpoint) if checkpoint else shipped_checkpoint(wanted)
            if checkpoint is None and not path.is_file():
                raise SpecError(
                    f"bytelm: no checkpoint is shipped for size={wanted}; train one with "
                    f"'genzip train --size {wanted} --out CKPT' and pass checkpoint=CKPT, or use init=random"
                )
            state = read_checkpoint(path)
            if size is not None and state["size"] != size:
                raise SpecError(f"bytelm: {path} holds a size={state['size']} model, not size={size}")
            model = load_model(state)
        if context > model.config.context:
            raise SpecError(f"bytelm: context={context} exceeds the model's {model.config.context}")
        self.weights = weights_hash(model)
        self.n_parameters = parameter_count(model)
        self.device = resolve_device(options.device)
        self.dtype = resolve_dtype(options.dtype)
        if self.dtype is None:
            raise InputError(f"bytelm: unknown dtype {options.dtype!r} (float32 | float16 | bfloat16)")
        _make_deterministic(self.device)
        # the window is a property of the stepping path: a model whose context is `context`
        self.config = Config(**{**asdict(model.config), "context": context})
        model.config = self.config
        for block in model.blocks:
            block.attn.config = self.config
        self.model = model.to(self.device, self.dtype).eval()
        self.cache: KVCache | None = None
        self.logits: torch.Tensor | None = None
        self.reset(b"")

    # stepping -----------------------------------------------------------------

    @torch.inference_mode()
    def _feed(self, ids: list[int]) -> None:
        """Step the KV cache through `ids`, remembering them as history."""
        cache = self._live_cache()
        with torch_threads():
            for i in ids:
                self.logits = self.model.step(torch.tensor([i], device=self.device), cache)
        self.history.extend(ids)
        if len(self.history) > 2 * self.config.context:  # only the window is ever re-read
            del self.history[: -self.config.context]

    @torch.inference_mode()
    def _live_cache(self) -> KVCache:
        """The KV cache, rebuilt from the last window of history if `score()` skipped it."""
        if self.cache is None:
            self.cache = KVCache(self.config, 1, self.device, self.dtype)
            with torch_threads():
                for i in self.history[-self.config.context :]:
                    self.logits = self.model.step(torch.tensor([i], device=self.device), self.cache)
        return self.cache

    def reset(self, context: bytes = b"") -> None:
        self.cache = KVCache(self.config, 1, self.device, self.dtype)
        self.history: list[int] = []
        self._feed([BOS, *bytes(context)])

    def distribution(self) -> np.ndarray:
        self._live_cache()
        assert self.logits is not None
        return _probabilities(self.logits)[0]

    def observe(self, symbol: int) -> None:
        if not 0 <= int(symbol) < 256:
            raise InputError(f"bytelm: symbol {symbol} is not a byte")
        self._feed([int(symbol)])

    def distributions(self, symbols: np.ndarray) -> np.ndarray:
        """Stepping, one symbol at a time: bit-identical to distribution()/observe() by construction."""
        symbols = np.asarray(symbols, dtype=np.int64)
        out = np.empty((len(symbols), 256), dtype=np.float64)
        for i, s in enumerate(symbols.tolist()):
            out[i] = self.distribution()
            self.observe(s)
        return out

    def fork(self) -> BytelmPredictor:
        twin = object.__new__(BytelmPredictor)
        twin.__dict__.update(self.__dict__)
        twin.cache = None if self.cache is None else self.cache.clone()
        twin.history = list(self.history)
        return twin

    def open_streams(self, count: int) -> BytelmStreams:
        return BytelmStreams(self, count)

    # scoring -------------------------------------------------------------------

    def score(self, symbols: np.ndarray) -> np.ndarray:
        """Per-byte bits from teacher-forced forward passes over sliding windows (not bit-exact).

        Runs on `--jobs` torch threads (default 1: on a shared 2-core machine two
        threads were 6-8x slower than one).

        Each window holds at most `context` ids: the first starts at the current
        history (BOS + observed bytes), every later one re-reads the previous
        `context // 2` ids as history and scores the ones after them. Afterwards
        the predictor is conditioned on what it scored: exactly the stepping
        state when everything fits in the window, else the last `context` ids
        replayed (lazily, only if the predictor is used again).
        """
        with torch_threads(self.options.jobs or 1), torch.inference_mode():
            bits = self._score(np.asarray(symbols, dtype=np.int64))
        self.history.extend(np.asarray(symbols, dtype=np.int64).tolist())
        del self.history[: -self.config.context]
        self.cache = None
        return bits

    def _score(self, symbols: np.ndarray) -> np.ndarray:
        C = self.config.context
        history = self.history[-(C - 1) :]
        ids = torch.tensor([*history, *symbols.tolist()], dtype=torch.long, device=self.device)
        bits = np.empty(len(symbols), dtype=np.float64)
        first = len(history)  # ids index of the next symbol to score
        while first < len(ids):
            keep = min(first, C // 2) if first - len(history) > 0 else first
            window = ids[first - keep : min(first - keep + C + 1, len(ids))]
            logits = self.model(window[None, :-1])[0, keep - 1 :]
            targets = window[keep:]
            lp = torch.log_softmax(logits.double(), dim=-1).gather(1, targets[:, None])[:, 0]
            done = first - len(history)
            bits[done : done + len(targets)] = (-lp / math.log(2)).cpu().numpy()
            first += len(targets)
        return bits

    # identity ------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device.type,
            "torch": torch.__version__,
            "context": self.config.context,
        }

    def model_size_bytes(self) -> int:
        return 2 * self.n_parameters


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """Softmax in float64, floored and renormalised: (B, 256) float64."""
    return normalise(torch.softmax(logits.double(), dim=-1).cpu().numpy())


class BytelmStreams(StreamBatch):
    """`count` fresh streams of one bytelm stepped as one batch (one KV cache, lockstep positions).

    Streams that have ended are fed padding bytes whose predictions the caller
    ignores; every stream is at the same position, so no masks are needed.
    """

    def __init__(self, predictor: BytelmPredictor, count: int):
        if count < 1:
            raise InputError(f"bytelm: need at least one stream, got {count}")
        self.model, self.device = predictor.model, predictor.device
        self.cache = KVCache(predictor.config, count, predictor.device, predictor.dtype)
        self._step(np.full(count, BOS, dtype=np.int64))

    @torch.inference_mode()
    def _step(self, ids: np.ndarray) -> None:
        with torch_threads():
            self.logits = self.model.step(torch.as_tensor(ids, device=self.device), self.cache)

    def distributions(self) -> np.ndarray:
        return _probabilities(self.logits)

    def observe(self, symbols: np.ndarray) -> None:
        self._step(np.asarray(symbols, dtype=np.int64) & 0xFF)
