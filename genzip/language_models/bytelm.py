"""The paper's byte-level transformer, nanoGPT style (the model of the `bytelm` predictor).

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
`context` slots (`engines.KVCache(limit=context)`): once a stream is longer
than the window, each new byte overwrites the oldest one. That is
sliding-window attention (as in Mistral): at every layer, each position
attends to the last `context` positions, itself included, whose keys and
values were computed in their own windows; `ByteTransformer.forward(ids,
window=context)` computes the same thing with a banded mask. The
begin-of-sequence id drops out first. Rotation angles are computed in
float64 and then rounded, so long streams do not lose positional precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..chunks import DEFAULT_CHUNK_BYTES
from .engines import Engine, KVCache

#: input id that starts every stream (bytes are 0..255)
BOS = 256


@dataclass(frozen=True)
class Config:
    """Shape of one bytelm model."""

    width: int
    heads: int
    layers: int = 4
    context: int = DEFAULT_CHUNK_BYTES
    vocab: int = 256

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


SIZES: dict[str, Config] = {
    "200k": Config(width=64, heads=4),
    "800k": Config(width=128, heads=4),
    "3.2m": Config(width=256, heads=8),
}


def rotary(
    positions: torch.Tensor, head_dim: int, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, shape (len(positions), head_dim // 2), angles computed in float64."""
    inv_freq = 10000.0 ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]
    return angles.cos().to(device, dtype), angles.sin().to(device, dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of the last dimension of x (..., T, head_dim)."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


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
        if cache is not None:
            keys, values = cache.keys[layer], cache.values[layer]
            keys[:, :, slot] = k[:, :, 0]
            values[:, :, slot] = v[:, :, 0]
            n = cache.filled()
            y = F.scaled_dot_product_attention(q, keys[:, :, :n], values[:, :, :n])
        elif window is None or window >= T:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # banded causal mask: query t sees keys t - window + 1 .. t
            i = torch.arange(T, device=x.device)
            band = (i[None, :] <= i[:, None]) & (i[None, :] > i[:, None] - window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=band)
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
        blocks = [Block(config) for _ in range(config.layers)]
        self.blocks = nn.ModuleList(blocks)
        self.ln_f = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, config.vocab, bias=False)
        self.apply(self._init)
        for block in blocks:  # GPT-2's scaled init of the residual projections
            for proj in (block.attn.proj, block.mlp[2]):
                assert isinstance(proj, nn.Linear)
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.layers))

    def set_context(self, context: int) -> None:
        """Make `context` the sliding window of stepping (the ring-buffer size) and of the blocks."""
        self.config = replace(self.config, context=context)
        for block in self.blocks:
            cast(Block, block).attn.config = self.config

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
        if window is None and self.config.context < T:
            raise ValueError(f"sequence of {T} is longer than the context {self.config.context}")
        cos, sin = rotary(torch.arange(T), self.config.head_dim, ids.device, self.head.weight.dtype)
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x, cos, sin, window=window)
        return self.head(self.ln_f(x))

    def step(self, ids: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Feed one id per stream (B,), append it to the cache, return next-byte logits (B, 256)."""
        position = cache.length
        cos, sin = rotary(torch.tensor([position]), self.config.head_dim, ids.device, self.head.weight.dtype)
        cache.reserve(position + 1)
        slot = cache.slot(position)
        cache.length += 1
        x = self.embed(ids)[:, None, :]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache=cache, layer=i, slot=slot)
        return self.head(self.ln_f(x))[:, 0]


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class ByteEngine(Engine):
    """A ByteTransformer as an `Engine`: one step per byte into a ring-buffer cache of its context."""

    name = "bytelm"

    def __init__(self, model: ByteTransformer, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.vocab_size = model.config.vocab

    def new_cache(self, batch: int) -> KVCache:
        c = self.model.config
        dtype = self.model.head.weight.dtype
        return KVCache(c.layers, batch, c.heads, c.head_dim, dtype, self.device, limit=c.context)

    @torch.inference_mode()
    def forward(
        self, tokens: torch.Tensor, cache: KVCache, start: int, all_logits: bool = False
    ) -> torch.Tensor:
        """Step through `tokens` (B, T) one position at a time (the path coding needs, bit-identical)."""
        logits = [self.model.step(tokens[:, t], cache) for t in range(tokens.shape[1])]
        return torch.stack(logits, dim=1) if all_logits else logits[-1]
