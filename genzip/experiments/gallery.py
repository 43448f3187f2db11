"""Generative samples from every predictor (the paper's Fig. 3 and C.1).

* text: the same Moby-Dick prompt continued by every predictor.
* image: a 32x64 greyscale patch; each row is conditioned on the original rows
  above it and its own left half (32 pixels), and the right half is sampled.
* audio: a prompt of 8-bit 16 kHz samples continued by each predictor; WAV files
  plus a waveform/spectrogram figure.

Sampling is `genzip.sampler.sample` at temperature 1 (each predictor's own
distribution) with a fixed seed, so the gallery is reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..corpus import text as corpus_text
from ..data import AUDIO_RATE, PATCH_HEIGHT, PATCH_WIDTH, corpus_bytes, write_wav_uint8
from ..registry import build
from ..sampler import sample
from . import DEFAULT_SPECS, Report, Timer, iter_skipped, machine_note, prepare_dir, usable_specs, write_text

#: fast predictors for the image and audio samples (hundreds to thousands of sampled bytes each)
MEDIA_SPECS = ("gzip", "png", "flac", "order", "ppm", "ctw", "bytelm")
TEXT_PROMPT_OFFSET = 30000  # a passage well inside Moby-Dick (past the front matter)
IMAGE_PATCH = 137  # which patch of the shipped images (one with visible structure)
AUDIO_OFFSET = 125000  # 7.8 s into the recording: its loudest stretch of speech (most of it is quiet)


def _name(spec: str) -> str:
    return spec.replace(":", "_").replace("=", "-").replace(",", "_").replace("/", "-")


def _printable(data: bytes) -> str:
    """Bytes as text for Markdown: UTF-8 where valid, other bytes as \\xNN, newlines shown as ⏎."""
    text = data.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else ("⏎" if c == "\n" else repr(c)[1:-1]) for c in text).replace(
        "|", "\\|"
    )


def gallery(
    out_dir: Path,
    text_specs: tuple[str, ...] | list[str] = DEFAULT_SPECS,
    media_specs: tuple[str, ...] | list[str] = MEDIA_SPECS,
    prompt_bytes: int = 300,
    text_bytes: int = 120,
    image_rows: int = PATCH_HEIGHT,
    audio_prompt: int = 2048,
    audio_bytes: int = 1600,
    seed: int = 0,
    jobs: int | None = None,
    progress: bool = False,
) -> Report:
    """Write text.md, image.png, audio.png, audio/*.wav and gallery.json into `out_dir`."""
    from ..plots import audio_figure, image_grid
    from ..predictor import RuntimeOptions

    out_dir = prepare_dir(out_dir)
    report = Report("gallery")
    options = RuntimeOptions(jobs=jobs)
    timings: dict[str, float] = {}
    with Timer() as total:
        # text
        text_specs = usable_specs(text_specs, report)
        prompt = corpus_text(prompt_bytes, TEXT_PROMPT_OFFSET)
        truth = corpus_text(text_bytes, TEXT_PROMPT_OFFSET + prompt_bytes)
        continuations: dict[str, bytes] = {}
        for spec in text_specs:
            predictor = build(spec, options)
            with Timer() as t:
                try:
                    continuations[spec] = sample(
                        predictor, prompt, text_bytes, seed=seed, method="symbol", progress=progress
                    )
                finally:
                    predictor.close()
            timings[f"text, {spec}"] = t.seconds
        lines = [
            "# Text continuations",
            "",
            f"Prompt: {prompt_bytes} bytes of Moby-Dick from offset {TEXT_PROMPT_OFFSET}; each predictor continues it "
            f"with {text_bytes} bytes sampled at temperature 1, seed {seed} (newlines shown as ⏎).",
            "",
            "**Prompt:**",
            "",
            "> " + _printable(prompt),
            "",
            "| predictor | continuation |",
            "| :-- | :-- |",
            f"| (original text) | {_printable(truth)} |",
        ]
        lines += [f"| {spec} | {_printable(c)} |" for spec, c in continuations.items()]
        write_text(out_dir / "text.md", "\n".join(lines) + "\n")
        report.files.append(out_dir / "text.md")

        # image: each row = original rows above + left half as context, right half sampled
        media = usable_specs([s for s in media_specs if s not in report.skipped], report)
        patch = np.frombuffer(
            corpus_bytes("image", (IMAGE_PATCH + 1) * PATCH_HEIGHT * PATCH_WIDTH)[
                -PATCH_HEIGHT * PATCH_WIDTH :
            ],
            dtype=np.uint8,
        ).reshape(PATCH_HEIGHT, PATCH_WIDTH)[:image_rows]
        half = PATCH_WIDTH // 2
        images: dict[str, np.ndarray] = {"original": patch}
        for spec in media:
            predictor = build(spec, options)
            out = patch.copy()
            with Timer() as t:
                try:
                    for row in range(image_rows):
                        context = patch[:row].tobytes() + patch[row, :half].tobytes()
                        drawn = sample(
                            predictor, context, PATCH_WIDTH - half, seed=seed + row, method="symbol"
                        )
                        out[row, half:] = np.frombuffer(drawn, dtype=np.uint8)
                finally:
                    predictor.close()
            timings[f"image, {spec}"] = t.seconds
            images[spec.split(":")[0]] = out
        image_grid(
            out_dir / "image.png",
            images,
            f"right half of each row sampled (context: rows above + left half), seed {seed}",
        )
        report.files.append(out_dir / "image.png")

        # audio
        wav_dir = prepare_dir(out_dir / "audio")
        recording = corpus_bytes("audio", AUDIO_OFFSET + audio_prompt + audio_bytes)[AUDIO_OFFSET:]
        audio_context = recording[:audio_prompt]
        tracks = {"original": np.frombuffer(recording, dtype=np.uint8)}
        write_wav_uint8(wav_dir / "original.wav", recording)
        for spec in media:
            predictor = build(spec, options)
            with Timer() as t:
                try:
                    drawn = sample(
                        predictor, audio_context, audio_bytes, seed=seed, method="symbol", progress=progress
                    )
                finally:
                    predictor.close()
            timings[f"audio, {spec}"] = t.seconds
            tracks[spec.split(":")[0]] = np.frombuffer(audio_context + drawn, dtype=np.uint8)
            write_wav_uint8(wav_dir / f"{_name(spec)}.wav", audio_context + drawn)
        audio_figure(out_dir / "audio.png", tracks, AUDIO_RATE, audio_prompt)
        report.files += [out_dir / "audio.png", wav_dir]
    report.seconds = total.seconds
    write_text(
        out_dir / "gallery.json",
        json.dumps(
            {
                "seed": seed,
                "machine": machine_note(),
                "seconds": timings,
                "total_seconds": report.seconds,
                "skipped": report.skipped,
            },
            indent=2,
        ),
    )
    report.notes += list(iter_skipped(report))
    return report
