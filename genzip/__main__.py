"""`python -m genzip` runs the CLI."""

from genzip.cli import main

main()
