"""Typed errors. The library raises these; the CLI turns each into one line on stderr."""

from __future__ import annotations


class CuratorError(Exception):
    """Base class of every error curator raises on purpose (bad input, bad config, bad index)."""


class InputError(CuratorError):
    """A data file is missing, malformed, has the wrong encoding, or lacks a needed field."""


class ConfigError(CuratorError):
    """A parameter or pipeline configuration value is invalid."""


class IndexNotFoundError(CuratorError):
    """An index name or folder does not exist or is incomplete."""


class IndexMismatchError(CuratorError):
    """An index is used with an embedding model or dimension other than the one it was built with."""


class ModelError(CuratorError):
    """An embedding model could not be resolved or loaded."""


def check_param(owner: str, name: str, value: object, ok: bool, expected: str) -> None:
    """Raise the one message template used for every invalid constructor parameter.

    >>> check_param("GroundingScorer", "threshold", 1.5, False, "a float in [0, 1]")
    Traceback (most recent call last):
    ...
    curator.errors.ConfigError: The 'threshold' parameter of GroundingScorer must be a float in [0, 1]. Got 1.5.
    """
    if not ok:
        raise ConfigError(
            f"The '{name}' parameter of {owner} must be {expected}. Got {value!r}."
        )


class IndexLockedError(CuratorError):
    """Another process kept an index locked (writing it) for longer than the wait allowed."""
