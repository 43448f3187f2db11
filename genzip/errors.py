"""The one exception family genzip raises for problems the user can fix.

The CLI prints a `GenzipError` as a single line and exits with status 2;
anything else is a programming error and keeps its traceback.
"""

from __future__ import annotations


class GenzipError(Exception):
    """Base class: bad input, bad spec, bad container, model mismatch."""


class SpecError(GenzipError):
    """A predictor spec string names an unknown predictor or a bad parameter."""


class InputError(GenzipError):
    """Input data or options the operation cannot work with (missing file, empty input, ...)."""


class ContainerError(GenzipError):
    """A compressed container is not valid: wrong magic, unknown version, truncated, corrupted."""


class ModelMismatchError(ContainerError):
    """The predictor rebuilt at decode time is not the one that encoded the container."""
