"""The byte view's streams: branches over shared trunks, stepped one byte at a time (see `byte_view`).

`Trunks` holds, per stream, the tokens all its branches agree on, as one row of a batched
`KVCache`; `feed` steps the new tokens of many branches (of all streams) in one batch; and
`ByteViewStreams` moves every stream's branches past each observed byte. It is the StreamBatch
of `ByteViewPredictor` (one stream for stepping, `count` streams for chunk-batched coding).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import torch

from ..predictor import StreamBatch
from .branch_forward import BranchBatch, forward_branches
from .byte_view import (
    BeamSettings,
    BeamStats,
    Branch,
    Request,
    TokenModel,
    limit_suffix,
    next_byte_distribution,
    stand_in,
    survivors,
    wake,
)
from .devices import torch_threads
from .engines import KVCache
from .token_trie import Node


class Trunks:
    """Per stream, the tokens every branch agrees on: a row of one KVCache, its length and tokens."""

    def __init__(self, model: TokenModel, count: int) -> None:
        self.model = model
        self.cache: KVCache = model.engine.new_cache(count)
        self.lengths = torch.zeros(count, dtype=torch.long)
        self.tokens: list[list[int]] = [[] for _ in range(count)]

    def start(self) -> torch.Tensor:
        """Feed BOS to every stream; return its next-token logits (count, V)."""
        engine, count = self.model.engine, len(self.tokens)
        bos = torch.full((count, 1), self.model.bos, dtype=torch.long, device=engine.device)
        with torch_threads(engine.threads):
            logits = engine.forward(bos, self.cache, 0)
        self.lengths[:] = 1
        self.tokens = [[self.model.bos] for _ in range(count)]
        return logits

    def grow(self, s: int, branches: list[Branch]) -> None:
        """Move the tokens all `branches` of stream `s` agree on from their suffixes into its trunk."""
        first = branches[0].tokens
        agreed = min(len(b.tokens) for b in branches)
        k = 0
        while k < agreed and all(b.tokens[k] == first[k] for b in branches):
            k += 1
        if k == 0:
            return
        start = int(self.lengths[s])
        self.cache.reserve(start + k)
        lead = branches[0]
        for i in range(len(self.cache.keys)):
            self.cache.keys[i][s, :, start : start + k] = lead.keys[i, :, :k]
            self.cache.values[i][s, :, start : start + k] = lead.values[i, :, :k]
        self.lengths[s] += k
        self.tokens[s].extend(first[:k])
        for b in branches:
            b.tokens, b.keys, b.values = b.tokens[k:], b.keys[:, :, k:], b.values[:, :, k:]

    def refill(self, s: int) -> torch.Tensor:
        """The window is full: stream `s`'s trunk becomes BOS + its last window // 2 - 1 tokens (one
        prefill); returns the logits after them."""
        engine = self.model.engine
        tokens = [self.tokens[s][0], *self.tokens[s][1:][-(self.model.window // 2 - 1) :]]
        single = engine.new_cache(1)
        with torch_threads(engine.threads):
            logits = engine.forward(torch.tensor([tokens], device=engine.device), single, 0)
        self.cache.reserve(len(tokens))
        for i in range(len(self.cache.keys)):
            self.cache.keys[i][s, :, : len(tokens)] = single.keys[i][0, :, : len(tokens)]
            self.cache.values[i][s, :, : len(tokens)] = single.values[i][0, :, : len(tokens)]
        self.lengths[s] = len(tokens)
        self.tokens[s] = tokens
        return logits

    def clone(self) -> Trunks:
        twin = copy.copy(self)
        twin.cache = self.cache.clone()
        twin.lengths = self.lengths.clone()
        twin.tokens = [list(t) for t in self.tokens]
        return twin


def feed(model: TokenModel, trunks: Trunks, requests: list[Request], stats: BeamStats) -> list[Branch]:
    """One batched model step for the new tokens of `requests`; returns the new branches."""
    if not requests:
        return []
    engine = model.engine
    counts: dict[int, int] = {}  # new branches per stream so far: each one's slot
    slot = []
    for r in requests:
        slot.append(counts.get(r.stream, 0))
        counts[r.stream] = slot[-1] + 1
    room = max(len(r.parent.tokens) for r in requests) + 1
    shape = (len(engine.layers), len(requests), engine.kv_heads, room, engine.head_dim)
    keys = torch.zeros(shape, dtype=engine.dtype, device=engine.device)
    values = torch.zeros(shape, dtype=engine.dtype, device=engine.device)
    for i, r in enumerate(requests):
        n = len(r.parent.tokens)
        keys[:, i, :, :n] = r.parent.keys
        values[:, i, :, :n] = r.parent.values
    batch = BranchBatch(
        stream=torch.tensor([r.stream for r in requests]),
        slot=torch.tensor(slot),
        slots=max(counts.values()),
        suffix_keys=keys,
        suffix_values=values,
        suffix_lengths=torch.tensor([len(r.parent.tokens) for r in requests]),
        tokens=torch.tensor([r.token for r in requests]),
    )
    with torch_threads(engine.threads):
        ranked = model.ranked(forward_branches(engine, trunks.cache, trunks.lengths, batch))
    stats.fed += len(requests)
    root = model.trie.root
    children = []
    for i, r in enumerate(requests):
        n = len(r.parent.tokens) + 1
        tokens = [*r.parent.tokens, r.token]
        children.append(Branch(r.weight, ranked[i], root, tokens, keys[:, i, :, :n], values[:, i, :, :n]))
    return children


class ByteViewStreams(StreamBatch):
    """`count` byte streams of one token model, each a set of branches over its trunk."""

    @torch.inference_mode()
    def __init__(self, model: TokenModel, count: int, settings: BeamSettings) -> None:
        self.model, self.settings = model, settings
        self.trunks = Trunks(model, count)
        ranked = model.ranked(self.trunks.start())
        empty = model.empty_suffix()
        self.branches = [[Branch(1.0, ranked[s], model.trie.root, [], empty, empty)] for s in range(count)]
        self.stats = BeamStats()
        self._rows: np.ndarray | None = None

    def distributions(self) -> np.ndarray:
        if self._rows is None:
            self._rows = np.stack([next_byte_distribution(b, self.model.trie) for b in self.branches])
        return self._rows.copy()

    def _feed(self, requests: list[Request]) -> list[Branch]:
        return feed(self.model, self.trunks, requests, self.stats)

    @torch.inference_mode()
    def observe(self, symbols: np.ndarray) -> None:
        self._rows = None
        observed = [int(b) & 0xFF for b in np.asarray(symbols, dtype=np.int64).tolist()]
        woken: list[Request] = []
        for s, byte in enumerate(observed):
            self.branches[s], requests = wake(
                self.branches[s], s, byte, self.model.trie, self.settings, self.stats
            )
            woken.extend(requests)
        for request, child in zip(woken, self._feed(woken), strict=True):
            self.branches[request.stream].append(child)
        new: list[Request] = []
        for s, byte in enumerate(observed):
            new.extend(self._advance(s, byte))
        for request, child in zip(new, self._feed(new), strict=True):
            self.branches[request.stream].append(child)
        for s in range(len(self.branches)):
            self.branches[s] = limit_suffix(self.branches[s], self.stats)
            self.trunks.grow(s, self.branches[s])
            longest = max(len(b.tokens) for b in self.branches[s])
            if int(self.trunks.lengths[s]) + longest + 2 > self.model.window:
                self._rebuild(s)
            self.stats.branches += len(self.branches[s])
        self.stats.bytes += len(self.branches)

    def _advance(self, s: int, byte: int) -> list[Request]:
        """Move stream `s`'s branches past `byte`; return the new branches to compute (light new
        branches stay dormant, without a model step)."""
        trie = self.model.trie
        waiting: list[tuple[float, Branch]] = []
        starting: list[tuple[float, Branch, int, Node | None]] = []
        for b in self.branches[s]:
            assert b.ranked is not None
            exact, longer = trie.step(b.node, byte)
            for rank in exact:
                starting.append((b.weight * float(b.ranked[rank]), b, rank, longer))
            if longer is not None:
                mass = float(b.ranked[longer.lo : longer.hi].sum())
                waiting.append((b.weight * mass, b.moved(longer, b.weight)))
        total = sum(share for share, _ in waiting) + sum(share for share, *_ in starting)
        if total <= 0.0:
            return self._escape(s, byte)
        shares = [share / total for share, _ in waiting] + [share / total for share, *_ in starting]
        keep = survivors(shares, len(waiting), self.settings, self.stats)
        for _, b in waiting:
            b.weight /= total
        self.branches[s] = [b for i, (_, b) in enumerate(waiting) if i in keep]
        requests = []
        for i, (_, parent, rank, longer) in enumerate(starting, start=len(waiting)):
            if i not in keep:
                continue
            token, share = int(self.model.codec.inputs[trie.ids[rank]]), shares[i]
            if share >= self.settings.lazy:
                requests.append(Request(s, parent, token, share))
            else:
                proxy = stand_in(trie, parent, longer)
                dormant = Branch(
                    share, None, trie.root, parent.tokens, parent.keys, parent.values, proxy, token
                )
                self.branches[s].append(dormant)
        return requests

    def _escape(self, s: int, byte: int) -> list[Request]:
        """No token covers the bytes: the heaviest branch continues with the codec's tokens for them."""
        parent = max((b for b in self.branches[s] if not b.dormant), key=Branch.share)
        pending = self.model.trie.strings[parent.node.lo][: parent.node.depth] + bytes([byte])
        inputs = self.model.codec.inputs[self.model.codec.encode(pending)]
        for token in inputs.tolist():
            parent = self._feed([Request(s, parent, int(token), 1.0)])[0]
        self.branches[s] = [parent]
        self.stats.escapes += 1
        return []

    def _rebuild(self, s: int) -> None:
        """Refill stream `s`'s trunk, then recompute every branch's suffix (and next-token
        distribution) on top of it."""
        fresh = self.model.ranked(self.trunks.refill(s))[0]
        empty = self.model.empty_suffix()
        rebuilt = []
        for b in self.branches[s]:
            child = Branch(b.weight, fresh, b.node, [], empty, empty)
            for token in b.tokens:
                child = self._feed([Request(s, child, token, b.weight)])[0]
            ranked = None if b.dormant else child.ranked
            rebuilt.append(
                Branch(
                    b.weight, ranked, b.node, child.tokens, child.keys, child.values, b.proxy, b.waiting_token
                )
            )
        self.branches[s] = rebuilt

    @torch.inference_mode()
    def clone(self) -> ByteViewStreams:
        twin = copy.copy(self)
        twin.trunks = self.trunks.clone()
        twin.branches = [[b.moved(b.node, b.weight) for b in bs] for bs in self.branches]
        twin.stats = replace(self.stats)
        return twin
