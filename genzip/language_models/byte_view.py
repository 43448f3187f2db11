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

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..predictor import normalise
from .codec import ByteLevelCodec
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

    def __init__(
        self,
        weight: float,
        ranked: np.ndarray | None,
        node: Node,
        tokens: list[int],
        keys: torch.Tensor,
        values: torch.Tensor,
        proxy: np.ndarray | None = None,
        waiting_token: int = -1,
    ) -> None:
        self.weight, self.ranked, self.node = weight, ranked, node
        self.tokens, self.keys, self.values = tokens, keys, values
        self.proxy, self.waiting_token = proxy, waiting_token
        self.masses: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def dormant(self) -> bool:
        return self.ranked is None

    def moved(self, node: Node, weight: float) -> Branch:
        return Branch(
            weight, self.ranked, node, self.tokens, self.keys, self.values, self.proxy, self.waiting_token
        )

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


def next_byte_distribution(branches: list[Branch], trie: TokenTrie) -> np.ndarray:
    """p(next byte) of one stream: the branches' weighted next-byte masses, escapes for the bytes no
    branch can cover, floored and normalised (`genzip.predictor.normalise`)."""
    q = np.zeros(256)
    covered = np.zeros(256, dtype=bool)
    for b in branches:
        masses, exists = b.child_masses(trie)
        q += b.weight * masses
        covered |= exists
    missing = ~covered
    if missing.any():
        q *= (1.0 - ESCAPE_MASS) / q.sum()
        q[missing] = ESCAPE_MASS / missing.sum()
    return normalise(q)


def stand_in(trie: TokenTrie, parent: Branch, longer: Node | None) -> np.ndarray:
    """A dormant branch's stand-in for the next-byte distribution after a token that just ended: what
    the parent expects the next byte to be inside a longer token (the word going on), mixed with its
    first-byte distribution of a token (`PROXY_BOUNDARY_SHARE`, a new word)."""
    assert parent.ranked is not None
    boundary = trie.child_masses(trie.root, parent.ranked)[0]
    proxy = boundary / boundary.sum()
    if longer is not None:
        inside = trie.child_masses(longer, parent.ranked)[0]
        proxy = PROXY_BOUNDARY_SHARE * proxy + (1 - PROXY_BOUNDARY_SHARE) * inside / inside.sum()
    return proxy


def survivors(shares: list[float], first_new: int, settings: BeamSettings, stats: BeamStats) -> set[int]:
    """Indices of the branches kept by `prune` and `beam`, plus the heaviest new branch (so every
    byte some token starts with stays covered); the dropped share goes to the stats."""
    order = sorted(range(len(shares)), key=lambda i: (-shares[i], i))
    keep = {i for i in order[: settings.beam] if shares[i] >= settings.prune}
    new = [i for i in order if i >= first_new]
    keep |= {new[0]} if new else {order[0]}
    dropped = sum(shares[i] for i in range(len(shares)) if i not in keep)
    stats.pruned += dropped
    stats.worst_pruned = max(stats.worst_pruned, dropped)
    return keep


def wake(
    branches: list[Branch], s: int, byte: int, trie: TokenTrie, settings: BeamSettings, stats: BeamStats
) -> tuple[list[Branch], list[Request]]:
    """The computed branches of stream `s`, and the dormant ones that `byte` leaves with a share of at
    least `prune`, to be fed (woken); the other dormant ones are dropped (counted as pruned)."""
    if not any(b.dormant for b in branches):
        return branches, []
    shares = [b.weight * float(b.child_masses(trie)[0][byte]) for b in branches]
    total = sum(shares)
    woken = []
    for b, share in zip(branches, shares, strict=True):
        if b.dormant and share > 0 and share >= settings.prune * total:
            woken.append(Request(s, b, b.waiting_token, b.weight))
        elif b.dormant and total > 0:
            stats.pruned += share / total
    return [b for b in branches if not b.dormant], woken


def limit_suffix(branches: list[Branch], stats: BeamStats) -> list[Branch]:
    """Branches that disagree for too long: keep the heaviest only (counted as pruned)."""
    if len(branches) > 1 and max(len(b.tokens) for b in branches) > MAX_SUFFIX_TOKENS:
        shares = [b.share() for b in branches]
        heaviest = int(np.argmax(shares))
        stats.pruned += 1.0 - shares[heaviest] / sum(shares)
        return [branches[heaviest]]
    return branches
