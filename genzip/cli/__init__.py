"""The `genzip` command line: parse, call the Python API, print.

Every user-fixable problem is a `GenzipError`, printed as one line on stderr
with exit status 2. Output files are written to a temporary name and renamed
when complete, so a failed run never leaves a partial file.
"""

from __future__ import annotations

import sys

import typer

from ..errors import GenzipError
from .app import app
from .coding import compress, decompress
from .experiments import paper, train
from .listing import list_predictors
from .sampling import sample
from .scoring import compare, score

__all__ = ["app", "main"]

# registered here, in the order `genzip --help` lists them
for command in (sample, compress, decompress, score, compare, train, paper):
    app.command()(command)
app.command("list")(list_predictors)


def main() -> None:
    """Console-script entry: run the app, turning GenzipError into a one-line error."""
    try:
        app()
    except GenzipError as exc:
        typer.echo(f"genzip: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("genzip: interrupted", err=True)
        sys.exit(130)
