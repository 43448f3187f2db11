"""Model size vs dataset size (the paper's Fig. 2): adjusted compression rate vs bytelm size.

Each bytelm size is trained with `genzip.language_models.train` on the
training split of Moby-Dick (the last 10% is held out), then scored on growing
prefixes of the held-out split in 2048-byte chunks. The adjusted rate adds the
model's size (2 bytes per parameter) to the coded size, so a bigger model only
pays off on enough data. Rates for datasets bigger than the held-out split are
extrapolated from the rate measured on all of it, and are labelled so.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from ..chunks import DEFAULT_CHUNK_BYTES
from ..corpus import MOBY_DICK
from ..errors import InputError
from ..evaluation import compare, markdown_table
from . import Report, Timer, machine_note, pct, prepare_dir, write_text

SIZES = ("200k", "800k", "3.2m")
#: dataset sizes beyond the held-out split, for extrapolated rows (bytes)
EXTRAPOLATED = (1 << 20, 100 << 20, 1 << 30)


def _log_training(size: str, message: str) -> None:
    """Progress lines of one training run, on stderr."""
    print(f"scaling: bytelm {size}: {message}", file=sys.stderr)


def scaling(
    out_dir: Path,
    sizes: tuple[str, ...] = SIZES,
    steps: int = 200,
    batch: int = 16,
    seq_len: int = 256,
    dataset_sizes: tuple[int, ...] = (4096, 16384, 65536),
    baselines: tuple[str, ...] = ("gzip", "lzma"),
    device: str = "auto",
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    shipped: bool = True,
    lr: float | None = None,
    trained_on: str | None = None,
) -> Report:
    """Train (or reuse) one bytelm per size, score held-out data of growing size; write scaling.md/.json/.png.

    With `shipped`, a size that has a checkpoint shipped in `genzip/checkpoints`
    (trained on the same 90% of Moby-Dick) uses it instead of training here.
    `lr` overrides the training default peak learning rate; `trained_on` names
    the device in the table when the checkpoints were trained elsewhere.
    Each model is scored with a window no longer than the sequences it was
    trained on (rotary positions beyond them were never seen).
    """
    from ..language_models.bytelm_checkpoints import read_checkpoint, shipped_checkpoint
    from ..language_models.train import TrainSettings, load_data, train

    out_dir = prepare_dir(out_dir)
    report = Report("scaling")
    checkpoints = prepare_dir(out_dir / ".cache" / "checkpoints")  # ignored by git (.gitignore: .cache/)
    _, held_out = load_data((MOBY_DICK,), 0.1)
    held = held_out.tobytes()
    dataset_sizes = tuple(n for n in dataset_sizes if n <= len(held))
    trained: dict[str, dict[str, float]] = {}
    measured: dict[str, dict[int, tuple[float, float, int]]] = {}
    timings: dict[str, float] = {}
    origin: dict[str, str] = {}
    with Timer() as total:
        for size in sizes:
            path = checkpoints / f"bytelm-{size}-steps{steps}-batch{batch}-seq{seq_len}.pt"
            if shipped and shipped_checkpoint(size).is_file():
                path = shipped_checkpoint(size)
                origin[size] = "shipped checkpoint (genzip/checkpoints/README.md)"
            else:
                origin[size] = (
                    f"trained here: {steps} steps x batch {batch} x {seq_len} bytes, "
                    f"device {trained_on or device}"
                )
            with Timer() as t:
                if not path.is_file():
                    result = train(
                        TrainSettings(
                            size=size,
                            data=(MOBY_DICK,),
                            steps=steps,
                            batch=batch,
                            seq_len=seq_len,
                            eval_every=steps,
                            eval_bytes=8192,
                            warmup=max(1, steps // 10),
                            device=device,
                            export=path,
                            lr=TrainSettings.lr if lr is None else lr,
                        ),
                        log=partial(_log_training, size),
                        show_progress=progress,
                    )
                    trained[size] = {
                        "train_seconds": result.seconds,
                        "parameters": result.parameters,
                        "held_out_bits_per_byte": result.eval_bits_per_byte,
                    }
                    write_text(path.with_suffix(".json"), json.dumps(trained[size]))
                elif path.with_suffix(".json").is_file():  # trained by an earlier run: keep its record
                    trained[size] = json.loads(path.with_suffix(".json").read_text())
            if size in trained:
                timings[f"train {size} ({steps} steps)"] = t.seconds
            window = min(
                DEFAULT_CHUNK_BYTES, int(read_checkpoint(path).get("seq_len") or DEFAULT_CHUNK_BYTES)
            )
            origin[size] += f"; scored with a {window}-byte window"
            spec = f"bytelm:size={size},checkpoint={path},context={window}"
            with Timer() as t:
                comparison = compare(
                    [("held-out", held[: max(dataset_sizes)])],
                    [spec],
                    DEFAULT_CHUNK_BYTES,
                    jobs=jobs,
                    cache_dir=cache_dir,
                    device=device,
                    progress=progress,
                )
            timings[f"score {size}"] = t.seconds
            r = comparison.results[0]
            if r.byte_bits is None:
                raise InputError(f"{spec}: no per-byte code lengths")
            byte_bits = r.byte_bits
            model_bytes = r.model_size_bytes or 0
            measured[size] = {}
            for n in dataset_sizes:
                bits = float(byte_bits[:n].sum())
                measured[size][n] = (100 * bits / 8 / n, 100 * (bits / 8 + model_bytes) / n, model_bytes)
        base: dict[str, dict[int, float]] = {}
        for spec in baselines:
            comparison = compare(
                [("held-out", held[: max(dataset_sizes)])],
                [spec],
                DEFAULT_CHUNK_BYTES,
                jobs=jobs,
                cache_dir=cache_dir,
                native_only=True,
                progress=progress,
            )
            native = comparison.results[0].native_rate
            if native is None:
                raise InputError(f"{spec}: no compressor behind this predictor")
            base[spec] = dict.fromkeys(dataset_sizes, native)
    report.seconds = total.seconds

    all_sizes = list(dataset_sizes) + list(EXTRAPOLATED)

    def adjusted(size: str, n: int) -> float:
        if n in measured[size]:
            return measured[size][n][1]
        rate, _, model_bytes = measured[size][max(dataset_sizes)]
        return rate + 100 * model_bytes / n

    headers = ["model", "parameters", "weights", "held-out raw rate %"] + [
        f"adjusted, {_human(n)}{'' if n in dataset_sizes else ' (extrap.)'}" for n in all_sizes
    ]
    body = []
    for size in sizes:
        model_bytes = measured[size][max(dataset_sizes)][2]
        body.append(
            [
                f"bytelm {size}",
                f"{model_bytes // 2:,}",
                origin[size],
                pct(measured[size][max(dataset_sizes)][0]),
            ]
            + [pct(adjusted(size, n)) for n in all_sizes]
        )
    for spec, rates in base.items():
        body.append(
            [f"{spec} (own output, chunk 2048)", "0", "-", pct(rates[max(dataset_sizes)])]
            + [pct(rates.get(n, rates[max(dataset_sizes)])) for n in all_sizes]
        )
    lines = [
        "# Model size vs dataset size: adjusted compression rate (%) (lower is better)",
        "",
        "bytelm models trained on the first 90% of Moby-Dick (see the weights column); scored on prefixes of the held-out 10% "
        f"({len(held):,} bytes) in 2048-byte chunks. Adjusted = (coded size + 2 bytes x parameters) / data size. "
        f"Columns marked 'extrap.' reuse the rate measured on {_human(max(dataset_sizes))} for a bigger dataset.",
        "",
        markdown_table(headers, body),
        "## Training",
        "",
    ]
    lines += [
        f"- bytelm {s}: {int(v['parameters']):,} parameters, {v['train_seconds']:.0f} s, "
        f"held-out {v['held_out_bits_per_byte']:.3f} bits/byte"
        for s, v in trained.items()
    ] or ["- (no training in this run: shipped or earlier checkpoints)"]
    lines += [
        "",
        "## Wall time",
        "",
        f"Measured on {machine_note()} (shared with other jobs while running).",
        "",
    ]
    lines += [f"- {k}: {v:.1f} s" for k, v in timings.items()] + [f"- total: {report.seconds:.1f} s", ""]
    write_text(out_dir / "scaling.md", "\n".join(lines) + "\n")
    write_text(
        out_dir / "scaling.json",
        json.dumps(
            {
                "steps": steps,
                "batch": batch,
                "seq_len": seq_len,
                "lr": lr,
                "trained": trained,
                "weights": origin,
                "measured": {
                    s: {str(n): {"raw": v[0], "adjusted": v[1], "model_bytes": v[2]} for n, v in m.items()}
                    for s, m in measured.items()
                },
                "baselines": base,
                "seconds": timings,
            },
            indent=2,
        ),
    )
    from ..plots import line_figure

    params = [measured[s][max(dataset_sizes)][2] / 2 for s in sizes]
    line_figure(
        out_dir / "scaling.png",
        params,
        {
            f"dataset {_human(n)}{'' if n in dataset_sizes else ' (extrapolated)'}": [
                adjusted(s, n) for s in sizes
            ]
            for n in all_sizes
        },
        "bytelm parameters (log scale)",
        "adjusted compression rate (% of data size)",
        "adjusted rate vs model size (lower is better)",
        logx=True,
        reference=100,
        logy=True,
    )
    report.files = [out_dir / "scaling.md", out_dir / "scaling.json", out_dir / "scaling.png"]
    return report


def _human(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} B"
