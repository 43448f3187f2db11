"""Real compressors as predictors, each a `genzip.adapter.CodeLengthPredictor`.

`deflate` (gzip, zlib, with exact bit lengths through the system zlib),
`libraries` (bz2, zstd, brotli, ppmd), `bitstreams` (bit lengths found in
the bzip2 and zstd streams), `xz` (lzma, its lengths read off its own stream by
`lzma_bits` and `lzma_decoder`), `brotli_words` (brotli's dictionary),
`media` (png for images, flac for audio).
"""

from __future__ import annotations

from .deflate import GzipPredictor, ZlibPredictor
from .libraries import BrotliPredictor, Bz2Predictor, PpmdPredictor, ZstdPredictor
from .media import FlacPredictor, PngPredictor
from .xz import LzmaPredictor

__all__ = [
    "BrotliPredictor",
    "Bz2Predictor",
    "FlacPredictor",
    "GzipPredictor",
    "LzmaPredictor",
    "PngPredictor",
    "PpmdPredictor",
    "ZlibPredictor",
    "ZstdPredictor",
]
