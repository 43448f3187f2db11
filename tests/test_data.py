"""Modalities (image patches, 8-bit audio, random bytes) and the png/flac domain compressors."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

import genzip
from genzip import data
from genzip.chunks import split_chunks
from genzip.compressors.media import flac_bytes, png_bytes, png_layout
from genzip.errors import InputError


def _write_wav(path: Path, samples: np.ndarray, channels: int = 1, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 130x70 RGB image: 2x2 whole patches plus a ragged edge that must be dropped."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (70, 130, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels, "RGB").save(path)
    return path


def test_image_patches_match_pillow_crops_row_major(photo: Path) -> None:
    out = data.load(photo)
    assert len(out) == 4 * 2048
    grey = Image.open(photo).convert("L")
    expected = b""
    for row in range(2):  # patch grid row-major: (0,0), (0,1), (1,0), (1,1)
        for col in range(2):
            box = (col * 64, row * 32, col * 64 + 64, row * 32 + 32)
            expected += np.asarray(grey.crop(box), dtype=np.uint8).tobytes()
    assert out == expected
    # each patch is flattened row-major: byte 64 of patch 0 is pixel (x=0, y=1)
    assert out[64] == grey.getpixel((0, 1))
    assert out[2048 + 1] == grey.getpixel((65, 0))


def test_image_greyscale_is_pillow_luma(photo: Path) -> None:
    rgb = np.asarray(Image.open(photo).convert("RGB"), dtype=np.int64)
    luma = (
        rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000
    ) >> 16  # Pillow's L formula
    assert np.array_equal(data.greyscale(photo), luma.astype(np.uint8))


def test_image_shape_and_errors(tmp_path: Path) -> None:
    patches = data.image_patches(np.arange(64 * 96, dtype=np.int64).reshape(64, 96).astype(np.uint8))
    assert patches.shape == (2, 32, 64)
    small = tmp_path / "small.png"
    Image.new("L", (63, 40)).save(small)
    with pytest.raises(InputError, match="smaller than one 64x32 patch"):
        data.load(small)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="cannot read image"):
        data.load(bad)


def test_audio_16_to_8_bit_exact(tmp_path: Path) -> None:
    samples = np.array([-32768, -32767, -257, -256, -255, -1, 0, 1, 255, 256, 32512, 32767], dtype=np.int16)
    path = tmp_path / "a.wav"
    _write_wav(path, samples)
    expected = bytes([s // 256 + 128 for s in samples.tolist()])  # floor division = arithmetic shift
    assert data.load(path) == expected
    assert expected[0] == 0 and expected[6] == 128 and expected[-1] == 255


def test_audio_stereo_is_averaged_and_flac_matches_wav(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    mono = rng.integers(-32768, 32768, 1000).astype(np.int16)
    stereo = np.stack([mono, mono], axis=1)
    _write_wav(tmp_path / "s.wav", stereo.reshape(-1), channels=2)
    _write_wav(tmp_path / "m.wav", mono)
    soundfile.write(str(tmp_path / "m.flac"), mono, 16000, subtype="PCM_16")
    assert data.load(tmp_path / "s.wav") == data.load(tmp_path / "m.wav") == data.load(tmp_path / "m.flac")


def test_random_modality_is_seeded() -> None:
    a, b, c = data.random_bytes(5000, 1), data.random_bytes(5000, 1), data.random_bytes(5000, 2)
    assert a == b and a != c and len(a) == 5000
    assert data.corpus_bytes("random", 100, seed=1) == a[:100]
    counts = np.bincount(np.frombuffer(a, dtype=np.uint8), minlength=256)
    assert counts.min() > 0  # every byte value shows up in 5000 uniform draws


def test_corpus_bytes_and_chunks() -> None:
    first = data.corpus_bytes("image", 2048)
    assert first == data.image_patches(data.greyscale(genzip.corpus.IMAGES[0]))[0].tobytes()
    assert data.corpus_bytes("text", 100) == genzip.corpus.text(100)
    assert [len(c) for c in split_chunks(bytes(5000), 2048)] == [2048, 2048, 904]
    assert split_chunks(b"abc", None) == [b"abc"]
    with pytest.raises(InputError):
        data.corpus_bytes("audio", 10**9)
    with pytest.raises(InputError):
        split_chunks(b"x", 0)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        data.load(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="unknown modality"):
        data.load(tmp_path, "video")
    with pytest.raises(InputError, match="directory"):
        data.load(tmp_path)


def test_png_size_is_pillows_output_and_lossless() -> None:
    payload = data.corpus_bytes("image", 2048 + 100)  # one patch plus a partial row
    expected = io.BytesIO()
    pixels = np.zeros(33 * 64 + 64, dtype=np.uint8)  # 2148 bytes -> 34 rows of 64, zero-padded
    pixels[: len(payload)] = np.frombuffer(payload, dtype=np.uint8)
    Image.fromarray(pixels.reshape(34, 64), "L").save(expected, format="PNG", compress_level=9)
    predictor = genzip.predictor("png")
    assert predictor.compressed_size(payload) == len(expected.getvalue()) == len(png_bytes(payload))
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(payload))))
    assert decoded.reshape(-1)[: len(payload)].tobytes() == payload
    assert png_layout(b"abc").shape == (1, 3)


def test_flac_size_is_libsndfile_output_and_lossless() -> None:
    payload = data.corpus_bytes("audio", 3000)
    blob = flac_bytes(payload)
    assert genzip.predictor("flac").compressed_size(payload) == len(blob)
    samples, rate = soundfile.read(io.BytesIO(blob), dtype="int16")
    assert rate == 16000
    assert ((samples.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes() == payload
    info = soundfile.info(io.BytesIO(blob))
    assert info.format == "FLAC" and info.subtype == "PCM_S8" and info.channels == 1
    assert len(blob) <= len(flac_bytes(payload, level=0.0))  # highest level is no worse than the lowest


def test_png_and_flac_work_through_the_adapter() -> None:
    for spec, modality in (("png:context=64", "image"), ("flac:context=64", "audio")):
        predictor = genzip.predictor(spec, jobs=1)
        chunk = data.corpus_bytes(modality, 40)
        predictor.reset(chunk[:20])
        p = predictor.distribution()
        assert p.shape == (256,) and abs(p.sum() - 1) < 1e-12 and (p > 0).all()
        result = genzip.score(chunk, predictor)
        assert len(result.symbol_bits) == 40 and result.native_bytes == predictor.compressed_size(chunk)
