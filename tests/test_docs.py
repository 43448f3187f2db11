"""The documentation is tested: README examples and docstring examples run as written.

* every ```python block of README.md runs, in order, in one namespace, in a scratch folder;
* every ``$ genzip ...`` line of a README block marked ``<!-- tested -->`` runs as a real process
  and ends with the exit status the block states (0 unless it says ``(exit status N)``);
* the docstring examples (``>>>``) of the public modules pass under doctest.
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import genzip.corpus

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCTEST_MODULES = ("genzip", "genzip.chunks", "genzip.files", "genzip.registry")


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def _tested_shell_lines(text: str) -> list[tuple[str, int]]:
    """(command, expected exit status) for each `$ ` line of blocks marked <!-- tested -->."""
    lines = []
    for block in re.findall(r"<!-- tested -->\s*```\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                status = re.search(r"\(exit status (\d+)\)", line)
                command = re.sub(r"\s*\(exit status \d+\).*$", "", line[2:])
                lines.append((command, int(status.group(1)) if status else 0))
    return lines


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding moby.txt (the first 1000 bytes of the shipped book), as the README assumes."""
    (tmp_path / "moby.txt").write_bytes(genzip.corpus.text(1000))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_has_python_and_shell_examples() -> None:
    assert _python_blocks(README), "README lost its Python examples"
    assert _tested_shell_lines(README), "README lost its tested command-line examples"


def test_readme_python_examples_run(scratch: Path) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in _python_blocks(README):
        exec(compile(block, "README.md", "exec"), namespace)


def test_readme_command_line_examples_run(scratch: Path) -> None:
    """The lines run in order in one folder, as a reader would type them (decompress needs compress)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    genzip_cli = shlex.quote(sys.executable) + " -m genzip"
    for command, status in _tested_shell_lines(README):
        pipeline = " ".join(genzip_cli if word == "genzip" else word for word in command.split(" "))
        result = subprocess.run(pipeline, shell=True, capture_output=True, cwd=scratch, env=env, timeout=300)
        assert result.returncode == status, (command, result.stderr.decode()[-2000:])
        assert b"Traceback" not in result.stderr, result.stderr.decode()


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_pass(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0
