"""Bytes <-> token ids through a byte-level BPE tokenizer, lossless for every byte string.

Only byte-level BPE tokenizers (GPT-2 style, every byte has a token) are accepted.
Input bytes are split into valid UTF-8 runs, which go through the tokenizer's
pre-tokenizer and BPE model (never its normalizer or special-token matching),
and invalid bytes, which become their single-byte tokens. Decoding maps every
token back to its bytes, so `decode(encode(x)) == x` for all x. Special tokens
are never produced; `mask` lists them so their probability is set to the floor.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import SpecError


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table used by byte-level BPE."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _escape_class(missing: list[int]) -> str:
    """Regex character class of what cannot go through BPE: invalid bytes (surrogate-escaped),
    ASCII bytes without a token, and characters whose UTF-8 lead byte has no token."""
    parts = ["\\udc80-\\udcff"]
    for b in missing:
        if b < 0x80:
            parts.append(re.escape(chr(b)))
        elif 0xC2 <= b <= 0xF4:
            bits, extra = (5, 1) if b < 0xE0 else (4, 2) if b < 0xF0 else (3, 3)
            low = (b & ((1 << bits) - 1)) << (6 * extra)
            high = low + (1 << (6 * extra)) - 1
            low = max(low, (0x80, 0x800, 0x10000)[extra - 1])  # shortest-form minimum
            if b == 0xED:  # U+D800..U+DFFF are surrogates, not characters
                high = 0xD7FF
            parts.append(f"{re.escape(chr(low))}-{re.escape(chr(min(high, 0x10FFFF)))}")
    return "".join(parts)


class ByteLevelCodec:
    """Bytes <-> symbols through a byte-level BPE tokenizer, lossless for all bytes.

    Symbols 0..V-1 are the model's token ids. A byte that has no token of its
    own (SmolLM2 lacks a few control bytes and bytes never seen in UTF-8)
    becomes an escape symbol V + j, coded with a small fixed probability (see
    `streams.ESCAPE_MASS`) and fed to the model as `stand_in`.
    """

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None or backend.pre_tokenizer is None:
            raise SpecError("hf: genzip needs a fast byte-level BPE tokenizer (tokenizer.json)")
        self.pre = backend.pre_tokenizer
        self.bpe = backend.model
        byte_chars = bytes_to_unicode()
        char_to_byte = {c: b for b, c in byte_chars.items()}
        vocab = backend.get_vocab(with_added_tokens=True)
        missing = [b for b in range(256) if byte_chars[b] not in vocab]
        unsupported = [b for b in missing if 0x80 <= b < 0xC0]  # continuation bytes: in every non-ASCII char
        if len(missing) > 64 or unsupported:
            raise SpecError(
                f"hf: tokenizer is not byte-level BPE ({len(missing)} bytes have no token); "
                "genzip needs a byte-level BPE tokenizer to code arbitrary bytes losslessly"
            )
        self.vocab_size = vocab_size
        self.escaped = missing
        self.byte_token = np.array([vocab.get(byte_chars[b], -1) for b in range(256)], dtype=np.int64)
        self.byte_token[missing] = vocab_size + np.arange(len(missing))
        added = set(backend.get_added_tokens_decoder()) | set(tokenizer.all_special_ids)
        self.token_bytes: list[bytes] = [b""] * vocab_size + [bytes([b]) for b in missing]
        masked = np.ones(vocab_size, dtype=bool)
        for text, index in vocab.items():
            if index >= vocab_size:
                continue
            if index not in added and all(c in char_to_byte for c in text):
                self.token_bytes[index] = bytes(char_to_byte[c] for c in text)
                masked[index] = False
            else:
                self.token_bytes[index] = text.encode()  # special token: shown as its text when sampled
        self.mask = np.flatnonzero(masked)
        stand_in = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else self.byte_token[ord("?")]
        self.inputs = np.concatenate([np.arange(vocab_size), np.full(len(missing), stand_in)]).astype(
            np.int64
        )
        self.escape_run = re.compile(f"([{_escape_class(missing)}]+)")
        probe = "Ab 12\n\t é€🙂".encode() + bytes(range(256))
        if self.decode(self.encode(probe)) != probe:
            raise SpecError(
                "hf: tokenizer is not byte-level BPE (its tokens do not map back to the input bytes)"
            )

    @property
    def alphabet_size(self) -> int:
        return self.vocab_size + len(self.escaped)

    def encode(self, data: bytes) -> np.ndarray:
        """Symbols for `data`: BPE on valid UTF-8 runs, byte tokens or escapes for the rest."""
        ids: list[int] = []
        text = bytes(data).decode("utf-8", errors="surrogateescape")
        for i, run in enumerate(self.escape_run.split(text)):
            if i % 2:  # invalid bytes (as U+DC80..U+DCFF) or characters with a byte that has no token
                raw = np.frombuffer(run.encode("utf-8", errors="surrogateescape"), dtype=np.uint8)
                ids.extend(self.byte_token[raw].tolist())
            elif run:
                for piece, _ in self.pre.pre_tokenize_str(run):
                    ids.extend(t.id for t in self.bpe.tokenize(piece))
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: np.ndarray | list[int]) -> bytes:
        table = self.token_bytes
        return b"".join(table[i] for i in np.asarray(ids, dtype=np.int64).tolist())
