"""Structured JSON logging (Powertools Logger) with a validated ``LOG_LEVEL``."""

from __future__ import annotations

import unicodedata

from aws_lambda_powertools import Logger

from realtime_common.config import log_level


def make_logger() -> Logger:
    """One Logger per function module.

    The service name comes from ``POWERTOOLS_SERVICE_NAME`` (Powertools reads it); the level from
    ``LOG_LEVEL``, validated here so a typo fails with an error naming the variable instead of
    the logging module's ``Unknown level``.
    """
    return Logger(level=log_level())


# What a log line may carry of a value that came from outside (an identity, incident data).
DEFAULT_LOG_CHARS = 64
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def loggable(value: object, limit: int = DEFAULT_LOG_CHARS) -> str:
    """``value`` as text fit for a log line: at most ``limit`` characters, controls escaped.

    Powertools writes JSON without ASCII escaping, so a C1 control (U+0085 NEL, U+009B CSI), a bidi
    override or a line separator would reach CloudWatch raw: each is written as its escape
    (``\\x85``, ``\\u202e``) instead. A cut value ends with ``...``.
    """
    text = value if isinstance(value, str) else repr(value)
    cut = len(text) > limit
    safe = "".join(
        ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(ch) in _ESCAPED_CATEGORIES
        else ch
        for ch in text[:limit]
    )
    return safe + "..." if cut else safe
