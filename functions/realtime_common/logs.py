"""Structured JSON logging (Powertools Logger) with a validated ``LOG_LEVEL``."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from realtime_common.config import log_level


def make_logger() -> Logger:
    """One Logger per function module.

    The service name comes from ``POWERTOOLS_SERVICE_NAME`` (Powertools reads it); the level from
    ``LOG_LEVEL``, validated here so a typo fails with an error naming the variable instead of
    the logging module's ``Unknown level``.
    """
    return Logger(level=log_level())
