"""lzma (xz) as a code-length predictor, its lengths read exactly from its own range-coded stream.

With ``exact`` (the default) a length is the information content of the raw
LZMA2 stream, decoded again (`genzip.compressors.lzma_bits`), not its whole
bytes. With ``literals=model`` as well, a single byte that LZMA can only code
as one more literal (no earlier occurrence of the context's last byte is
followed by it, and it is not the byte a one-byte repeat would give) is not
compressed at all: its length is the context's plus what LZMA's literal coder
charges for it in the model state the context's stream leaves, read off that
stream. That is what compressing it gives (to the bit on 7 of 8 test contexts,
and 2 bits apart for all such bytes alike on the eighth, where the encoder
parsed the context's end differently), for a fraction of the calls.
"""

from __future__ import annotations

import lzma
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapter import CodeLengthPredictor
from ..predictor import RuntimeOptions
from .lzma_bits import COST_SCALE, context_costs, literal_lengths

#: xz's dictionary size per preset (liblzma's lzma_lzma_preset)
_PRESET_DICT_SIZE = [1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 22, 1 << 23, 1 << 23, 1 << 24, 1 << 25, 1 << 26]


def match_capable(context: bytes, repeat: int) -> np.ndarray:
    """(256,) bool: the bytes LZMA could code after `context` as part of a match: those that follow an
    earlier occurrence of its last byte (a match of 2 or more ends with both), and `repeat`, the byte
    a one-byte repeat of the last distance gives (-1: none)."""
    capable = np.zeros(256, dtype=bool)
    data = np.frombuffer(context, dtype=np.uint8)
    if len(data) >= 2:
        capable[data[1:][data[:-1] == data[-1]]] = True
    if repeat >= 0:
        capable[repeat] = True
    return capable


def _compressed(item: bytes, capable: np.ndarray) -> bool:
    """Whether `item` needs compressing under literals=model: not b"" (the context's own stream) and
    not a single byte that can only be a literal."""
    return len(item) > 1 or (len(item) == 1 and bool(capable[item[0]]))


class LzmaPredictor(CodeLengthPredictor):
    """xz at a preset; lengths exact (``exact``), single literals read off the model (``literals``)."""

    BITS_MEANING = (
        "exact: the information content of the raw LZMA2 stream's coded decisions, decoded again "
        "(without exact: its whole bytes; neither counts the xz container)"
    )

    def __init__(
        self, options: RuntimeOptions, preset: int, exact: bool, literals: str, **adapter: Any
    ) -> None:
        super().__init__(options, **adapter)
        self.preset = preset
        self.exact = exact
        self.literals = literals

    def _filter(self, size: int) -> dict[str, Any]:
        """The preset's LZMA2 filter, its dictionary cut to the next power of two >= size (min 4 KiB).

        The bytes written differ only in the dictionary-size header field (the
        raw stream not even there; tested), and it skips allocating preset 9's
        64 MiB dictionary per call (~270x faster on 2 KB inputs).
        """
        dict_size = max(4096, 1 << max(size - 1, 1).bit_length())
        if dict_size >= _PRESET_DICT_SIZE[self.preset]:
            return {"id": lzma.FILTER_LZMA2, "preset": self.preset}
        return {"id": lzma.FILTER_LZMA2, "preset": self.preset, "dict_size": dict_size}

    def _raw(self, data: bytes) -> bytes:
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=[self._filter(len(data))])

    def compressed_size(self, data: bytes) -> int:
        """Length of `lzma.compress(data, preset=preset)` (xz container)."""
        return len(lzma.compress(data, format=lzma.FORMAT_XZ, filters=[self._filter(len(data))]))

    def measured_calls(self, context: bytes) -> int:
        """With literals read off the model only the rest is compressed (the repeat byte not known here)."""
        if not (self.exact and self.literals == "model"):
            return super().measured_calls(context)
        capable = match_capable(context, -1)
        compressed = sum(1 for c in self.plan(context).items if _compressed(c, capable))
        return self.dither * (1 + compressed)  # and the context's own stream

    def bit_lengths(self, context: bytes, continuations: Sequence[bytes]) -> np.ndarray:
        if not self.exact:
            return np.array([8 * len(self._raw(context + c)) for c in continuations], dtype=np.int64)
        out = np.empty(len(continuations), dtype=np.int64)
        compressed = list(range(len(continuations)))
        if self.literals == "model" and (read := literal_lengths(context, self._raw(context))) is not None:
            own, lengths, repeat = read
            capable = match_capable(context, repeat)
            compressed = []
            for i, c in enumerate(continuations):
                if _compressed(c, capable):
                    compressed.append(i)
                else:  # the context alone (its stream was just decoded) or a lone literal
                    out[i] = lengths[c[0]] if c else own
        if compressed:
            items = [continuations[i] for i in compressed]
            out[compressed] = context_costs(context, items, [self._raw(context + c) for c in items])
        return out / COST_SCALE  # multiples of 2^-16 bit: exact in float64
