"""Figures for comparisons and the paper's experiments (matplotlib, Agg backend, written as PNG).

Every axis says what it shows and in which unit; files are written to a
temporary name and renamed, so a failed plot never leaves a partial PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .files import atomic_path

if TYPE_CHECKING:
    from .evaluation import Comparison


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, with a 20-colour cycle."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    # 20 distinct colours: a comparison can have more predictors than the default 10
    plt.rcParams["axes.prop_cycle"] = cycler(color=[plt.get_cmap("tab20")(i) for i in range(20)])
    return plt


def _save(fig: Any, path: Path, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG atomically, then close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
        _pyplot().close(fig)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean over a sliding window (shorter at the start), same length as `values`."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - window)
    return (cumulative[idx] - cumulative[lo]) / (idx - lo)


def comparison_figure(comparison: Comparison, path: Path, window: int | None = None) -> None:
    """Surprisal trace (bits per byte along the data) above a bar chart of compression rates."""
    plt = _pyplot()
    traced = [
        (r.spec, r.byte_bits) for r in comparison.results if r.byte_bits is not None and len(r.byte_bits)
    ]
    n = max((len(bits) for _, bits in traced), default=0)
    window = window or max(1, n // 200)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2]})
    for spec, bits in traced:
        top.plot(moving_average(bits, window), linewidth=0.9, label=spec.split(":")[0])
    if comparison.chunk_size:
        for x in range(comparison.chunk_size, n, comparison.chunk_size):
            top.axvline(x, color="0.85", linewidth=0.5, zorder=0)
    top.set_xlabel("byte offset in the data (bytes)")
    top.set_ylabel(f"code length (bits/byte, mean over {window} bytes)")
    top.set_title("surprisal trace" + (" (grey lines: chunk boundaries)" if comparison.chunk_size else ""))
    if traced:
        top.legend(fontsize=8, ncol=3)
    top.set_ylim(bottom=0)

    names = [r.spec.split(":")[0] for r in comparison.results]
    series = {
        "arithmetic-coded": [r.rate for r in comparison.results],
        "compressor's own output": [r.native_rate for r in comparison.results],
        "adjusted (+ model size)": [r.adjusted_rate for r in comparison.results],
    }
    series = {k: v for k, v in series.items() if any(x is not None for x in v)}
    width = 0.8 / max(1, len(series))
    positions = np.arange(len(names))
    for i, (label, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        bars = bottom.bar(positions + (i - (len(series) - 1) / 2) * width, heights, width, label=label)
        for bar, h in zip(bars, heights, strict=True):
            if np.isfinite(h):
                bottom.annotate(
                    f"{h:.1f}",
                    (bar.get_x() + bar.get_width() / 2, min(h, 110)),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
    bottom.set_xticks(positions, names, rotation=20, ha="right")
    bottom.set_ylabel("compression rate (% of original size)")
    bottom.set_title("compression rate (lower is better)")
    bottom.axhline(100, color="0.5", linestyle="--", linewidth=0.8)
    top_value = max([v for vs in series.values() for v in vs if v is not None] or [100])
    bottom.set_ylim(0, min(max(105, top_value * 1.1), 130))
    bottom.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def line_figure(
    path: Path,
    x: Sequence[float],
    series: dict[str, Sequence[float | None]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = True,
    reference: float | None = None,
    logy: bool = False,
) -> None:
    """One line per series (None values skipped), e.g. rate vs sequence length."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, values in series.items():
        pts = [(a, b) for a, b in zip(x, values, strict=True) if b is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", linewidth=1.2, label=label)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if reference is not None:
        ax.axhline(reference, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def grouped_bars(
    path: Path, groups: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str, title: str
) -> None:
    """Bars grouped by e.g. modality, one colour per series (predictor)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(min(16, max(8, 0.25 * len(groups) * max(1, len(series)))), 5.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    colours = plt.get_cmap("tab20").colors
    for i, (label, values) in enumerate(series.items()):
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(
            x + (i - (len(series) - 1) / 2) * width,
            heights,
            width,
            label=label,
            color=colours[i % len(colours)],
        )
        for bar, h in zip(bars, heights, strict=True):
            if np.isfinite(h) and h > 130:  # clipped: say how tall it is
                ax.annotate(
                    f"{h:.0f}",
                    (bar.get_x() + bar.get_width() / 2, 128),
                    ha="center",
                    va="top",
                    fontsize=6,
                    rotation=90,
                )
    ax.set_xticks(x, groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.axhline(100, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_ylim(0, 130)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    _save(fig, path)


def image_grid(path: Path, images: dict[str, np.ndarray], title: str, columns: int = 4) -> None:
    """Greyscale images in a grid with their names (values 0..255)."""
    plt = _pyplot()
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 1.9 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, pixels) in zip(axes.flat, images.items(), strict=False):
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def audio_figure(path: Path, tracks: dict[str, np.ndarray], rate: int, prompt_samples: int) -> None:
    """Waveform and spectrogram per track (8-bit unsigned samples); a line marks where sampling starts."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(tracks), 2, figsize=(12, 1.8 * len(tracks) + 0.5), squeeze=False)
    for (wave_ax, spec_ax), (name, samples) in zip(axes, tracks.items(), strict=True):
        signal = np.asarray(samples, dtype=np.float64) - 128
        t = np.arange(len(signal)) / rate
        wave_ax.plot(t, signal, linewidth=0.4)
        wave_ax.axvline(prompt_samples / rate, color="red", linewidth=0.8)
        wave_ax.set_ylabel("amplitude\n(8-bit level)", fontsize=7)
        wave_ax.set_title(f"{name}: waveform", fontsize=8)
        nfft = min(256, max(16, len(signal) // 2))
        spec_ax.specgram(signal, NFFT=nfft, Fs=rate, noverlap=nfft // 2, cmap="magma")
        spec_ax.axvline(prompt_samples / rate, color="cyan", linewidth=0.8)
        spec_ax.set_ylabel("frequency (Hz)", fontsize=7)
        spec_ax.set_title(f"{name}: spectrogram", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.tight_layout()
    _save(fig, path, dpi=80)  # spectrograms are big images; 80 dpi keeps the PNG small
