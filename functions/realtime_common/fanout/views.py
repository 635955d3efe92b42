"""Role-based views: which attributes of an incident each connection's role receives.

``ROLE_VIEWS`` (JSON, set by Terraform from ``var.role_views``, which owns the default) maps a
role to ``{"whole": true}`` (the whole incident, as the stream's new image has it) or
``{"attributes": ["incidentId", "title", ...]}`` (only those top-level attributes; absent ones
are simply absent). A connection whose role has no view receives nothing. The message envelope
(``version``, ``type``, ``keys``, ``eventId``, ``sequence``) is the same for every role: only
``incident`` differs. Roles with the same view share one encoded message and one set of frames,
so a record is encoded once per distinct view, never once per connection.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realtime_common import config
from realtime_common.config import ConfigError

ENV_VARIABLE = "ROLE_VIEWS"
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")

# What a view lets through: None is the whole incident.
View = frozenset[str] | None


@dataclass(frozen=True)
class RoleViews:
    """Each role's view, and the distinct views ("audiences") the roles fall into."""

    views: Mapping[str, View]

    @property
    def audiences(self) -> list[View]:
        """The distinct views, in a stable order (whole first, then by attribute list)."""
        distinct = set(self.views.values())
        return sorted(distinct, key=lambda view: (view is not None, sorted(view or ())))

    def audience_of(self) -> dict[str, int]:
        """Role -> index into ``audiences``."""
        index = {view: n for n, view in enumerate(self.audiences)}
        return {role: index[view] for role, view in self.views.items()}

    @classmethod
    def parse(cls, text: str) -> RoleViews:
        """``ROLE_VIEWS`` as Terraform writes it; ConfigError saying what to write instead."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise _invalid(f"is not JSON ({error})") from error
        if not isinstance(data, dict) or not data:
            raise _invalid("must be a non-empty JSON object of role -> view")
        views: dict[str, View] = {}
        for role, spec in data.items():
            if not _ROLE.fullmatch(role):
                raise _invalid(f"has the role {role[:40]!r}: roles are lowercase names")
            views[role] = _view(role, spec)
        return cls(views)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RoleViews:
        """``ROLE_VIEWS``, required: Terraform's ``role_views`` variable owns the default."""
        return cls.parse(config.required_str(env, ENV_VARIABLE))


def _view(role: str, spec: object) -> View:
    if not isinstance(spec, dict):
        raise _invalid(f"role {role!r} must map to an object")
    whole = spec.get("whole", False)
    attributes = spec.get("attributes") or []
    if not isinstance(whole, bool) or not isinstance(attributes, list):
        raise _invalid(f"role {role!r}: whole is true/false and attributes a list of names")
    if whole == bool(attributes):
        raise _invalid(f"role {role!r} needs either whole = true or a non-empty attributes list")
    if whole:
        return None
    for name in attributes:
        if not isinstance(name, str) or not _ATTRIBUTE.fullmatch(name):
            raise _invalid(f"role {role!r} has the attribute {str(name)[:70]!r}")
    return frozenset(attributes)


def _invalid(what: str) -> ConfigError:
    return ConfigError(
        f"environment variable {ENV_VARIABLE} {what}; write e.g. "
        '{"dispatcher": {"whole": true}, "viewer": {"attributes": ["incidentId", "title"]}}'
    )


def project(image: Mapping[str, Any] | None, view: View) -> Mapping[str, Any] | None:
    """The part of an incident's new image that ``view`` lets through."""
    if view is None or image is None:
        return image
    return {name: value for name, value in image.items() if name in view}
