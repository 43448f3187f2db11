"""The code-length adapter: compressors seen as predictors (the paper's C -> p, improved).

`predictor` holds `CodeLengthPredictor` (window, state, the SequencePredictor
methods, the hooks a compressor implements); `plan` says which candidates and
continuations to measure; `evidence` turns integer code lengths into evidence
and evidence into a distribution; `calibration` is the online calibrator;
`dispatch` spreads the measuring over a `genzip.workers` pool.
"""

from __future__ import annotations

from .predictor import CodeLengthPredictor

__all__ = ["CodeLengthPredictor"]
