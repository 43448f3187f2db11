"""The paper's Table 1: compression rate per predictor x modality, chunked (2048 bytes) and whole-file.

Raw rate: for real compressors, the size the compressor itself writes (what the
paper reports); for models, the arithmetic-coded size (ideal code length / 8).
Adjusted rate: the raw size plus the model's size (2 bytes per parameter) over
the data size; it equals the raw rate for predictors without parameters.

Language models are slow on a CPU, so they see only the first `lm_bytes` of
each modality (a smaller, separately stated subset); everything else sees
`n_bytes`. With `adapter=True` the compressors' arithmetic-coded rate (their
code lengths through the adapter) is added, on the `lm_bytes` subset.
"""

from __future__ import annotations

from pathlib import Path

from ..compare import Comparison, compare, markdown_table
from ..data import MODALITIES, corpus_bytes
from ..registry import parse_spec
from . import DEFAULT_SPECS, Report, Timer, iter_skipped, machine_note, pct, prepare_dir, usable_specs, write_text

CHUNKINGS: tuple[int | None, ...] = (2048, None)


def _label(chunk: int | None) -> str:
    return "chunk 2048" if chunk else "whole"


def table1(
    out_dir: Path,
    specs: tuple[str, ...] | list[str] = DEFAULT_SPECS,
    n_bytes: int = 65536,
    lm_bytes: int = 8192,
    modalities: tuple[str, ...] = MODALITIES,
    adapter: bool = False,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    seed: int = 0,
) -> Report:
    """Run Table 1 and write `table1.md`, `table1.json` and `table1.png` into `out_dir`."""
    import json

    out_dir = prepare_dir(out_dir)
    report = Report("table1")
    specs = usable_specs(specs, report)
    kinds = {s: parse_spec(s)[0].kind for s in specs}
    models = [s for s in specs if kinds[s] == "language model"]
    others = [s for s in specs if kinds[s] != "language model"]
    compressors = [s for s in others if kinds[s] == "compressor"]
    rows: dict[str, dict[tuple[str, int | None], tuple[float | None, float | None, float | None]]] = {}
    timings: dict[str, float] = {}
    model_bytes: dict[str, int | None] = {}
    with Timer() as total:
        for modality in modalities:
            full = corpus_bytes(modality, n_bytes, seed, block=2048)
            small = corpus_bytes(modality, lm_bytes, seed, block=2048)
            for chunk in CHUNKINGS:
                runs: list[tuple[Comparison, bool]] = []
                with Timer() as t:
                    if others:
                        runs.append((compare([(modality, full)], others, chunk, jobs=jobs, cache_dir=cache_dir,
                                             native_only=True, progress=progress), False))
                    if models:
                        runs.append((compare([(modality, small)], models, chunk, jobs=jobs, cache_dir=cache_dir,
                                             progress=progress), False))
                    if adapter and compressors and chunk is not None:
                        runs.append((compare([(modality, small)], compressors, chunk, jobs=jobs, cache_dir=cache_dir,
                                             progress=progress), True))
                timings[f"{modality}, {_label(chunk)}"] = t.seconds
                for comparison, is_adapter in runs:
                    for r in comparison.results:
                        model_bytes[r.name] = r.model_size_bytes
                        cell = rows.setdefault(r.name, {})
                        if is_adapter:
                            raw, adjusted, _ = cell[(modality, chunk)]
                            cell[(modality, chunk)] = (raw, adjusted, r.rate)
                        elif r.native_rate is not None:
                            cell[(modality, chunk)] = (r.native_rate, r.native_rate, None)
                        else:
                            adjusted = r.adjusted_rate if r.model_size_bytes is not None else r.rate
                            cell[(modality, chunk)] = (r.rate, adjusted, None)
    report.seconds = total.seconds

    headers = ["predictor"] + [f"{m} {_label(c)}" for c in CHUNKINGS for m in modalities]

    def table(index: int) -> str:
        body = []
        for spec, cells in rows.items():
            body.append([spec] + [pct(cells.get((m, c), (None, None, None))[index]) for c in CHUNKINGS for m in modalities])
        return markdown_table(headers, body)

    lines = [
        "# Table 1: compression rates (%) on the shipped corpus (lower is better)",
        "",
        f"Data per modality: {n_bytes:,} bytes for compressors and context models, "
        f"{lm_bytes:,} bytes for language models ({', '.join(models) or 'none'}), taken as 2048-byte blocks "
        "spread evenly over the shipped corpus (whole-file = those blocks concatenated); "
        "text = Moby-Dick, image = 32x64 greyscale patches of the shipped photos, "
        "audio = the shipped 16 kHz recording as 8-bit samples, random = seeded uniform bytes.",
        "Compressors: the size they write themselves; models: arithmetic-coded size (ideal code length / 8).",
        "",
        "## Raw rate (%)",
        "",
        table(0),
        "## Adjusted rate (%): raw size + model size (2 bytes/parameter) over data size",
        "",
        table(1),
    ]
    if models:
        gib = 1 << 30
        lines += [
            "## Adjusted rate (%) if the dataset were 1 GiB (the paper's dataset size; raw rate as measured here)",
            "",
            markdown_table(
                ["predictor", "model bytes"] + [f"{m} {_label(c)}" for c in CHUNKINGS for m in modalities],
                [[s, f"{model_bytes.get(s) or 0:,}"]
                 + [pct(None if rows[s].get((m, c)) is None or rows[s][(m, c)][0] is None
                        else rows[s][(m, c)][0] + 100 * (model_bytes.get(s) or 0) / gib)
                    for c in CHUNKINGS for m in modalities] for s in models if s in rows],
            ),
        ]
    if adapter:
        lines += [
            f"## Compressors through the code-length adapter: arithmetic-coded rate (%), chunk 2048, {lm_bytes:,} bytes",
            "",
            markdown_table(["predictor"] + list(modalities),
                           [[s] + [pct(rows[s].get((m, 2048), (None, None, None))[2]) for m in modalities]
                            for s in compressors if s in rows]),
        ]
    lines += ["## Wall time", "", f"Measured on {machine_note()} (shared with other jobs while running).", ""]
    lines += [f"- {k}: {v:.1f} s" for k, v in timings.items()]
    lines += [f"- total: {report.seconds:.1f} s", ""]
    lines += list(iter_skipped(report))
    md = out_dir / "table1.md"
    write_text(md, "\n".join(lines) + "\n")
    payload = {
        "n_bytes": n_bytes,
        "lm_bytes": lm_bytes,
        "rows": {
            spec: {f"{m}|{_label(c)}": {"raw": v[0], "adjusted": v[1], "adapter": v[2]} for (m, c), v in cells.items()}
            for spec, cells in rows.items()
        },
        "seconds": timings,
        "skipped": report.skipped,
    }
    write_text(out_dir / "table1.json", json.dumps(payload, indent=2))
    from ..plots import grouped_bars

    png = out_dir / "table1.png"
    groups = [f"{m}\n{_label(c)}" for c in CHUNKINGS for m in modalities]
    grouped_bars(
        png,
        groups,
        {spec: [cells.get((m, c), (None,))[0] for c in CHUNKINGS for m in modalities] for spec, cells in rows.items()},
        "raw compression rate (% of original size)",
        "Table 1: raw compression rate per modality (lower is better; dashed line = 100%)",
    )
    report.files = [md, out_dir / "table1.json", png]
    return report
