"""Engines for Hugging Face causal LMs, and their token softmax.

Llama-family models (llama, qwen2, ...; SmolLM2 is one) run through
`LlamaEngine`, a lean re-implementation of the decoder over the model's own
weights (fused QKV and gate/up matrices, the preallocated `KVCache`, grouped
attention as two matmuls), which cuts the Python overhead of a step
several-fold; any other architecture runs through `HFEngine` (the model's own
forward with a transformers `DynamicCache`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..predictor import normalise
from .engines import Engine, KVCache

#: model types whose decoder layers `LlamaEngine` reproduces exactly
LEAN_MODEL_TYPES = ("llama", "qwen2")
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


class LlamaLayer(NamedTuple):
    """One decoder layer's weights, the attention and MLP matrices fused."""

    norm1: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor | None
    out: torch.Tensor
    norm2: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor


def fuse_layer(layer: Any) -> LlamaLayer:
    att, mlp = layer.self_attn, layer.mlp
    qkv = torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).contiguous()
    biases = [att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]
    bias = torch.cat(biases).contiguous() if all(b is not None for b in biases) else None
    gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).contiguous()
    return LlamaLayer(
        layer.input_layernorm.weight,
        qkv,
        bias,
        att.o_proj.weight,
        layer.post_attention_layernorm.weight,
        gate_up,
        mlp.down_proj.weight,
    )


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def softmax_dtype(dtype: torch.dtype) -> torch.dtype:
    """Attention weights in float32 at least (float16/bfloat16 models), in float64 for float64 models."""
    return torch.promote_types(dtype, torch.float32)


def grouped_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Grouped-query attention as two batched matmuls (much faster than SDPA for one query on CPU).

    q (B, heads, T, hd), keys/values (B, kv heads, S, hd), mask (T, S) additive -> (B, T, heads * hd).
    """
    b, nh, t, hd = q.shape
    kvh = keys.shape[1]
    group = nh // kvh
    q = q.reshape(b, kvh, group * t, hd)
    scores = torch.matmul(q, keys.transpose(-1, -2)) * (hd**-0.5)
    if mask is not None:
        scores = (scores.view(b, kvh, group, t, -1) + mask).view(b, kvh, group * t, -1)
    a = torch.matmul(torch.softmax(scores.to(softmax_dtype(scores.dtype)), dim=-1).to(values.dtype), values)
    return a.view(b, nh, t, hd).transpose(1, 2).reshape(b, t, nh * hd)


def causal_mask(t: int, start: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    """Additive (t, start + t) mask for t new queries after `start` cached positions; None for one query."""
    if t == 1:
        return None
    end = start + t
    allowed = torch.ones((t, end), dtype=torch.bool, device=device).tril(diagonal=start)
    return torch.zeros((t, end), dtype=dtype, device=device).masked_fill(~allowed, float("-inf"))


class LlamaEngine(Engine):
    """The Llama decoder over a model's own weights, with fused matrices and the preallocated cache."""

    name = "llama-lean"

    def __init__(self, model: Any, device: torch.device) -> None:
        cfg = model.config
        inner = model.model
        self.device = device
        self.vocab_size = int(model.lm_head.weight.shape[0])
        self.heads = cfg.num_attention_heads
        self.kv_heads = getattr(cfg, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = float(cfg.rms_norm_eps)
        self.hidden = cfg.hidden_size
        self.dtype = model.lm_head.weight.dtype
        self.rotary = inner.rotary_emb
        self.embed = inner.embed_tokens.weight
        self.norm = inner.norm.weight
        self.lm_head = model.lm_head.weight
        self.layers = [fuse_layer(layer) for layer in inner.layers]

    @staticmethod
    def supports(model: Any) -> bool:
        """True when the model is a plain Llama-family decoder this engine reproduces."""
        cfg = model.config
        if cfg.model_type not in LEAN_MODEL_TYPES or getattr(cfg, "use_sliding_window", False):
            return False
        if getattr(cfg, "hidden_act", "silu") != "silu" or getattr(cfg, "mlp_bias", False):
            return False
        attention = model.model.layers[0].self_attn
        names = ("q_proj", "k_proj", "v_proj", "o_proj")
        return all(hasattr(attention, n) for n in names) and attention.o_proj.bias is None

    def new_cache(self, batch: int) -> KVCache:
        return KVCache(len(self.layers), batch, self.kv_heads, self.head_dim, self.dtype, self.device)

    def _layer(
        self,
        i: int,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
        cache: KVCache,
        start: int,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """One decoder layer over x (B, T, hidden): attention (writing its keys to the cache), then the MLP."""
        b, t, d = x.shape
        nh, kvh, hd = self.heads, self.kv_heads, self.head_dim
        w = self.layers[i]
        cos, sin = rope
        h = F.rms_norm(x, (d,), w.norm1, self.eps)
        q, k, v = F.linear(h, w.qkv, w.qkv_bias).split((nh * hd, kvh * hd, kvh * hd), dim=-1)
        q = q.view(b, t, nh, hd).transpose(1, 2)
        k = k.view(b, t, kvh, hd).transpose(1, 2)
        v = v.view(b, t, kvh, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        end = start + t
        keys, values = cache.keys[i], cache.values[i]
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        a = grouped_attention(q, keys[:, :, :end], values[:, :, :end], mask)
        x = x + F.linear(a, w.out)
        gate, up = F.linear(F.rms_norm(x, (d,), w.norm2, self.eps), w.gate_up).chunk(2, dim=-1)
        return x + F.linear(F.silu(gate) * up, w.down)

    @torch.inference_mode()
    def forward(
        self, tokens: torch.Tensor, cache: KVCache, start: int, all_logits: bool = False
    ) -> torch.Tensor:
        t = tokens.shape[1]
        end = start + t
        cache.reserve(end)
        x = F.embedding(tokens, self.embed)
        positions = torch.arange(start, end, device=self.device).unsqueeze(0)
        cos, sin = self.rotary(x, positions)
        rope = (cos.unsqueeze(1).to(x.dtype), sin.unsqueeze(1).to(x.dtype))
        mask = causal_mask(t, start, x.dtype, self.device)
        for i in range(len(self.layers)):
            x = self._layer(i, x, rope, cache, start, mask)
        cache.length = end
        if not all_logits:
            x = x[:, -1]
        logits = F.linear(F.rms_norm(x, (self.hidden,), self.norm, self.eps), self.lm_head)
        return logits if logits.dtype == torch.float64 else logits.float()  # float64 models stay exact


class HFEngine(Engine):
    """Any causal LM through its own forward and a transformers `DynamicCache`."""

    name = "hf-dynamic-cache"

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])

    def new_cache(self, batch: int) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, cache: Any, start: int, all_logits: bool = False) -> torch.Tensor:
        positions = torch.arange(start, start + tokens.shape[1], device=self.device).unsqueeze(0)
        positions = positions.expand(tokens.shape[0], -1)
        out = self.model(input_ids=tokens, cache=cache, position_ids=positions, use_cache=True)
        logits = out.logits.float()
        return logits if all_logits else logits[:, -1]
