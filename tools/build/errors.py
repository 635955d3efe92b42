"""The build's one failure domain."""

from __future__ import annotations


class BuildError(RuntimeError):
    """The build cannot go on; the message says why and what to do instead."""
