"""The paper's domain-specific baselines as predictors: PNG for images, FLAC for audio.

Both are `CodeLengthPredictor`s, so they give code lengths for the adapter (with
all its options: resolution, calibrate, lookahead, dither; their finest
resolution is whole bytes) and their own compressed size for comparison tables,
like the general compressors.

* `png`: the bytes are laid out as a greyscale image 64 pixels wide (a stack of
  the 32x64 patches of `genzip.data`, row-major), the last row padded with zeros
  when the length is not a multiple of 64, and saved by Pillow as lossless PNG
  with zlib level 9 (``optimize`` off: Pillow's optimize only lowers the level).
* `flac`: the bytes are 8-bit unsigned mono samples at 16 kHz, written by
  libsndfile (soundfile) as FLAC with signed 8-bit samples at the highest
  compression level.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ..adapter import CodeLengthPredictor
from ..data import AUDIO_RATE, PATCH_WIDTH
from ..predictor import RuntimeOptions


def png_layout(data: bytes, width: int = PATCH_WIDTH) -> np.ndarray:
    """Bytes as a 2-D uint8 image `width` pixels wide (narrower if shorter), zero-padded at the end."""
    if len(data) <= width:
        return (
            np.frombuffer(data, dtype=np.uint8).reshape(1, max(len(data), 1))
            if data
            else np.zeros((1, 1), np.uint8)
        )
    rows = -(-len(data) // width)
    pixels = np.zeros(rows * width, dtype=np.uint8)
    pixels[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return pixels.reshape(rows, width)


def png_bytes(data: bytes, level: int = 9) -> bytes:
    """The PNG file Pillow writes for `data` in the patch layout."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(png_layout(data), mode="L").save(out, format="PNG", compress_level=level)
    return out.getvalue()


def flac_bytes(data: bytes, rate: int = AUDIO_RATE, level: float = 1.0) -> bytes:
    """The FLAC file libsndfile writes for `data` as 8-bit unsigned mono samples."""
    import soundfile

    samples = (np.frombuffer(data, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
    out = io.BytesIO()
    with soundfile.SoundFile(
        out, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_S8", compression_level=level
    ) as f:
        f.write(samples.reshape(-1, 1).astype(np.int16) << 8)
    return out.getvalue()


class PngPredictor(CodeLengthPredictor):
    """Lossless PNG (Pillow) on the 32x64 greyscale patch layout."""

    def __init__(self, options: RuntimeOptions, level: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.level = level

    def compressed_size(self, data: bytes) -> int:
        return len(png_bytes(data, self.level))


class FlacPredictor(CodeLengthPredictor):
    """FLAC (libsndfile through soundfile), 8-bit 16 kHz mono, highest compression level."""

    def __init__(self, options: RuntimeOptions, rate: int, **adapter: Any) -> None:
        super().__init__(options, **adapter)
        self.rate = rate

    def compressed_size(self, data: bytes) -> int:
        return len(flac_bytes(data, self.rate))
