"""`genzip list`: every predictor with its parameters."""

from __future__ import annotations


def list_predictors() -> None:
    """Every available predictor spec with its parameters."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ..registry import ENTRIES

    table = Table(title=escape("predictors (spec: name or name:key=value,...; [default])"))
    table.add_column("name")
    table.add_column("kind")
    table.add_column("what")
    table.add_column("parameters")
    meanings: dict[str, str] = {}
    for entry in ENTRIES.values():
        parameters = "  ".join(p.describe() for p in entry.params) or "-"
        table.add_row(entry.name, entry.kind, escape(entry.summary), escape(parameters))
        for p in entry.params:
            meanings.setdefault(f"{p.name}: {p.help}", entry.name)
    console = Console(width=max(120, Console().width))
    console.print(table)
    console.print("parameters:", markup=False)
    for meaning in meanings:
        console.print(f"  {meaning}", markup=False)
