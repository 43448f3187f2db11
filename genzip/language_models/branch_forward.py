"""One decoder step for many branches of a token tree at once: a shared trunk, private suffixes.

The byte view (`byte_view`) keeps, per stream, the tokens every live
tokenization agrees on as a *trunk* (one row of a batched `KVCache`) and
each branch's remaining tokens as a short *suffix* of keys and values. A new
token of branch n attends to its stream's trunk and to its own suffix; the
trunk is never copied: queries are laid out per stream, (streams, kv heads,
slots x group, head dim), and multiply the trunk keys in one batched matmul,
while the suffixes, padded to the longest, take a second one. One softmax
over both parts gives the same attention as a plain cache holding the
branch's whole history. Only `LlamaEngine` models are supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .engines import KVCache
from .hf_engines import LlamaEngine, rotate_half, softmax_dtype


@dataclass
class BranchBatch:
    """The new tokens of N branches and where each one's history is.

    stream (N,): trunk row; slot (N,): the branch's index among its stream's new tokens;
    suffix_keys/values: (layers, N, kv heads, S + 1, head dim), each branch's suffix left-aligned
    with one free place after it, where `forward_branches` writes the new token's keys and values;
    suffix_lengths (N,); tokens (N,) model input ids.
    """

    stream: torch.Tensor
    slot: torch.Tensor
    slots: int
    suffix_keys: torch.Tensor
    suffix_values: torch.Tensor
    suffix_lengths: torch.Tensor
    tokens: torch.Tensor


def _trunk_layout(x: torch.Tensor, batch: BranchBatch, streams: int) -> torch.Tensor:
    """(N, kvh, ...) per branch -> (streams, kvh, slots * ..., last) per stream (zeros where no branch)."""
    _, kvh, group, last = x.shape
    out = x.new_zeros((streams, batch.slots, kvh, group, last))
    out[batch.stream, batch.slot] = x
    return out.transpose(1, 2).reshape(streams, kvh, batch.slots * group, last)


def _branch_layout(x: torch.Tensor, batch: BranchBatch, group: int) -> torch.Tensor:
    """Inverse of `_trunk_layout`: (streams, kvh, slots * group, last) -> (N, kvh, group, last)."""
    streams, kvh, _, last = x.shape
    x = x.view(streams, kvh, batch.slots, group, last).transpose(1, 2)
    return x[batch.stream, batch.slot]


def _attend(
    engine: LlamaEngine,
    q: torch.Tensor,
    trunk: tuple[torch.Tensor, torch.Tensor],
    trunk_mask: torch.Tensor,
    suffix: tuple[torch.Tensor, torch.Tensor],
    suffix_mask: torch.Tensor,
    batch: BranchBatch,
) -> torch.Tensor:
    """Attention of one query per branch over its trunk and its suffix; q (N, heads, 1, hd) -> (N, 1, heads * hd)."""
    n, nh, _, hd = q.shape
    kvh = engine.kv_heads
    group = nh // kvh
    q = q.reshape(n, kvh, group, hd)
    trunk_keys, trunk_values = trunk
    streams = trunk_keys.shape[0]
    scale = hd**-0.5
    on_trunk = torch.matmul(_trunk_layout(q, batch, streams), trunk_keys.transpose(-1, -2)) * scale
    on_trunk = _branch_layout(on_trunk, batch, group) + trunk_mask[batch.stream]
    on_suffix = torch.matmul(q, suffix[0].transpose(-1, -2)) * scale + suffix_mask
    scores = torch.cat([on_trunk, on_suffix], dim=-1)
    weights = torch.softmax(scores.to(softmax_dtype(scores.dtype)), dim=-1).to(q.dtype)
    width = on_trunk.shape[-1]
    out = torch.matmul(_trunk_layout(weights[..., :width].contiguous(), batch, streams), trunk_values)
    out = _branch_layout(out, batch, group) + torch.matmul(weights[..., width:], suffix[1])
    return out.reshape(n, 1, nh * hd)


@torch.inference_mode()
def forward_branches(
    engine: LlamaEngine, trunk: KVCache, trunk_lengths: torch.Tensor, batch: BranchBatch
) -> torch.Tensor:
    """Feed one token per branch; return next-token logits (N, V). The new tokens' keys and values
    are written into the batch's suffixes, at each branch's `suffix_lengths` place."""
    dev = engine.device
    n = batch.tokens.shape[0]
    nh, kvh, hd, d = engine.heads, engine.kv_heads, engine.head_dim, engine.hidden
    width = int(trunk_lengths.max())
    x = F.embedding(batch.tokens.to(dev)[:, None], engine.embed)
    positions = (trunk_lengths[batch.stream] + batch.suffix_lengths).to(dev)[:, None]
    cos, sin = engine.rotary(x, positions)
    cos, sin = cos.unsqueeze(1).to(x.dtype), sin.unsqueeze(1).to(x.dtype)
    places = torch.arange(width, device=dev)
    trunk_mask = torch.zeros((trunk_lengths.shape[0], width), dtype=x.dtype, device=dev)
    trunk_mask = trunk_mask.masked_fill(places[None, :] >= trunk_lengths.to(dev)[:, None], float("-inf"))
    trunk_mask = trunk_mask[:, None, None, :]
    room = batch.suffix_keys.shape[3]
    allowed = torch.arange(room, device=dev)[None, :] <= batch.suffix_lengths.to(dev)[:, None]
    suffix_mask = torch.zeros((n, room), dtype=x.dtype, device=dev).masked_fill(~allowed, float("-inf"))
    suffix_mask = suffix_mask[:, None, None, :]
    rows = torch.arange(n, device=dev)
    lengths = batch.suffix_lengths.to(dev)
    for i, w in enumerate(engine.layers):
        h = F.rms_norm(x, (d,), w.norm1, engine.eps)
        q, k, v = F.linear(h, w.qkv, w.qkv_bias).split((nh * hd, kvh * hd, kvh * hd), dim=-1)
        q = q.view(n, 1, nh, hd).transpose(1, 2)
        k = k.view(n, 1, kvh, hd).transpose(1, 2)
        v = v.view(n, 1, kvh, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        sk, sv = batch.suffix_keys[i], batch.suffix_values[i]
        sk[rows, :, lengths] = k[:, :, 0]
        sv[rows, :, lengths] = v[:, :, 0]
        trunk_kv = (trunk.keys[i][:, :, :width], trunk.values[i][:, :, :width])
        a = _attend(engine, q, trunk_kv, trunk_mask, (sk, sv), suffix_mask, batch)
        x = x + F.linear(a, w.out)
        gate, up = F.linear(F.rms_norm(x, (d,), w.norm2, engine.eps), w.gate_up).chunk(2, dim=-1)
        x = x + F.linear(F.silu(gate) * up, w.down)
    logits = F.linear(F.rms_norm(x[:, -1], (d,), engine.norm, engine.eps), engine.lm_head)
    return logits if logits.dtype == torch.float64 else logits.float()
