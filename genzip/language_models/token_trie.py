"""The vocabulary as a byte trie: which tokens start with a byte string, as ranges of one sorted order.

Sorting the usable tokens (not special, not escapes) by their bytes puts every
set "tokens whose bytes start with u" into one contiguous range of ranks. A
node of the trie is such a range plus its depth len(u); its children are the
sub-ranges that share the byte at position `depth`, found by binary search
in one row of `next_byte`. Token probabilities permuted into rank order then
give the mass of any node, and of all 256 children at once, as segment sums.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: `next_byte` entry for a token that ends before the row's depth
ENDED = -1
BYTE_EDGES = np.arange(257)


class Node(NamedTuple):
    """Tokens of ranks lo..hi-1, all starting with the same `depth` bytes."""

    lo: int
    hi: int
    depth: int


class TokenTrie:
    """Byte-prefix ranges over a vocabulary given as each token id's bytes (None: never produced)."""

    def __init__(self, token_bytes: list[bytes | None]) -> None:
        usable = [i for i, b in enumerate(token_bytes) if b]
        strings = [token_bytes[i] or b"" for i in usable]
        order = sorted(range(len(usable)), key=strings.__getitem__)
        #: token ids in rank order
        self.ids = np.array([usable[k] for k in order], dtype=np.int64)
        self.strings = [strings[k] for k in order]
        self.longest = max(len(s) for s in self.strings)
        lengths = np.array([len(s) for s in self.strings])
        self.next_byte = np.full((self.longest + 1, len(self.ids)), ENDED, dtype=np.int16)
        for rank, s in enumerate(self.strings):
            self.next_byte[: len(s), rank] = np.frombuffer(s, dtype=np.uint8)
        self.lengths = lengths
        self.root = Node(0, len(self.ids), 0)
        self.root_edges = self.edges(self.root)

    def edges(self, node: Node) -> np.ndarray:
        """257 rank boundaries: child c of `node` is ranks edges[c]..edges[c+1]-1 (tokens ending at
        the node's depth come before edges[0])."""
        row = self.next_byte[node.depth, node.lo : node.hi]
        return node.lo + np.searchsorted(row, BYTE_EDGES, side="left")

    def step(self, node: Node, byte: int) -> tuple[range, Node | None]:
        """Follow `byte` from `node`: the ranks of tokens that are exactly the node's bytes + `byte`,
        and the node of the tokens that are strictly longer (None when there are none)."""
        row = self.next_byte[node.depth, node.lo : node.hi]
        lo = node.lo + int(np.searchsorted(row, byte, side="left"))
        hi = node.lo + int(np.searchsorted(row, byte, side="right"))
        if lo == hi:
            return range(0), None
        depth = node.depth + 1
        longer = lo + int(np.searchsorted(self.next_byte[depth, lo:hi], 0, side="left"))
        return range(lo, longer), (Node(longer, hi, depth) if longer < hi else None)

    def child_masses(self, node: Node, ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probability mass of each child of `node` (256,), and which children exist, from
        probabilities `ranked` in rank order."""
        edges = self.root_edges if node == self.root else self.edges(node)
        exists = edges[1:] > edges[:-1]
        masses = np.zeros(256)
        if exists.any():
            starts = edges[:-1][exists]
            masses[exists] = np.add.reduceat(ranked[: edges[-1]], starts)
        return masses, exists
