"""Reading and validating the environment variables Terraform sets on the functions.

Every reader raises :class:`ConfigError` naming the variable and what it should hold, so a
misconfigured deployment fails on its first invocation with a message that says what to fix.

Terraform's variables own defaults, ranges and allowed values (the operator sees a bad value at
plan). A reader called without a ``default`` requires its variable, since Terraform always sets
it, and checks only that the value parses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(RuntimeError):
    """An environment variable is missing or holds an invalid value."""


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def required_str(env: Mapping[str, str], name: str) -> str:
    """The non-empty value of ``name``; raises when it is unset or blank."""
    value = _raw(env, name)
    if value is None:
        raise ConfigError(f"environment variable {name} is required and must not be empty")
    return value


def optional_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = _raw(env, name)
    return default if value is None else value


def optional(env: Mapping[str, str], name: str) -> str | None:
    """The value of ``name``, or None when it is unset or blank: for a variable Terraform sets
    only in some configurations (one of two alternatives, say)."""
    return _raw(env, name)


def required_int(env: Mapping[str, str], name: str) -> int:
    """The integer value of ``name``; raises when it is unset or not an integer."""
    value = required_str(env, name)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def bounded_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer in ``minimum..maximum`` (inclusive); ``default`` when unset."""
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={value!r} is not an integer "
            f"(expected {minimum}..{maximum})"
        ) from None
    if not minimum <= number <= maximum:
        raise ConfigError(
            f"environment variable {name}={number} is out of range (expected {minimum}..{maximum})"
        )
    return number


def boolean(env: Mapping[str, str], name: str, *, default: bool | None = None) -> bool:
    """``true``/``false`` (any case); ``default`` when unset, required without one. Anything
    else is an error."""
    value = required_str(env, name) if default is None else _raw(env, name)
    if value is None:
        return bool(default)
    lowered = value.lower()
    if lowered not in {"true", "false"}:
        raise ConfigError(f"environment variable {name}={value!r} must be 'true' or 'false'")
    return lowered == "true"


def csv_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A required, non-empty comma-separated list, in order and case as written (audiences and
    algorithm names are case-sensitive)."""
    items = tuple(part.strip() for part in required_str(env, name).split(",") if part.strip())
    if not items:
        raise ConfigError(f"environment variable {name} must list at least one value")
    return items


def csv_set(
    env: Mapping[str, str],
    name: str,
    default: Iterable[str] | None = None,
    allowed: Iterable[str] | None = None,
) -> frozenset[str]:
    """A non-empty comma-separated list, lower-cased; optionally restricted to ``allowed``.
    ``default`` when unset; required without one."""
    value = _raw(env, name)
    if value is None and default is None:
        value = required_str(env, name)
    items = (
        frozenset(default or ())
        if value is None
        else frozenset(part.strip().lower() for part in value.split(",") if part.strip())
    )
    if not items:
        raise ConfigError(f"environment variable {name} must list at least one value")
    if allowed is not None:
        unknown = sorted(items - frozenset(allowed))
        if unknown:
            raise ConfigError(
                f"environment variable {name} has unknown value(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(allowed)})"
            )
    return items


def log_level(env: Mapping[str, str] | None = None) -> str:
    """``LOG_LEVEL`` upper-cased (default INFO), validated against the logging levels."""
    env = os.environ if env is None else env
    value = optional_str(env, "LOG_LEVEL", "INFO").upper()
    if value not in LOG_LEVELS:
        allowed = ", ".join(LOG_LEVELS)
        raise ConfigError(f"environment variable LOG_LEVEL={value!r} is not one of {allowed}")
    return value
