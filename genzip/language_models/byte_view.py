"""Token language models as exact next-byte predictors (the byte view, `view=bytes`).

A token model defines a distribution over byte strings through its token
sequences. The probability that the bytes begin with x (length n) sums over
every *covering* token sequence: t_1..t_k whose first k-1 tokens spell a
proper prefix x[:j] of x and whose last token starts with the rest x[j:n]
(it may run past byte n). Each continuation is counted once, by the first
token that reaches byte n (Phan et al. 2024, the Byte-Token Representation
Lemma; Vieira et al. 2024; Hayase et al. 2025's valid covering tree). So

    P(x c) = sum over branches s (token sequences spelling x[:j], j <= n)
             of p(s) * mass of the tokens that start with x[j:n] c,

and p(c | x) = P(x c) / sum_c' P(x c'). A *branch* is one token sequence
s = t_1..t_i, with its weight p(s) / P(x) and its next-token distribution;
its pending bytes x[j:n] are a node of the vocabulary trie (`token_trie`),
so the masses of all 256 children are segment sums over one sorted order.
After byte c, a branch either keeps waiting (some token strictly extends
its pending bytes + c) or dies, and each token equal to its pending bytes +
c starts a new branch s + t, whose next-token distribution takes one model
step. The new tokens of all branches (of all streams) are fed as one batch
(`branch_forward`): the tokens every branch of a stream agrees on live in
that stream's trunk cache, shared; each branch holds only its own suffix.

Pruning (the only approximation): after each byte, a branch whose share of
the prefix probability P(x c) is below `prune`, or beyond the `beam`
heaviest, is dropped; the dropped share is added to `BeamStats.pruned`, a
bound on the probability mass lost at that byte. `prune=0` with a large
`beam` is the exact marginalisation. Bytes that no token of any branch can
cover (bytes the tokenizer lacks, such as 0xFF in SmolLM2) share
`ESCAPE_MASS`; when such a byte occurs, the heaviest branch continues with
the codec's tokens for its pending bytes (their probability is not counted).
The distributions are float64 and depend only on the bytes observed, so
encoder and decoder (and chunk-batched streams) compute them bit for bit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch

from ..predictor import StreamBatch, normalise
from .branch_forward import BranchBatch, forward_branches
from .codec import ByteLevelCodec
from .devices import torch_threads
from .hf_engines import ESCAPE_MASS, LlamaEngine
from .token_trie import Node, TokenTrie

#: default share of the prefix probability below which a branch is dropped
DEFAULT_PRUNE = 1e-3
#: default share under which a new branch waits, dormant, before its model step
DEFAULT_LAZY = 0.1
#: how much of a dormant branch's stand-in distribution goes to bytes that start a new token
PROXY_BOUNDARY_SHARE = 0.5
#: default largest number of branches per stream
DEFAULT_BEAM = 8
#: a branch whose private suffix grows past this many tokens ends the other branches
MAX_SUFFIX_TOKENS = 64


@dataclass(frozen=True)
class BeamSettings:
    """prune: drop branches under this share; beam: most branches per stream; lazy: new branches
    under this share stay dormant (no model step) until a byte needs them."""

    prune: float = DEFAULT_PRUNE
    beam: int = DEFAULT_BEAM
    lazy: float = DEFAULT_LAZY


@dataclass
class BeamStats:
    """What the byte view did: bytes stepped, live branches summed over them, pruned mass."""

    bytes: int = 0
    branches: int = 0
    pruned: float = 0.0  # sum over bytes of the share of P(x c) dropped
    worst_pruned: float = 0.0  # largest share dropped at one byte
    fed: int = 0  # branch tokens fed to the model
    escapes: int = 0


class TokenModel:
    """What the byte view needs from a token model: engine, codec, vocabulary trie, BOS, window."""

    def __init__(self, engine: LlamaEngine, codec: ByteLevelCodec, bos: int, window: int) -> None:
        self.engine, self.codec, self.bos, self.window = engine, codec, bos, window
        masked = set(codec.mask.tolist())
        usable = [None if i in masked else b for i, b in enumerate(codec.token_bytes[: engine.vocab_size])]
        self.trie = TokenTrie(usable)

    def ranked(self, logits: torch.Tensor) -> np.ndarray:
        """Next-token probabilities over the usable tokens, in trie rank order: (N, tokens) float64."""
        x = logits.detach().to("cpu", torch.float64).numpy()[:, self.trie.ids]
        x -= x.max(axis=1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=1, keepdims=True)
        return x

    def empty_suffix(self) -> torch.Tensor:
        e = self.engine
        return torch.empty((len(e.layers), e.kv_heads, 0, e.head_dim), dtype=e.dtype, device=e.device)


class Branch:
    """One token sequence: weight p(s) / P(x), pending-bytes node, the suffix tokens it has fed (with
    their keys and values) and its next-token probabilities in trie rank order.

    A *dormant* branch is a light new branch (share under `lazy`) whose last token
    (`waiting_token`) has not been fed: for one byte its next-byte contribution is `proxy`, the
    first-byte distribution of its parent's next token; if that byte leaves it a share of at
    least `prune`, it is fed (woken), else dropped.
    """

    __slots__ = ("keys", "masses", "node", "proxy", "ranked", "tokens", "values", "waiting_token", "weight")

    def __init__(self, weight: float, ranked: np.ndarray | None, node: Node, tokens: list[int],
                 keys: torch.Tensor, values: torch.Tensor, proxy: np.ndarray | None = None,
                 waiting_token: int = -1) -> None:
        self.weight, self.ranked, self.node = weight, ranked, node
        self.tokens, self.keys, self.values = tokens, keys, values
        self.proxy, self.waiting_token = proxy, waiting_token
        self.masses: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def dormant(self) -> bool:
        return self.ranked is None

    def moved(self, node: Node, weight: float) -> Branch:
        return Branch(weight, self.ranked, node, self.tokens, self.keys, self.values, self.proxy, self.waiting_token)

    def share(self) -> float:
        """Unnormalised share of the prefix probability: weight times the mass of the pending node."""
        if self.ranked is None:
            return self.weight
        return self.weight * float(self.ranked[self.node.lo : self.node.hi].sum())

    def child_masses(self, trie: TokenTrie) -> tuple[np.ndarray, np.ndarray]:
        """Next-byte masses (256,) of this branch's next token, and which bytes it can cover."""
        if self.masses is None:
            if self.ranked is None:
                assert self.proxy is not None
                self.masses = (self.proxy, self.proxy > 0)
            else:
                self.masses = trie.child_masses(self.node, self.ranked)
        return self.masses


class Request(NamedTuple):
    """A new branch to compute: `parent` + model input `token`, in `stream`, with its weight."""

    stream: int
    parent: Branch
    token: int
    weight: float


class ByteViewStreams(StreamBatch):
    """`count` byte streams of one token model, each a set of branches over one trunk row."""

    @torch.inference_mode()
    def __init__(self, model: TokenModel, count: int, settings: BeamSettings) -> None:
        self.model, self.settings = model, settings
        engine = model.engine
        self.trunk = engine.new_cache(count)
        self.trunk_tokens = [[model.bos] for _ in range(count)]
        with torch_threads(engine.threads):
            logits = engine.forward(torch.full((count, 1), model.bos, dtype=torch.long, device=engine.device), self.trunk, 0)
        self.trunk_lengths = torch.ones(count, dtype=torch.long)
        ranked = model.ranked(logits)
        empty = model.empty_suffix()
        root = model.trie.root
        self.branches = [[Branch(1.0, ranked[s], root, [], empty, empty)] for s in range(count)]
        self.stats = BeamStats()
        self._rows: np.ndarray | None = None

    # the distribution ------------------------------------------------------------

    def distributions(self) -> np.ndarray:
        if self._rows is None:
            self._rows = np.stack([self._distribution(branches) for branches in self.branches])
        return self._rows.copy()

    def _distribution(self, branches: list[Branch]) -> np.ndarray:
        q = np.zeros(256)
        covered = np.zeros(256, dtype=bool)
        for b in branches:
            masses, exists = b.child_masses(self.model.trie)
            q += b.weight * masses
            covered |= exists
        missing = ~covered
        if missing.any():
            q *= (1.0 - ESCAPE_MASS) / q.sum()
            q[missing] = ESCAPE_MASS / missing.sum()
        return normalise(q)

    # observing a byte --------------------------------------------------------------

    @torch.inference_mode()
    def observe(self, symbols: np.ndarray) -> None:
        self._rows = None
        observed = [int(b) & 0xFF for b in np.asarray(symbols, dtype=np.int64).tolist()]
        woken: list[Request] = []
        for s, byte in enumerate(observed):
            woken.extend(self._wake(s, byte))
        for request, child in zip(woken, self._feed(woken)):
            self.branches[request.stream].append(child)
        requests: list[Request] = []
        for s, byte in enumerate(observed):
            requests.extend(self._advance(s, byte))
        for request, child in zip(requests, self._feed(requests)):
            self.branches[request.stream].append(child)
        for s in range(len(self.branches)):
            self._limit_suffix(s)
            self._grow_trunk(s)
            if int(self.trunk_lengths[s]) + max(len(b.tokens) for b in self.branches[s]) + 2 > self.model.window:
                self._rebuild(s)
            self.stats.branches += len(self.branches[s])
        self.stats.bytes += len(self.branches)

    def _wake(self, s: int, byte: int) -> list[Request]:
        """Dormant branches of stream `s` that `byte` leaves with a share of at least `prune` are fed
        (woken); the others are dropped (their share counts as pruned)."""
        branches = self.branches[s]
        if not any(b.dormant for b in branches):
            return []
        shares = [b.weight * float(b.child_masses(self.model.trie)[0][byte]) for b in branches]
        total = sum(shares)
        self.branches[s] = [b for b in branches if not b.dormant]
        wake = []
        for b, share in zip(branches, shares):
            if b.dormant and share > 0 and share >= self.settings.prune * total:
                wake.append(Request(s, b, b.waiting_token, b.weight))
            elif b.dormant and total > 0:
                self.stats.pruned += share / total
        return wake

    def _advance(self, s: int, byte: int) -> list[Request]:
        """Move stream `s`'s branches past `byte`; return the new branches to compute."""
        trie = self.model.trie
        waiting: list[tuple[float, Branch]] = []
        starting: list[tuple[float, Branch, int, Node | None]] = []
        for b in self.branches[s]:
            assert b.ranked is not None
            exact, longer = trie.step(b.node, byte)
            for rank in exact:
                starting.append((b.weight * float(b.ranked[rank]), b, rank, longer))
            if longer is not None:
                waiting.append((b.weight * float(b.ranked[longer.lo : longer.hi].sum()), b.moved(longer, b.weight)))
        total = sum(share for share, _ in waiting) + sum(share for share, *_ in starting)
        if total <= 0.0:
            return self._escape(s, byte)
        shares = [share / total for share, _ in waiting] + [share / total for share, *_ in starting]
        keep = self._survivors(shares, len(waiting))
        for _, b in waiting:
            b.weight /= total
        self.branches[s] = [b for i, (_, b) in enumerate(waiting) if i in keep]
        first = len(waiting)
        requests = []
        for i, (_, parent, rank, longer) in enumerate(starting):
            if first + i not in keep:
                continue
            token, share = int(self.model.codec.inputs[trie.ids[rank]]), shares[first + i]
            if share >= self.settings.lazy:
                requests.append(Request(s, parent, token, share))
            else:
                proxy = self._proxy(parent, longer)
                self.branches[s].append(Branch(share, None, trie.root, parent.tokens, parent.keys, parent.values,
                                               proxy, token))
        return requests

    def _proxy(self, parent: Branch, longer: Node | None) -> np.ndarray:
        """A stand-in for the next-byte distribution after a token that just ended: what the parent
        expects the next byte to be inside a longer token (the word going on), mixed with its
        first-byte distribution of a token (`PROXY_BOUNDARY_SHARE`, a new word)."""
        trie = self.model.trie
        assert parent.ranked is not None
        boundary = trie.child_masses(trie.root, parent.ranked)[0]
        proxy = boundary / boundary.sum()
        if longer is not None:
            inside = trie.child_masses(longer, parent.ranked)[0]
            proxy = PROXY_BOUNDARY_SHARE * proxy + (1 - PROXY_BOUNDARY_SHARE) * inside / inside.sum()
        return proxy

    def _survivors(self, shares: list[float], first_new: int) -> set[int]:
        """Indices of the branches kept by `prune` and `beam`, plus the heaviest new branch (so every
        byte some token starts with stays covered); the dropped share goes to the stats."""
        order = sorted(range(len(shares)), key=lambda i: (-shares[i], i))
        keep = {i for i in order[: self.settings.beam] if shares[i] >= self.settings.prune}
        new = [i for i in order if i >= first_new]
        keep |= {new[0]} if new else {order[0]}
        dropped = sum(shares[i] for i in range(len(shares)) if i not in keep)
        self.stats.pruned += dropped
        self.stats.worst_pruned = max(self.stats.worst_pruned, dropped)
        return keep

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

    # the model ---------------------------------------------------------------------

    def _feed(self, requests: list[Request]) -> list[Branch]:
        """One batched model step for the new tokens of `requests`; returns the new branches."""
        if not requests:
            return []
        engine = self.model.engine
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
            ranked = self.model.ranked(forward_branches(engine, self.trunk, self.trunk_lengths, batch))
        self.stats.fed += len(requests)
        root = self.model.trie.root
        children = []
        for i, r in enumerate(requests):
            n = len(r.parent.tokens) + 1
            children.append(Branch(r.weight, ranked[i], root, [*r.parent.tokens, r.token], keys[:, i, :, :n], values[:, i, :, :n]))
        return children

    def _limit_suffix(self, s: int) -> None:
        """Branches that disagree for too long: keep the heaviest only (counted as pruned)."""
        branches = self.branches[s]
        if len(branches) > 1 and max(len(b.tokens) for b in branches) > MAX_SUFFIX_TOKENS:
            shares = [b.share() for b in branches]
            heaviest = int(np.argmax(shares))
            self.stats.pruned += 1.0 - shares[heaviest] / sum(shares)
            self.branches[s] = [branches[heaviest]]

    def _grow_trunk(self, s: int) -> None:
        """Move the tokens all branches of stream `s` agree on from their suffixes into the trunk."""
        branches = self.branches[s]
        first = branches[0].tokens
        agreed = min(len(b.tokens) for b in branches)
        k = 0
        while k < agreed and all(b.tokens[k] == first[k] for b in branches):
            k += 1
        if k == 0:
            return
        start = int(self.trunk_lengths[s])
        self.trunk.reserve(start + k)
        lead = branches[0]
        for i in range(len(self.trunk.keys)):
            self.trunk.keys[i][s, :, start : start + k] = lead.keys[i, :, :k]
            self.trunk.values[i][s, :, start : start + k] = lead.values[i, :, :k]
        self.trunk_lengths[s] += k
        self.trunk_tokens[s].extend(first[:k])
        for b in branches:
            b.tokens, b.keys, b.values = b.tokens[k:], b.keys[:, :, k:], b.values[:, :, k:]

    def _rebuild(self, s: int) -> None:
        """The window is full: refill stream `s`'s trunk with BOS + its last window // 2 - 1 tokens,
        then recompute every branch's suffix (and next-token distribution) on top of it."""
        engine = self.model.engine
        tokens = [self.trunk_tokens[s][0], *self.trunk_tokens[s][1:][-(self.model.window // 2 - 1) :]]
        single = engine.new_cache(1)
        with torch_threads(engine.threads):
            logits = engine.forward(torch.tensor([tokens], device=engine.device), single, 0)
        for i in range(len(self.trunk.keys)):
            self.trunk.keys[i][s, :, : len(tokens)] = single.keys[i][0, :, : len(tokens)]
            self.trunk.values[i][s, :, : len(tokens)] = single.values[i][0, :, : len(tokens)]
        self.trunk_lengths[s] = len(tokens)
        self.trunk_tokens[s] = tokens
        fresh = self.model.ranked(logits)[0]
        empty = self.model.empty_suffix()
        rebuilt = []
        for b in self.branches[s]:
            child = Branch(b.weight, fresh, b.node, [], empty, empty)
            for token in b.tokens:
                child = self._feed([Request(s, child, token, b.weight)])[0]
            ranked = None if b.dormant else child.ranked
            rebuilt.append(Branch(b.weight, ranked, b.node, child.tokens, child.keys, child.values, b.proxy, b.waiting_token))
        self.branches[s] = rebuilt

    @torch.inference_mode()
    def clone(self) -> ByteViewStreams:
        twin = copy.copy(self)
        twin.trunk = self.trunk.clone()
        twin.trunk_lengths = self.trunk_lengths.clone()
        twin.trunk_tokens = [list(t) for t in self.trunk_tokens]
        twin.branches = [[b.moved(b.node, b.weight) for b in bs] for bs in self.branches]
        twin.stats = replace(self.stats)
        return twin
