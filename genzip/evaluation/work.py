"""How much work a chunk is, relative to the others of its predictor: what the run estimate weighs by.

A code-length adapter's cost per position is the library calls its measurement
plan makes (`CodeLengthPredictor.measured_calls`), which on one photo varied
from 5 to 42 CPU seconds per 2 KB chunk for gzip (with the distinct bytes in the
window); the first chunk alone then misjudges the rest. Every other predictor
costs about the same per byte, so its work is the chunk's length.
"""

from __future__ import annotations

import numpy as np

from ..adapter import CodeLengthPredictor
from ..predictor import SequencePredictor
from ..registry import Kind, build
from .plan import Job

#: positions of a chunk whose plan is made (every STRIDE-th), and chunks sampled per job
STRIDE = 128
SAMPLE = 32


def chunk_work(predictor: SequencePredictor, data: bytes) -> float:
    """Relative work of scoring `data` from an empty context with `predictor`."""
    if not isinstance(predictor, CodeLengthPredictor):
        return float(len(data))
    window = predictor.window
    return float(
        sum(predictor.measured_calls(data[max(0, p - window) : p]) for p in range(0, len(data), STRIDE))
    )


def job_work(job: Job) -> tuple[float, float]:
    """(work of the job's first chunk, mean work of the others, from at most SAMPLE of them evenly spread);
    only code-length compressors are built for this (cheap); other kinds weigh by length."""
    if not job.tasks:
        return 1.0, 1.0
    rest = job.tasks[1:]
    picked = (
        [rest[i] for i in np.linspace(0, len(rest) - 1, min(SAMPLE, len(rest))).astype(int)] if rest else []
    )
    if job.kind is not Kind.COMPRESSOR:
        lengths = [len(t.data) for t in picked]
        return float(len(job.tasks[0].data)), float(np.mean(lengths)) if lengths else 1.0
    predictor = build(job.spec)
    first = chunk_work(predictor, job.tasks[0].data)
    return first, float(np.mean([chunk_work(predictor, t.data) for t in picked])) if picked else first
