"""The subscription filter model: settings, areas claims, requested filters, the intersection,
matching, and a property test of matching against a plain reference."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_common import filters
from realtime_common.config import ConfigError
from realtime_common.filters import (
    ClaimError,
    Effective,
    Filter,
    FilterError,
    FilterLimits,
    FilterSettings,
    Permission,
)

pytestmark = pytest.mark.unit

LIMITS = FilterLimits(values_per_field=3, max_bytes=200, areas_max_bytes=120)
SETTINGS = FilterSettings(frozenset({"area", "urgency", "type", "status"}), LIMITS)
EVERYTHING = Permission.of(["*"])
NOTHING = Permission.of([])


def claim(value: object, default: Permission = EVERYTHING) -> Permission:
    return filters.parse_areas_claim(value, default=default, max_bytes=LIMITS.areas_max_bytes)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------
ENV = {
    "FILTER_FIELDS": '["area", "urgency"]',
    "FILTER_LIMITS": '{"values_per_field": 20, "max_bytes": 2048, "areas_max_bytes": 4096}',
    "DEFAULT_AREAS": '["*"]',
}


def test_settings_from_env() -> None:
    read = FilterSettings.from_env(ENV)
    assert read.fields == {"area", "urgency"}
    assert read.limits == FilterLimits(20, 2048, 4096)
    assert filters.default_areas(ENV).everything
    assert filters.default_areas({"DEFAULT_AREAS": "[]"}) == NOTHING


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FILTER_FIELDS", "area", "is not JSON"),
        ("FILTER_FIELDS", "[]", "FILTER_FIELDS must be"),
        ("FILTER_FIELDS", '["area", 3]', "FILTER_FIELDS must be"),
        ("FILTER_LIMITS", '{"values_per_field": 20}', "FILTER_LIMITS must be"),
        ("FILTER_LIMITS", '{"values_per_field": 0, "max_bytes": 1, "areas_max_bytes": 1}', "must"),
        (
            "FILTER_LIMITS",
            '{"values_per_field": true, "max_bytes": 1, "areas_max_bytes": 1}',
            "must",
        ),
        ("DEFAULT_AREAS", '"*"', "DEFAULT_AREAS"),
        ("DEFAULT_AREAS", '["no*rth"]', "malformed"),
    ],
)
def test_settings_refused_name_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        FilterSettings.from_env({**ENV, name: value})
        filters.default_areas({**ENV, name: value})


def test_missing_settings_are_required() -> None:
    with pytest.raises(ConfigError, match="FILTER_FIELDS is required"):
        FilterSettings.from_env({})
    with pytest.raises(ConfigError, match="DEFAULT_AREAS is required"):
        filters.default_areas({})


# --------------------------------------------------------------------------------------------
# Areas claim
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        (["north", "harbour"], ("harbour", "north")),
        ("north,harbour", ("harbour", "north")),
        (" north , harbour ,", ("harbour", "north")),
        ('["north", "harbour"]', ("harbour", "north")),
        ("*", ("*",)),
        (["north", "*"], ("*",)),
        (["north/*", "north", "north/east", "north/east/*"], ("north/*",)),
        (["north/*", "northern"], ("north/*", "northern")),
        ("", ()),
        ([], ()),
    ],
)
def test_claim_list_string_and_patterns(value: object, patterns: tuple[str, ...]) -> None:
    assert claim(value).patterns == patterns


def test_missing_claim_gets_the_default() -> None:
    assert claim(None, default=NOTHING) == NOTHING
    assert claim(None, default=EVERYTHING) == EVERYTHING
    assert claim("", default=EVERYTHING) == NOTHING  # present but empty is not missing


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (42, "is a int"),
        ({"north": True}, "is a dict"),
        (["north", 3], "other than strings"),
        ([""], "empty"),
        ([" north"], "surrounding spaces"),
        ("no*rth", "malformed"),
        ("north/*/east", "malformed"),
        ("/*", "malformed"),
        ("**", "malformed"),
        ('["north"', "not a JSON list"),
    ],
)
def test_malformed_claims_are_refused(value: object, says: str) -> None:
    with pytest.raises(ClaimError, match=says):
        claim(value)


def test_oversize_claim_is_refused_by_its_canonical_size() -> None:
    many = [f"area-{number:03}" for number in range(20)]
    with pytest.raises(ClaimError, match=r"over the limit of 120"):
        claim(many)
    # Duplicates and covered patterns do not count: the canonical list is what travels.
    assert claim(["north/*"] + [f"north/{n}" for n in range(50)]).patterns == ("north/*",)


@pytest.mark.parametrize(
    ("patterns", "area", "allowed"),
    [
        (["*"], None, True),
        (["*"], "anything", True),
        (["north"], "north", True),
        (["north"], "north/east", False),
        (["north/*"], "north", True),
        (["north/*"], "north/east", True),
        (["north/*"], "northern", False),
        (["north/*"], None, False),
        ([], "north", False),
        (["harbour", "north/*"], "harbour", True),
    ],
)
def test_permission_allows(patterns: list[str], area: str | None, allowed: bool) -> None:
    assert Permission.of(patterns).allows(area) is allowed


def test_permission_round_trips_as_canonical_json() -> None:
    permission = claim("north/*,harbour")
    assert permission.to_json() == '["harbour","north/*"]'
    assert Permission.from_json(permission.to_json()) == permission
    with pytest.raises(ClaimError):
        Permission.from_json('{"north": 1}')


# --------------------------------------------------------------------------------------------
# Requested filters
# --------------------------------------------------------------------------------------------
def test_filter_parses_to_canonical_form() -> None:
    parsed = filters.parse_filter(
        {"urgency": ["high", "critical", "high"], "area": ["north"]}, SETTINGS
    )
    assert parsed.as_dict() == {"area": ["north"], "urgency": ["critical", "high"]}
    assert parsed.to_json() == '{"area":["north"],"urgency":["critical","high"]}'
    assert Filter.from_json(parsed.to_json()) == parsed
    assert filters.parse_filter({}, SETTINGS) == Filter()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (["area"], "must be a JSON object"),
        ("north", "must be a JSON object"),
        (
            {"colour": ["red"]},
            r"'colour' is not filterable \(allowed: area, status, type, urgency\)",
        ),
        ({"area": "north"}, "filter.area must be a list of strings"),
        ({"urgency": [1]}, "filter.urgency must be a list of strings"),
        ({"type": []}, "filter.type is empty"),
        ({"area": ["north/*"]}, "exact areas, not patterns"),
        ({"area": ["a", "b", "c", "d"]}, "4 values, over the limit of 3"),
        ({"area": ["x" * 100, "y" * 100]}, "bytes as JSON, over the limit of 200"),
    ],
)
def test_bad_filters_are_refused_with_a_clear_message(value: object, says: str) -> None:
    with pytest.raises(FilterError, match=says):
        filters.parse_filter(value, SETTINGS)


def test_duplicate_values_count_once_against_the_limit() -> None:
    assert filters.parse_filter({"area": ["a", "b", "c", "a", "a"]}, SETTINGS).get("area") == (
        "a",
        "b",
        "c",
    )


def test_filter_text_from_the_query_parameter() -> None:
    assert filters.parse_filter_text('{"area":["north"]}', SETTINGS).get("area") == ("north",)
    with pytest.raises(FilterError, match="not JSON"):
        filters.parse_filter_text("area=north", SETTINGS)
    with pytest.raises(FilterError, match="over the limit"):
        filters.parse_filter_text(" " * 1000, SETTINGS)


# --------------------------------------------------------------------------------------------
# Intersection and matching
# --------------------------------------------------------------------------------------------
def test_asking_within_the_permission_is_not_narrowed() -> None:
    asked = Filter.of({"area": ["north/east"], "urgency": ["high"]})
    result = filters.effective(asked, claim("north/*"))
    assert result.filter == asked
    assert result.narrowed is False


def test_asking_for_more_is_narrowed_and_reported() -> None:
    asked = Filter.of({"area": ["north", "harbour"], "urgency": ["high"]})
    result = filters.effective(asked, claim("north"))
    assert result.filter.as_dict() == {"area": ["north"], "urgency": ["high"]}
    assert result.narrowed is True
    assert result.subscribed_message() == {
        "version": 1,
        "type": "subscribed",
        "filter": {"area": ["north"], "urgency": ["high"]},
        "narrowed": True,
        "areas": ["north"],
    }


def test_asking_only_for_forbidden_areas_narrows_to_nothing() -> None:
    result = filters.effective(Filter.of({"area": ["harbour"]}), claim("north"))
    assert result.narrowed is True
    assert result.filter.as_dict() == {"area": []}
    assert not filters.matches(result, {"area": "harbour"})
    assert not filters.matches(result, {"area": "north"})


def test_empty_filter_means_everything_the_token_allows() -> None:
    result = filters.effective(Filter(), claim("north/*"))
    assert result.narrowed is False
    assert filters.matches(result, {"area": "north/east", "urgency": "low"})
    assert not filters.matches(result, {"area": "harbour"})
    assert not filters.matches(result, {"urgency": "low"})  # no area: only "*" sees it
    assert filters.matches(filters.effective(Filter(), EVERYTHING), {"urgency": "low"})
    assert not filters.matches(filters.effective(Filter(), NOTHING), {"area": "north"})


def test_matching_compares_exact_values_and_whole_numbers() -> None:
    result = filters.effective(Filter.of({"urgency": ["3", "high"]}), EVERYTHING)
    assert filters.matches(result, {"urgency": "high"})
    assert filters.matches(result, {"urgency": Decimal("3")})
    assert filters.matches(result, {"urgency": 3})
    assert not filters.matches(result, {"urgency": "High"})
    assert not filters.matches(result, {"urgency": Decimal("3.5")})
    assert not filters.matches(result, {"urgency": True})
    assert not filters.matches(result, {"urgency": ["high"]})
    assert not filters.matches(result, {})


def test_equal_effective_filters_group_together() -> None:
    one = filters.effective(Filter.of({"area": ["north", "harbour"]}), claim("north"))
    two = filters.effective(Filter.of({"area": ["north"]}), claim(["north", "north"]))
    assert one == two and hash(one) == hash(two) and one.key == two.key
    assert one.narrowed != two.narrowed  # reported, but not part of the group
    assert one.key != filters.effective(Filter(), claim("north")).key
    assert json.loads(one.key) == {"areas": ["north"], "filter": {"area": ["north"]}}


def test_stored_row_values_read_back() -> None:
    written = filters.effective(Filter.of({"area": ["north"], "type": ["fire"]}), claim("north/*"))
    read = filters.stored_effective(written.areas.to_json(), written.filter.to_json(), NOTHING)
    assert read == written
    assert filters.stored_effective(None, None, NOTHING) == Effective(Filter(), NOTHING)
    assert filters.stored_effective('["north"]', None, NOTHING).areas == claim("north")
    with pytest.raises(FilterError):
        filters.stored_effective(None, '{"area": "north"}', NOTHING)
    with pytest.raises(ClaimError):
        filters.stored_effective("north", None, NOTHING)


# --------------------------------------------------------------------------------------------
# Property: effective + matches equals a plain reference
# --------------------------------------------------------------------------------------------
AREAS = ["north", "north/east", "north/east/x", "northern", "harbour", "harbour/dock", "south"]
FIELDS = {"urgency": ["low", "high", "critical"], "type": ["fire", "flood"]}


def reference_visible(patterns: list[str], area: str | None) -> bool:
    for pattern in patterns:
        if pattern == "*":
            return True
        if area is None:
            continue
        if pattern.endswith("/*"):
            stem = pattern[:-2]
            if area == stem or area[: len(stem) + 1] == stem + "/":
                return True
        elif pattern == area:
            return True
    return False


def reference_receives(
    asked: dict[str, list[str]], patterns: list[str], image: dict[str, Any]
) -> bool:
    if not reference_visible(patterns, image.get("area")):
        return False
    return all(image.get(name) in values for name, values in asked.items())


patterns_strategy = st.lists(
    st.sampled_from(["*", *AREAS, *(area + "/*" for area in AREAS)]), max_size=4
)
asked_strategy = st.fixed_dictionaries(
    {},
    optional={
        "area": st.lists(st.sampled_from(AREAS), min_size=1, max_size=3),
        **{
            name: st.lists(st.sampled_from(v), min_size=1, max_size=2) for name, v in FIELDS.items()
        },
    },
)
image_strategy = st.fixed_dictionaries(
    {},
    optional={
        "area": st.sampled_from(AREAS),
        **{name: st.sampled_from(v) for name, v in FIELDS.items()},
    },
)


@settings(max_examples=400, deadline=None)
@given(asked=asked_strategy, patterns=patterns_strategy, image=image_strategy)
def test_matching_equals_a_plain_reference(
    asked: dict[str, list[str]], patterns: list[str], image: dict[str, Any]
) -> None:
    permission = Permission.of(patterns)
    result = filters.effective(filters.parse_filter(asked, SETTINGS), permission)
    assert filters.matches(result, image) is reference_receives(asked, patterns, image)
    # Narrowed exactly when some asked area is not visible under the permission.
    asked_areas = asked.get("area", [])
    assert result.narrowed is any(not reference_visible(patterns, a) for a in asked_areas)
    # The stored form reads back to the same group.
    stored = filters.stored_effective(result.areas.to_json(), result.filter.to_json(), NOTHING)
    assert stored == result and stored.key == result.key
