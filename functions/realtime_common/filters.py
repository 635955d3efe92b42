"""Subscriptions: what a connection asked for, what its token allows, and what it gets.

The one owner of the filter model (docs/handlers.md, "Subscriptions"):

* A **filter** maps a filterable field to the exact string values it accepts; a field left out
  means "any", ``{}`` means everything the connection may see. The filterable fields and the
  limits (values per field, total size) are Terraform's (``subscriptions``), set as the
  environment variables ``FILTER_FIELDS`` and ``FILTER_LIMITS``; a filter over them is refused
  with a :class:`FilterError`, whose message is the ``bad_request`` answer.
* A **permission** is the list of area patterns a token allows: ``"*"`` (every area, and
  incidents without one), ``"north"`` (exactly that area), ``"north/*"`` (``north`` itself and
  every area below it). It comes from the token's areas claim (a JSON list or a comma-separated
  string, see :func:`parse_areas_claim`), or ``DEFAULT_AREAS`` for a token without the claim.
* The **effective** filter is the intersection of the two (:func:`effective`): asking for more
  than the permission is narrowed, not refused, and :attr:`Effective.narrowed` says so.
  :func:`matches` decides whether an incident's plain image (attribute name -> plain value)
  belongs to it; an incident without an ``area`` attribute matches only a ``"*"`` permission.

The Connections table stores ``areas`` (:meth:`Permission.to_json`) and ``filter``
(:meth:`Filter.to_json`, absent meaning ``{}``); :func:`stored_effective` reads them back. Every
value here is immutable and hashable, and :attr:`Effective.key` is a canonical text, so the
fan-out groups connections by (effective filter, view) and decides a match once per group.

Everything here is pure: the environment readers take the mapping to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from realtime_common import config

AREA_FIELD = "area"
ALL_AREAS = "*"
PREFIX_SUFFIX = "/*"


class FilterError(ValueError):
    """A requested filter the stack refuses; the message is the ``bad_request`` answer."""


class ClaimError(ValueError):
    """An areas claim (or a stored permission) that is malformed or too big."""


def canonical_json(value: object) -> str:
    """The one text of ``value``: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Settings (Terraform's variable ``subscriptions`` owns the values; these check they parse)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FilterLimits:
    """``values_per_field`` and ``max_bytes`` bound a requested filter (its canonical JSON);
    ``areas_max_bytes`` bounds a permission, which travels in the authorizer's context (the
    whole authorizer result is at most 8 KB)."""

    values_per_field: int
    max_bytes: int
    areas_max_bytes: int


@dataclass(frozen=True)
class FilterSettings:
    fields: frozenset[str]
    limits: FilterLimits

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FilterSettings:
        """``FILTER_FIELDS`` (JSON list of field names) and ``FILTER_LIMITS`` (JSON object
        ``{"values_per_field": n, "max_bytes": n, "areas_max_bytes": n}``)."""
        return cls(fields=_fields(env), limits=filter_limits(env))


def _loads(text: str, error: type[ValueError], message: str) -> object:
    """``json.loads(text)``; text that is not JSON raises ``error(message.format(text))``
    without the decoder's traceback."""
    try:
        return json.loads(text)
    except ValueError:
        raise error(message.format(text)) from None


def _json_env(env: Mapping[str, str], name: str, shape: str) -> object:
    raw = config.required_str(env, name)
    try:
        return json.loads(raw)
    except ValueError:
        raise config.ConfigError(
            f"environment variable {name}={raw!r} is not JSON (expected {shape})"
        ) from None


def _fields(env: Mapping[str, str]) -> frozenset[str]:
    shape = 'a JSON list of field names, e.g. ["area", "urgency"]'
    value = _json_env(env, "FILTER_FIELDS", shape)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise config.ConfigError(f"environment variable FILTER_FIELDS must be {shape}")
    return frozenset(value)


def filter_limits(env: Mapping[str, str]) -> FilterLimits:
    """``FILTER_LIMITS``: the authorizer needs only these, not the fields."""
    names = ("values_per_field", "max_bytes", "areas_max_bytes")
    shape = "a JSON object of positive integers " + ", ".join(names)
    value = _json_env(env, "FILTER_LIMITS", shape)
    if not isinstance(value, dict) or not all(
        isinstance(value.get(name), int)
        and not isinstance(value.get(name), bool)
        and value[name] > 0
        for name in names
    ):
        raise config.ConfigError(f"environment variable FILTER_LIMITS must be {shape}")
    return FilterLimits(**{name: value[name] for name in names})


def default_areas(env: Mapping[str, str]) -> Permission:
    """``DEFAULT_AREAS`` (JSON list of area patterns): what a token without the areas claim may
    see, and what a connection row without ``areas`` (written before subscriptions) gets."""
    raw = config.required_str(env, "DEFAULT_AREAS")
    try:
        return Permission.from_json(raw)
    except ClaimError as error:
        raise config.ConfigError(
            f"environment variable DEFAULT_AREAS={raw!r} is not a JSON list of area patterns "
            f'("*", "north", "north/*"): {error}'
        ) from None


# --------------------------------------------------------------------------------------------
# Permission: area patterns from the token
# --------------------------------------------------------------------------------------------
def _check_pattern(pattern: str) -> str:
    if not pattern or pattern != pattern.strip():
        raise ClaimError(f"area pattern {pattern!r} is empty or has surrounding spaces")
    if pattern == ALL_AREAS:
        return pattern
    stem = pattern[: -len(PREFIX_SUFFIX)] if pattern.endswith(PREFIX_SUFFIX) else pattern
    if not stem or "*" in stem:
        raise ClaimError(
            f"area pattern {pattern!r} is malformed (write '*', an area like 'north', "
            "or a prefix like 'north/*')"
        )
    return pattern


def pattern_allows(pattern: str, area: str) -> bool:
    """Whether one pattern allows ``area``: ``*`` all, ``north/*`` north and below, else exact."""
    if pattern == ALL_AREAS:
        return True
    if pattern.endswith(PREFIX_SUFFIX):
        stem = pattern[: -len(PREFIX_SUFFIX)]
        return area == stem or area.startswith(stem + "/")
    return area == pattern


def _covers(wider: str, pattern: str) -> bool:
    """Whether ``wider`` allows every area ``pattern`` allows (and is another pattern)."""
    if wider == pattern:
        return False
    if wider == ALL_AREAS:
        return True
    if pattern == ALL_AREAS or not wider.endswith(PREFIX_SUFFIX):
        return False
    stem = pattern[: -len(PREFIX_SUFFIX)] if pattern.endswith(PREFIX_SUFFIX) else pattern
    return pattern_allows(wider, stem)


@dataclass(frozen=True)
class Permission:
    """The area patterns a token allows, canonical: unique, sorted, none covered by another
    (``*`` alone when present), so equal permissions have one text."""

    patterns: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Permission:
        """Validates each pattern (ClaimError) and canonicalises the set."""
        unique = {_check_pattern(pattern) for pattern in patterns}
        kept = sorted(p for p in unique if not any(_covers(other, p) for other in unique))
        return cls(tuple(kept))

    @classmethod
    def from_json(cls, text: str) -> Permission:
        """A stored permission (a JSON list of patterns); ClaimError when it is not one."""
        value = _loads(text, ClaimError, "{!r:.80} is not JSON")
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ClaimError(f"{text!r:.80} is not a JSON list of strings")
        return cls.of(value)

    @property
    def everything(self) -> bool:
        return self.patterns == (ALL_AREAS,)

    def allows(self, area: str | None) -> bool:
        """Whether an incident in ``area`` (None: without one) is visible."""
        if area is None:
            return self.everything
        return any(pattern_allows(pattern, area) for pattern in self.patterns)

    def to_json(self) -> str:
        return canonical_json(list(self.patterns))


def parse_areas_claim(value: object, *, default: Permission, max_bytes: int) -> Permission:
    """The permission an areas claim grants: ``default`` when the claim is absent (None); a JSON
    list of patterns, or a string holding either a JSON list (Cognito custom attributes are
    strings) or comma-separated patterns (blank items skipped). ClaimError when malformed or when
    the canonical list is over ``max_bytes`` (it must fit the authorizer's 8 KB result)."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _loads(
                text, ClaimError, "the areas claim starts with '[' but is not a JSON list"
            )
        else:
            value = [item.strip() for item in text.split(",") if item.strip()]
    if not isinstance(value, list):
        raise ClaimError(
            f"the areas claim is a {type(value).__name__}, not a list or comma-separated string"
        )
    if not all(isinstance(item, str) for item in value):
        raise ClaimError("the areas claim lists something other than strings")
    permission = Permission.of(value)
    size = _size(permission.to_json())
    if size > max_bytes:
        raise ClaimError(
            f"the areas claim is {size} bytes as a JSON list, over the limit of {max_bytes} "
            "(grant a prefix like 'north/*' instead of many areas)"
        )
    return permission


# --------------------------------------------------------------------------------------------
# Filter: what the client asked for
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filter:
    """Field -> accepted exact values, canonical (fields and values sorted, values unique).
    An empty tuple of values matches nothing (an area filter narrowed to no allowed area)."""

    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[str, Iterable[str]]) -> Filter:
        return cls(
            tuple(sorted((name, tuple(sorted(set(values)))) for name, values in mapping.items()))
        )

    def get(self, name: str) -> tuple[str, ...] | None:
        for field_name, values in self.fields:
            if field_name == name:
                return values
        return None

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in self.fields}

    def to_json(self) -> str:
        return canonical_json(self.as_dict())

    @classmethod
    def from_json(cls, text: str) -> Filter:
        """A stored filter (what :meth:`to_json` wrote); FilterError when it is not one."""
        value = _loads(text, FilterError, "stored filter {!r:.80} is not JSON")
        if not isinstance(value, dict) or not all(
            isinstance(values, list) and all(isinstance(item, str) for item in values)
            for values in value.values()
        ):
            raise FilterError(f"stored filter {text!r:.80} is not an object of string lists")
        return cls.of(value)


def parse_filter(value: object, settings: FilterSettings) -> Filter:
    """A requested filter (the decoded ``filter`` of a subscribe message): FilterError, with a
    message that says what to send instead, for anything but an object of known fields to
    non-empty lists of strings within the limits."""
    if not isinstance(value, dict):
        raise FilterError(
            'filter must be a JSON object of field -> list of values, e.g. {"area": ["north"]}'
        )
    allowed = ", ".join(sorted(settings.fields))
    limits = settings.limits
    accepted: dict[str, list[str]] = {}
    for name, values in value.items():
        if name not in settings.fields:
            raise FilterError(f"filter field {name!r} is not filterable (allowed: {allowed})")
        if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
            raise FilterError(f"filter.{name} must be a list of strings")
        if not values:
            raise FilterError(f"filter.{name} is empty: list at least one value or leave it out")
        if name == AREA_FIELD and any("*" in item for item in values):
            raise FilterError(
                "filter.area values are exact areas, not patterns: leave area out for every "
                "area the token allows"
            )
        unique = set(values)
        if len(unique) > limits.values_per_field:
            raise FilterError(
                f"filter.{name} has {len(unique)} values, over the limit of "
                f"{limits.values_per_field}"
            )
        accepted[name] = values
    parsed = Filter.of(accepted)
    size = _size(parsed.to_json())
    if size > limits.max_bytes:
        raise FilterError(f"filter is {size} bytes as JSON, over the limit of {limits.max_bytes}")
    return parsed


def parse_filter_text(text: str, settings: FilterSettings) -> Filter:
    """A filter sent as JSON text (the ``$connect`` query parameter ``filter``)."""
    if _size(text) > 4 * settings.limits.max_bytes:
        raise FilterError(f"filter is over the limit of {settings.limits.max_bytes} bytes")
    value = _loads(
        text,
        FilterError,
        'filter is not JSON: send a URL-encoded JSON object, e.g. {{"area":["north"]}}',
    )
    return parse_filter(value, settings)


# --------------------------------------------------------------------------------------------
# Effective filter: the intersection, and matching
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Effective:
    """What a connection receives: incidents its ``filter`` matches and its ``areas`` allow.
    ``narrowed`` (reported in ``subscribed``) is not part of equality or :attr:`key`."""

    filter: Filter
    areas: Permission
    narrowed: bool = field(default=False, compare=False)

    @property
    def key(self) -> str:
        """A canonical text: equal effective filters, equal keys."""
        return canonical_json({"areas": list(self.areas.patterns), "filter": self.filter.as_dict()})

    def subscribed_message(self) -> dict[str, Any]:
        """The pinned answer to a subscription."""
        return {
            "version": 1,
            "type": "subscribed",
            "filter": self.filter.as_dict(),
            "narrowed": self.narrowed,
            "areas": list(self.areas.patterns),
        }


def effective(asked: Filter, allowed: Permission) -> Effective:
    """The intersection: asked area values the permission does not allow are dropped (possibly
    to none, which matches nothing) and ``narrowed`` says so; other fields stay as asked."""
    areas = asked.get(AREA_FIELD)
    if areas is None:
        return Effective(asked, allowed, narrowed=False)
    kept = tuple(area for area in areas if allowed.allows(area))
    if len(kept) == len(areas):
        return Effective(asked, allowed, narrowed=False)
    fields = dict(asked.fields)
    fields[AREA_FIELD] = kept
    return Effective(Filter.of(fields), allowed, narrowed=True)


def _text(value: object) -> str | None:
    """An attribute's value as a filter compares it: strings as they are, whole numbers as
    their digits; anything else (a list, a map, a boolean) matches no value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    return None


def matches(effective_filter: Effective, image: Mapping[str, Any]) -> bool:
    """Whether an incident's plain image belongs to ``effective_filter``."""
    if not effective_filter.filter.fields and effective_filter.areas.everything:
        return True  # the usual subscription: everything, any area or none
    area = _text(image.get(AREA_FIELD))
    if not effective_filter.areas.allows(area):
        return False
    return all(_text(image.get(name)) in values for name, values in effective_filter.filter.fields)


def stored_effective(areas: str | None, filter_text: str | None, default: Permission) -> Effective:
    """The effective filter of a Connections row: ``areas`` (absent on rows written before
    subscriptions: ``default``) and ``filter`` (absent: ``{}``). Raises ClaimError or FilterError
    on a value this module did not write; the caller sends such a connection nothing."""
    permission = default if areas is None else Permission.from_json(areas)
    asked = Filter() if filter_text is None else Filter.from_json(filter_text)
    return effective(asked, permission)
