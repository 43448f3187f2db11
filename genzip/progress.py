"""Progress reporting for long work: a rich bar on a terminal, silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n)` callback; draws a bar only when enabled and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty() or total <= 0:
        yield _ignore
        return
    from rich.progress import Progress

    with Progress(*bar_columns("{task.description}"), transient=True) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def _ignore(n: int = 1) -> None:
    """The `advance` callback when no bar is drawn."""


def bar_columns(label: str) -> tuple[Any, ...]:
    """genzip's progress bar layout: `label` (a rich template), bar, n/total, elapsed, eta."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
