"""`genzip train` and `genzip paper`: the byte transformer and the paper's experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import InputError
from .app import AddressOption, DeviceOption, EngineOption, JobsOption, ProtocolOption, interactive


def train(
    size: Annotated[str, typer.Option(help="bytelm size: 200k | 800k | 3.2m")] = "200k",
    data: Annotated[
        list[Path] | None, typer.Option(help="training files, repeatable (default: the shipped Moby-Dick)")
    ] = None,
    steps: Annotated[
        int, typer.Option(help="total optimizer steps (a resumed run continues to this)")
    ] = 1000,
    device: DeviceOption = "auto",
    batch: Annotated[int, typer.Option(help="sequences per step")] = 32,
    lr: Annotated[float, typer.Option(help="peak learning rate (AdamW, warmup + cosine)")] = 3e-3,
    seq_len: Annotated[int, typer.Option(help="bytes per training sequence (at most 2048)")] = 512,
    eval_every: Annotated[int, typer.Option(help="evaluate held-out bits/byte and save every N steps")] = 250,
    out: Annotated[Path | None, typer.Option(help="resumable checkpoint (weights + optimizer)")] = None,
    resume: Annotated[Path | None, typer.Option(help="continue from this checkpoint")] = None,
    export: Annotated[
        Path | None, typer.Option(help="also write a weights-only checkpoint here at the end")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for initial weights and batches")] = 0,
) -> None:
    """Train the paper's byte transformer (bytelm); the last 10% of the data is held out."""
    from ..corpus import MOBY_DICK
    from ..language_models.train import TrainSettings
    from ..language_models.train import train as run_training

    settings = TrainSettings(
        size=size,
        data=tuple(data or (MOBY_DICK,)),
        steps=steps,
        device=device,
        batch=batch,
        lr=lr,
        seq_len=seq_len,
        eval_every=eval_every,
        out=out,
        resume=resume,
        export=export,
        seed=seed,
    )
    run_training(settings, log=lambda message: typer.echo(message, err=True))


PAPER_EXPERIMENTS = ("table1", "context", "scaling", "samples")


def paper(
    experiment: Annotated[str, typer.Argument(help="table1 | context | scaling | samples")],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="directory for the Markdown, JSON and PNG files")
    ] = Path("paper-results"),
    compressor: Annotated[
        list[str] | None, typer.Option("--compressor", "-c", help="predictor spec (default: every known one)")
    ] = None,
    n_bytes: Annotated[
        int | None, typer.Option("--bytes", help="bytes per modality (table1, context)")
    ] = None,
    lm_bytes: Annotated[
        int | None, typer.Option(help="bytes per modality for language models (table1)")
    ] = None,
    adapter: Annotated[
        bool, typer.Option(help="table1: add compressors' arithmetic-coded rates (slow)")
    ] = False,
    steps: Annotated[int, typer.Option(help="scaling: training steps per bytelm size")] = 200,
    lr: Annotated[
        float | None, typer.Option(help="scaling: peak learning rate (default: genzip train's)")
    ] = None,
    shipped: Annotated[
        bool, typer.Option(help="scaling: use shipped bytelm checkpoints where they exist")
    ] = True,
    cache: Annotated[Path | None, typer.Option(help="per-chunk result cache (default: OUT/.cache)")] = None,
    protocol: ProtocolOption = "genzip",
    engine: EngineOption = "local",
    address: AddressOption = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
) -> None:
    """Reproduce one of the paper's experiments on the shipped corpus (Markdown table + PNG)."""
    if experiment not in PAPER_EXPERIMENTS:
        raise InputError(f"unknown experiment {experiment!r}; use one of {', '.join(PAPER_EXPERIMENTS)}")
    cache_dir = cache or out / ".cache"  # ignored by git (.gitignore: .cache/)
    specs = tuple(compressor) if compressor else None
    extra: dict[str, Any] = {"specs": specs} if specs else {}  # each experiment keeps its own default specs
    if experiment == "table1":
        from ..evaluation.protocol import parse_protocol
        from ..experiments.table1 import table1

        report = table1(
            out,
            **extra,
            n_bytes=n_bytes or 65536,
            lm_bytes=lm_bytes or 8192,
            adapter=adapter,
            jobs=jobs,
            cache_dir=cache_dir,
            progress=interactive(),
            engine=engine,
            address=address,
            protocol=parse_protocol(protocol),
        )
    elif experiment == "context":
        from ..experiments.in_context import in_context

        report = in_context(
            out, **extra, n_bytes=n_bytes or 65536, jobs=jobs, cache_dir=cache_dir, progress=interactive()
        )
    elif experiment == "scaling":
        from ..experiments.scaling import scaling

        report = scaling(
            out,
            steps=steps,
            device=device,
            jobs=jobs,
            cache_dir=cache_dir,
            progress=interactive(),
            shipped=shipped,
            lr=lr,
        )
    else:
        from ..experiments.gallery import gallery

        text_specs: dict[str, Any] = {"text_specs": specs} if specs else {}
        report = gallery(out, **text_specs, jobs=jobs, progress=interactive())
    from rich.console import Console
    from rich.markdown import Markdown

    for path in report.files:  # the tables, rendered in the terminal
        if path.suffix == ".md":
            Console(width=max(160, Console().width)).print(Markdown(path.read_text()))
    for path in report.files:
        typer.echo(f"wrote {path}", err=True)
    for spec, why in report.skipped.items():
        typer.echo(f"skipped {spec}: {why}", err=True)
    typer.echo(f"{experiment}: {report.seconds:.1f} s", err=True)
