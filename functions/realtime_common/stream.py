"""DynamoDB stream records: validation and conversion of images to plain JSON.

Images are deserialised with boto3's own :class:`~boto3.dynamodb.types.TypeDeserializer`; the
only step done here is the wire format of binary values: in a Lambda stream event a ``B``/``BS``
value arrives as a base64 string, while the deserialiser expects the decoded bytes.
"""

from __future__ import annotations

import base64
import binascii
import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from boto3.dynamodb.types import Binary, TypeDeserializer

if TYPE_CHECKING:  # the stub packages are development dependencies, never in a zip
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})

JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]

_DESERIALIZER = TypeDeserializer()


class MalformedRecordError(ValueError):
    """A stream record that cannot be processed; it is reported failed, never dropped."""


class UnaddressableBatchError(ValueError):
    """A record without a sequence number: a partial batch response cannot name it.

    Raised for the whole invocation so Lambda retries (and, after its retries, dead-letters)
    the batch instead of our silently skipping a record.
    """


@dataclass(frozen=True)
class StreamRecord:
    """One validated stream record, images already converted to plain JSON."""

    event_id: str
    event_name: str
    sequence: str
    keys: dict[str, JSONValue]
    new_image: dict[str, JSONValue] | None
    old_image: dict[str, JSONValue] | None


def batch_records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The event's records, each guaranteed to carry a sequence number.

    Raises :class:`UnaddressableBatchError` when the event has no ``Records`` list or a record
    lacks ``dynamodb.SequenceNumber``.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise UnaddressableBatchError("event has no Records list")
    for index, record in enumerate(records):
        if not sequence_number(record):
            raise UnaddressableBatchError(f"record {index} has no dynamodb.SequenceNumber")
    return records


def sequence_number(raw: object) -> str | None:
    """``dynamodb.SequenceNumber`` of a raw record, or None when it is absent or not a string."""
    if not isinstance(raw, Mapping):
        return None
    body = raw.get("dynamodb")
    if not isinstance(body, Mapping):
        return None
    value = body.get("SequenceNumber")
    return value if isinstance(value, str) and value else None


def parse_record(raw: Mapping[str, Any]) -> StreamRecord:
    """Validate one raw stream record and convert its keys and images to plain JSON."""
    event_id = raw.get("eventID")
    event_name = raw.get("eventName")
    body = raw.get("dynamodb")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedRecordError("record has no eventID")
    if event_name not in EVENT_NAMES:
        raise MalformedRecordError(f"record has unknown eventName {event_name!r}")
    if not isinstance(body, Mapping):
        raise MalformedRecordError("record has no dynamodb section")
    sequence = sequence_number(raw)
    if sequence is None:
        raise MalformedRecordError("record has no dynamodb.SequenceNumber")
    keys = _image(body, "Keys")
    if not keys:
        raise MalformedRecordError("record has no dynamodb.Keys")
    new_image = _image(body, "NewImage")
    if event_name in {"INSERT", "MODIFY"} and new_image is None:
        raise MalformedRecordError(
            f"{event_name} record has no dynamodb.NewImage (the stream must include new images)"
        )
    return StreamRecord(
        event_id=event_id,
        event_name=event_name,
        sequence=sequence,
        keys=keys,
        new_image=new_image,
        old_image=_image(body, "OldImage"),
    )


def _image(body: Mapping[str, Any], field: str) -> dict[str, JSONValue] | None:
    image = body.get(field)
    if image is None:
        return None
    if not isinstance(image, Mapping):
        raise MalformedRecordError(f"dynamodb.{field} is not a map")
    try:
        return {name: to_plain(deserialize(value)) for name, value in image.items()}
    except (TypeError, ValueError, KeyError, AttributeError, decimal.DecimalException) as error:
        raise MalformedRecordError(f"dynamodb.{field} cannot be deserialised: {error}") from error


def deserialize(attribute_value: Mapping[str, Any]) -> Any:  # noqa: ANN401
    """One stream-event attribute value (``{"S": ...}``, ``{"B": "<base64>"}``...) to Python."""
    # _decode_binary checks the shape as far as it goes; the deserialiser raises on the rest.
    wire = cast("AttributeValueTypeDef", _decode_binary(attribute_value))
    return _DESERIALIZER.deserialize(wire)


def wire_value(attribute_value: object) -> AttributeValueTypeDef:
    """A stream-event attribute value as boto3's client takes it (``B``/``BS`` base64 text
    decoded to bytes, recursing into ``L``/``M``); raises ValueError on what is not one."""
    return cast("AttributeValueTypeDef", _decode_binary(attribute_value))


def _decode_binary(value: object) -> object:
    """Decode the base64 text a stream event uses for ``B``/``BS``, recursing into ``L``/``M``."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError(f"not a DynamoDB attribute value: {value!r:.80}")
    ((tag, inner),) = value.items()
    if tag == "B":
        return {"B": _b64(inner)}
    if tag == "BS":
        return {"BS": [_b64(item) for item in _as_list(inner)]}
    if tag == "L":
        return {"L": [_decode_binary(item) for item in _as_list(inner)]}
    if tag == "M":
        if not isinstance(inner, Mapping):
            raise ValueError("M value is not a map")
        return {"M": {key: _decode_binary(item) for key, item in inner.items()}}
    return value


def _as_list(value: object) -> Sequence[object]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def _b64(value: object) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str):
        raise ValueError(f"binary value is not base64 text: {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise ValueError(f"binary value is not valid base64: {error}") from error


# One return per DynamoDB type reads better than a dispatch table here.
def to_plain(value: object) -> JSONValue:  # noqa: PLR0911
    """Deserialised DynamoDB value -> JSON-ready value.

    Decimal -> int when integral, else float (DynamoDB keeps 38 significant digits, a float 15-17:
    clients needing exact decimals should store them as strings); sets -> sorted lists (stream
    images carry no set order, sorting keeps messages deterministic); Binary -> base64 text.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():  # the deserialiser turns a bad N value into NaN
            raise ValueError(f"number is not finite: {value}")
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, Binary):
        return base64.b64encode(_binary_bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):
        return [to_plain(item) for item in sorted(value, key=_set_sort_key)]
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, int | float):
        return value
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


def _set_sort_key(item: object) -> Any:  # noqa: ANN401
    # DynamoDB sets are homogeneous: all strings, all numbers or all binaries.
    if isinstance(item, Binary):
        return _binary_bytes(item)
    return item


def _binary_bytes(value: Binary) -> bytes:
    # Binary keeps its bytes in .value, which the boto3 stubs do not declare (their __bytes__
    # is declared to return str).
    data: bytes = value.value  # type: ignore[attr-defined]
    return data
