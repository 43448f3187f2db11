"""`genzip sample`: continue a prompt with any predictor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import corpus
from ..registry import Kind, parse_spec
from .app import (
    DeviceOption,
    DtypeOption,
    JobsOption,
    SpecOption,
    build_predictor,
    interactive,
    read_input,
    with_param,
    write_output,
)


def sample(
    compressor: SpecOption = "gzip",
    prompt: Annotated[
        str,
        typer.Option(
            help="text to continue (none: compressors and context models continue a Moby-Dick paragraph"
            " shipped with genzip, since they know only what they are shown; language models start fresh)"
        ),
    ] = "",
    prompt_file: Annotated[
        Path | None, typer.Option(help="read the prompt (raw bytes: conditioning text + prompt) from a file")
    ] = None,
    n: Annotated[int, typer.Option("-n", "--bytes", help="bytes to generate")] = 200,
    seed: Annotated[int | None, typer.Option(help="random seed; the same seed gives the same sample")] = None,
    temperature: Annotated[
        float | None, typer.Option(help="0 = greedy, 1 = the predictor's own distribution [1]")
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="keep only the k most likely symbols")] = None,
    top_p: Annotated[
        float | None, typer.Option(help="keep the smallest set with this much probability")
    ] = None,
    min_p: Annotated[
        float | None, typer.Option(help="drop symbols below min_p x the most likely one")
    ] = None,
    typical_p: Annotated[
        float | None, typer.Option(help="locally typical sampling: keep this much mass")
    ] = None,
    repetition_penalty: Annotated[
        float | None,
        typer.Option(help="> 1 discourages symbols already in prompt or sample (CTRL's penalty)"),
    ] = None,
    no_repeat_ngram_size: Annotated[
        int | None,
        typer.Option(
            help="no n-gram of this many symbols occurs twice in prompt + sample (0 = off; compressors: 25)"
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help="auto (compressors: sequence, others: symbol) | symbol | sequence")
    ] = "auto",
    particles: Annotated[int | None, typer.Option(help="sequence method: particles per block")] = None,
    horizon: Annotated[int | None, typer.Option(help="sequence method: bytes per block")] = None,
    context: Annotated[
        int | None, typer.Option(help="override the compressor's context window (bytes)")
    ] = None,
    lookahead: Annotated[
        int | None, typer.Option(help="compressors: score continuations of up to K bytes (spec lookahead=K)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    jobs: JobsOption = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = None,
) -> None:
    """Generate bytes that continue a prompt, from any predictor (see docs/sampling.md)."""
    from dataclasses import replace

    from ..sampler import SequenceSettings
    from ..sampler import sample as draw_sample

    prompt_bytes = read_input(prompt_file) if prompt_file is not None else prompt.encode()
    spec = with_param(with_param(compressor, "context", context), "lookahead", lookahead)
    shown_prompt = not prompt_bytes and parse_spec(spec)[0].kind is not Kind.LANGUAGE_MODEL
    if shown_prompt:
        prompt_bytes = corpus.default_prompt()
    settings = SequenceSettings()
    if particles is not None:
        settings = replace(settings, particles=particles)
    if horizon is not None:
        settings = replace(settings, horizon=horizon, commit=min(settings.commit or horizon, horizon))
    with build_predictor(spec, jobs, device, dtype) as predictor:
        out = draw_sample(
            predictor,
            prompt_bytes,
            n,
            temperature,
            top_k,
            top_p,
            seed,
            progress=interactive(),
            min_p=min_p,
            typical_p=typical_p,
            repetition_penalty=repetition_penalty,
            no_repeat_ngram_size=no_repeat_ngram_size,
            method=method,
            settings=settings,
        )
    write_output(output, out)
    if shown_prompt:  # said after the work, so that an error stays the only line on stderr
        typer.echo(
            f"genzip: no prompt: continued {len(prompt_bytes)} bytes of the shipped Moby-Dick"
            " (--prompt or --prompt-file to choose)",
            err=True,
        )
    if output is None and sys.stdout.isatty():
        typer.echo()
