"""compare(): several predictors on the same data, one table.

Every input is cut into independent chunks (`chunk_size`, or whole files),
optionally bounded and sampled (see `plan`), and each (predictor, chunk) pair is
scored once with `genzip.likelihood.score`: the code length of every symbol and,
for real compressors, the size the compressor itself writes. An engine
(`engines`) decides where the scoring runs; the cache (`cache`) remembers each
chunk's result, so an interrupted run resumes, on either engine.

Token models give bits per token; for the per-byte surprisal trace each
token's bits are spread evenly over its bytes. Totals are always exact. The
adjusted rate adds the model's size (2 bytes per parameter, as the paper).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..likelihood import Score
from ..predictor import RuntimeOptions
from ..progress import progress_bar
from ..registry import Kind, parse_spec
from .cache import ChunkCache, cache_key
from .engines import Engine, make_engine
from .plan import Done, Estimate, EstimateWatch, Job, Selection, Task, select_pieces
from .protocol import Protocol, counts_header_once, model_view
from .results import ChunkScore, Comparison, PredictorResult
from .summary import PredictorInfo, assemble
from .work import job_work


class Run:
    """The bookkeeping of one compare run: pending work per predictor, finished scores, the cache."""

    def __init__(
        self,
        names: Sequence[str],
        selection: Selection,
        kinds: Sequence[Kind],
        cache: ChunkCache,
        native_only: bool,
        protocol: Protocol,
        modalities: Sequence[str],
    ) -> None:
        self.names = names
        self.selection = selection
        self.kinds = kinds
        self.cache = cache
        self.native_only = native_only
        self.protocol = protocol
        self.modalities = modalities
        self.scores: list[dict[int, ChunkScore]] = [{} for _ in kinds]
        self.masked_bits = [0 for _ in kinds]
        self.watch: EstimateWatch | None = None
        self.advance: Callable[[int], None] = lambda n: None
        self.on_chunk: Callable[[int, int], None] = lambda slot, n: None

    def job(self, slot: int, info: PredictorInfo) -> Job:
        """The chunks this predictor still has to score; cache hits are filled in."""
        job = Job(slot, info.spec, self.kinds[slot])
        self.masked_bits[slot] = 0
        for index, piece in enumerate(self.selection.pieces):
            view, masked = model_view(
                self.protocol, self.kinds[slot], self.modalities[piece.file], piece.data
            )
            self.masked_bits[slot] += masked
            key = cache_key(info.identity, view, self.native_only)
            hit = self.cache.get(key)
            if hit is not None:
                self.scores[slot][index] = hit
                self.advance(len(piece.data))
            else:
                job.tasks.append(Task(slot, index, view, key))
        return job

    def record(self, done: Done) -> None:
        """A task finished: keep its score, store it in the cache, report progress."""
        task = done.task
        self.scores[task.slot][task.piece] = done.score
        self.cache.put(task.key, done.score)
        self.advance(len(task.data))
        self.on_chunk(task.slot, len(task.data))
        if self.watch is not None:
            self.watch.done(task.slot, done.seconds)

    def result(self, slot: int, info: PredictorInfo) -> PredictorResult:
        header_once = counts_header_once(self.protocol, self.kinds[slot])
        return assemble(
            info,
            self.kinds[slot],
            self.names,
            self.selection,
            self.scores[slot],
            self.masked_bits[slot],
            header_once,
        )


def run_phase(
    engine: Engine,
    run: Run,
    jobs: list[Job],
    specs: Sequence[str],
    on_estimate: Callable[[Estimate], None] | None,
) -> None:
    """Score a phase's jobs, every job's first chunk first, so the rest can be estimated early (each
    chunk weighed by its work, `genzip.evaluation.work`)."""
    n = len(run.selection.pieces)
    run.watch = None
    if on_estimate is not None and any(job.tasks for job in jobs):
        parallel = [engine.parallelism(j, n) for j in jobs]
        run.watch = EstimateWatch(jobs, specs, parallel, on_estimate, None if run.native_only else job_work)
    firsts = [Job(j.slot, j.spec, j.kind, j.tasks[:1]) for j in jobs]
    rests = [Job(j.slot, j.spec, j.kind, j.tasks[1:]) for j in jobs]
    engine.run(firsts + rests, run.record, n)


def compare(
    inputs: Sequence[tuple[str, bytes]],
    specs: Sequence[str],
    chunk_size: int | None = 2048,
    *,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    native_only: bool = False,
    device: str = "auto",
    dtype: str | None = None,
    progress: bool = False,
    on_chunk: Callable[[str, int], None] | None = None,
    engine: str | Engine = "local",
    address: str | None = None,
    max_bytes: int | None = None,
    sample_chunks: int | None = None,
    seed: int = 0,
    protocol: Protocol | str = Protocol.GENZIP,
    modalities: Sequence[str] | None = None,
    on_estimate: Callable[[Estimate], None] | None = None,
) -> Comparison:
    """Score every input under every predictor; see the module docstring.

    `inputs` are (name, bytes) pairs, `modalities` their modality (text, image,
    audio, random; default text), used by the paper's protocol. `on_chunk(spec,
    n_bytes)` is called for every chunk actually computed (not for cache hits);
    `on_estimate` gets the work estimate measured on the first chunks.
    """
    if not specs:
        raise InputError("no predictors given; add -c SPEC (see 'genzip list')")
    for name, data in inputs:
        if not data:
            raise InputError(f"empty input: {name} (bits per byte is undefined)")
    kinds = [parse_spec(s)[0].kind for s in specs]  # validate every spec before any work
    protocol = Protocol(protocol)
    selection = select_pieces([d for _, d in inputs], chunk_size, max_bytes, sample_chunks, seed)
    run = Run(
        [n for n, _ in inputs],
        selection,
        kinds,
        ChunkCache(cache_dir),
        native_only,
        protocol,
        list(modalities) if modalities is not None else ["text"] * len(inputs),
    )
    if on_chunk is not None:
        run.on_chunk = lambda slot, n: on_chunk(specs[slot], n)
    options = RuntimeOptions(jobs=jobs, device=device, dtype=dtype)
    results: dict[int, PredictorResult] = {}
    total = len(specs) * sum(len(p.data) for p in selection.pieces)
    with (
        make_engine(engine, options, native_only, address)
        if isinstance(engine, str)
        else nullcontext(engine) as runner,
        progress_bar(total, "compare", progress) as advance,
    ):
        run.advance = advance
        for phase in runner.phases(kinds, len(selection.pieces)):
            infos = {slot: runner.describe(specs[slot]) for slot in phase}
            run_phase(runner, run, [run.job(slot, infos[slot]) for slot in phase], specs, on_estimate)
            for slot in phase:
                results[slot] = run.result(slot, infos[slot])
                results[slot].name = specs[slot]
                runner.release(infos[slot].spec)
    return Comparison(
        [n for n, _ in inputs], chunk_size, [results[i] for i in range(len(specs))], str(protocol)
    )


def score_files(
    inputs: Sequence[tuple[str, bytes]], specs: Sequence[str], chunk_size: int, **options: Any
) -> list[tuple[str, str, Score]]:
    """`genzip score --chunk N` through an engine: (file, spec, Score) per predictor and file, as the local path."""
    comparison = compare(list(inputs), specs, chunk_size, **options)
    rows = []
    for name, r in zip(specs, comparison.results, strict=True):
        offset = 0
        for f in r.per_file:
            bits = r.byte_bits[offset : offset + f["bytes"]] if r.byte_bits is not None else np.zeros(0)
            offset += f["bytes"]
            rows.append((f["file"], name, Score(r.spec, f["bytes"], bits, f["native_bytes"])))
    return rows
