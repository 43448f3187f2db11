"""Evaluation: several predictors on the same data, scored chunk by chunk, one table.

* `plan`: which chunks a run scores (bounded, sampled) and which predictor scores them where.
* `engines`: where the scoring runs: the local process pool (default) or a Ray cluster.
* `cache`: per-chunk results on disk, shared by every engine (an interrupted run resumes).
* `protocol`: genzip's rates, or the paper's (header once, masked bytes for language models).
* `summary` / `results`: per-chunk scores summed into rates, with standard errors when sampled.
* `report`: the table, Markdown, JSON and CSV.
"""

from __future__ import annotations

from .compare import compare
from .plan import Estimate
from .protocol import Protocol
from .report import markdown_table, rich_table, to_csv, to_json, to_markdown
from .results import ChunkScore, Comparison, PredictorResult, SampleEstimate

__all__ = [
    "ChunkScore",
    "Comparison",
    "Estimate",
    "PredictorResult",
    "Protocol",
    "SampleEstimate",
    "compare",
    "markdown_table",
    "rich_table",
    "to_csv",
    "to_json",
    "to_markdown",
]
