"""Top-level entry: `python cli.py ...` runs genzip's command line."""

from genzip.cli import main

if __name__ == "__main__":
    main()
