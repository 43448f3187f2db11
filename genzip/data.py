"""Real files to byte sequences, the way the paper prepared its modalities.

* text: the raw bytes.
* image: 8-bit greyscale (Pillow's ``L`` conversion), cut into non-overlapping
  32x64 patches (height x width) that are flattened row-major; the patches follow
  each other in row-major order over the patch grid. Pixels that do not fill a
  whole patch at the right or bottom edge are dropped. One patch is exactly one
  2048-byte chunk, as in the paper (ImageNet patches).
* audio: 16-bit PCM mono samples turned into 8-bit unsigned samples
  (``(s >> 8) + 128``: the top byte, offset to unsigned, which is how 8-bit WAV
  stores samples). WAV is read with the standard library `wave`; FLAC (and other
  formats) through soundfile. Several channels are averaged to mono.
* random: seeded uniform bytes (numpy PCG64), the incompressible baseline.

Chunking: independent chunks of `CHUNK_SIZE` bytes (the last may be shorter),
or the whole sequence as one chunk.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Literal

import numpy as np

from .errors import InputError

Modality = Literal["text", "image", "audio", "random"]
MODALITIES: tuple[str, ...] = ("text", "image", "audio", "random")
PATCH_HEIGHT = 32
PATCH_WIDTH = 64
CHUNK_SIZE = PATCH_HEIGHT * PATCH_WIDTH  # 2048, the paper's chunk size
AUDIO_RATE = 16_000

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
AUDIO_SUFFIXES = {".wav", ".wave", ".flac", ".ogg"}


def detect_modality(path: Path) -> str:
    """The modality a file's suffix suggests: image, audio, or text for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return "text"


# --- images -------------------------------------------------------------------


def greyscale(source: Path | bytes) -> np.ndarray:
    """An image file (path or encoded bytes) as a 2-D uint8 greyscale array (Pillow ``L``)."""
    from PIL import Image, UnidentifiedImageError

    try:
        handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        with Image.open(handle) as image:
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(
            f"cannot read image {source if not isinstance(source, bytes) else '<bytes>'}: {exc}"
        ) from None


def image_patches(pixels: np.ndarray, height: int = PATCH_HEIGHT, width: int = PATCH_WIDTH) -> np.ndarray:
    """Non-overlapping patches of a 2-D array, shape (n, height, width), row-major over the grid."""
    rows, cols = pixels.shape[0] // height, pixels.shape[1] // width
    if rows == 0 or cols == 0:
        raise InputError(
            f"image of {pixels.shape[1]}x{pixels.shape[0]} pixels is smaller than one {width}x{height} patch"
        )
    grid = pixels[: rows * height, : cols * width].reshape(rows, height, cols, width)
    return np.ascontiguousarray(grid.transpose(0, 2, 1, 3).reshape(rows * cols, height, width))


def image_bytes(source: Path | bytes) -> bytes:
    """An image as the concatenation of its flattened greyscale 32x64 patches."""
    return image_patches(greyscale(source)).tobytes()


# --- audio --------------------------------------------------------------------


def pcm16_to_uint8(samples: np.ndarray) -> np.ndarray:
    """16-bit signed PCM to 8-bit unsigned: the top byte plus 128."""
    samples = np.asarray(samples, dtype=np.int16)
    return ((samples.astype(np.int32) >> 8) + 128).astype(np.uint8)


def read_pcm16(path: Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and the sample rate of a WAV (stdlib) or FLAC/OGG (soundfile) file."""
    path = Path(path)
    if path.suffix.lower() in (".wav", ".wave"):
        try:
            with wave.open(str(path), "rb") as w:
                if w.getsampwidth() != 2:
                    raise InputError(
                        f"{path}: only 16-bit PCM WAV is supported, got {8 * w.getsampwidth()}-bit"
                    )
                channels, rate = w.getnchannels(), w.getframerate()
                raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        except (wave.Error, EOFError) as exc:
            raise InputError(f"cannot read WAV {path}: {exc}") from None
        frames = raw.reshape(-1, channels)
    else:
        try:
            import soundfile
        except ImportError:
            raise InputError(f"{path}: reading {path.suffix} needs the soundfile package") from None
        try:
            frames, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
        except RuntimeError as exc:  # soundfile.LibsndfileError derives from RuntimeError
            raise InputError(f"cannot read audio {path}: {exc}") from None
    if frames.shape[1] == 1:
        return np.ascontiguousarray(frames[:, 0]), rate
    return np.round(frames.astype(np.float64).mean(axis=1)).astype(np.int16), rate


def audio_bytes(path: Path) -> bytes:
    """An audio file as 8-bit unsigned mono samples (one byte per sample)."""
    samples, _rate = read_pcm16(path)
    return pcm16_to_uint8(samples).tobytes()


def write_wav_uint8(path: Path, data: bytes, rate: int = AUDIO_RATE) -> None:
    """Write 8-bit unsigned mono samples as a WAV file (8-bit WAV is unsigned by definition)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes(data))


# --- random -------------------------------------------------------------------


def random_bytes(n_bytes: int, seed: int = 0) -> bytes:
    """`n_bytes` uniform random bytes from numpy's PCG64 seeded with `seed`."""
    if n_bytes < 0:
        raise InputError(f"number of random bytes must be >= 0, got {n_bytes}")
    return np.random.Generator(np.random.PCG64(seed)).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()


# --- files and the shipped corpus ----------------------------------------------


def load(path: Path, modality: str = "auto") -> bytes:
    """A file's bytes in the given modality (``auto`` picks it from the suffix)."""
    path = Path(path)
    if modality not in ("auto", "text", "image", "audio"):
        raise InputError(f"unknown modality {modality!r}; use auto, text, image or audio")
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"is a directory, not a file: {path}")
    kind = detect_modality(path) if modality == "auto" else modality
    if kind == "image":
        return image_bytes(path)
    if kind == "audio":
        return audio_bytes(path)
    return path.read_bytes()


def corpus_bytes(modality: str, n_bytes: int, seed: int = 0, block: int | None = None) -> bytes:
    """`n_bytes` of the shipped corpus in a modality (see genzip/corpus/SOURCES.md).

    text: Moby-Dick; image: the patches of the shipped photographs, one image
    after another; audio: the shipped 16 kHz recording; random: seeded bytes.
    Without `block`, the first `n_bytes`; with `block`, n_bytes // block blocks
    of `block` bytes spread evenly over the whole corpus (block-aligned, each
    centred in its share), so a small sample sees all of it, not just the start.
    """
    from . import corpus

    if modality == "text":
        data = corpus.text()
    elif modality == "image":
        data = b"".join(image_bytes(p) for p in corpus.IMAGES)
    elif modality == "audio":
        data = b"".join(audio_bytes(p) for p in corpus.AUDIO)
    elif modality == "random":
        return random_bytes(n_bytes, seed)
    else:
        raise InputError(f"unknown modality {modality!r}; use one of {', '.join(MODALITIES)}")
    if len(data) < n_bytes:
        raise InputError(f"the shipped {modality} corpus has only {len(data)} bytes, asked for {n_bytes}")
    if block is None or n_bytes <= block:
        return data[:n_bytes] if block is None else _spread(data, 1, n_bytes)
    return _spread(data, n_bytes // block, block) + (b"" if n_bytes % block == 0 else data[: n_bytes % block])


def _spread(data: bytes, count: int, block: int) -> bytes:
    """`count` block-aligned blocks of `block` bytes, each centred in its 1/count share of `data`."""
    slots = len(data) // block
    starts = [min(slots - 1, int((i + 0.5) * slots / count)) * block for i in range(count)]
    return b"".join(data[s : s + block] for s in starts)
