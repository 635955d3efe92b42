"""What a person does with the running stack: listen, write incidents, read alerts, invoke."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tools.localenv import clients, tokens
from tools.localenv import listen as listen_
from tools.localenv.resources import INCIDENTS_KEY
from tools.localenv.state import StackState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef
    from mypy_boto3_sqs import SQSClient

URGENCIES = ("low", "medium", "high", "critical")


class CommandError(RuntimeError):
    """A command the stack cannot carry out as asked; the message says what to write instead."""


def token(
    state: StackState,
    user: str,
    role: str,
    ttl_s: int = tokens.DEFAULT_TTL_S,
    *,
    now: float | None = None,
    areas: Sequence[str] | None = None,
) -> str:
    """A JWT the running stack's ``$connect`` authorizer accepts for ``user`` in ``role``
    (with ``areas`` in its areas claim; None: no claim)."""
    issuer = tokens.Issuer.from_state(state.authorizer)
    if issuer is None:
        raise CommandError(
            "the local stack runs without the $connect authorizer (authorizer.enabled = false in "
            "envs/local.tfvars), so it takes no tokens: connect with ?userId=...&role=... instead"
        )
    secret = tokens.read_secret(clients.ssm(state.endpoint), issuer.secret_parameter)
    try:
        return tokens.mint(
            issuer,
            secret,
            user,
            role,
            now=time.time() if now is None else now,
            ttl_s=ttl_s,
            areas=areas,
        )
    except tokens.TokenError as exc:
        raise CommandError(str(exc)) from None


def identity(
    state: StackState,
    user: str,
    role: str,
    ttl_s: int = tokens.DEFAULT_TTL_S,
    areas: Sequence[str] | None = None,
) -> tuple[str, str | None]:
    """How a client connects as ``user`` in ``role``: the WebSocket URL and a token for it.

    With the authorizer (the default) the URL is the stage's and the token travels as ``token=``;
    without it (authorizer off in envs/local.tfvars) the identity is in the URL, and no token
    (nor areas: without a token every connection gets the stack's default areas).
    """
    if not state.authorizer:
        if areas is not None:
            raise CommandError(
                "AREAS needs the $connect authorizer (the areas travel in the token), and the "
                "local stack runs without it (authorizer.enabled = false in envs/local.tfvars)"
            )
        return f"{state.ws_url}?{urlencode({'userId': user, 'role': role})}", None
    return state.ws_url, token(state, user, role, ttl_s, areas=areas)


def connect_url(
    state: StackState,
    user: str,
    role: str,
    *,
    areas: Sequence[str] | None = None,
    subscription: Mapping[str, list[str]] | None = None,
) -> str:
    """The WebSocket URL a client connects with: ``?token=<jwt>`` (or the local query identity),
    and the filter as ``filter=<JSON>`` (subscribed from the first message on)."""
    url, jwt = identity(state, user, role, areas=areas)
    url = with_token(url, jwt)
    if subscription is None:
        return url
    encoded = urlencode({listen_.FILTER_PARAM: json.dumps(subscription, separators=(",", ":"))})
    return f"{url}{'&' if '?' in url else '?'}{encoded}"


def parse_areas(text: str) -> list[str] | None:
    """``AREAS=north,harbour``: the area patterns for a token's claim; None when blank."""
    areas = [item.strip() for item in text.split(",") if item.strip()]
    return areas or None


def parse_filter(text: str) -> dict[str, list[str]] | None:
    """``FILTER='{"area":["north"]}'``: a subscription filter (field -> list of values); None
    when blank. Only the shape is checked here: the stack judges fields and limits."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise CommandError(
            f"FILTER={text!r} is not JSON: write an object of field -> list of values, like "
            'FILTER=\'{"area":["north"],"urgency":["high","critical"]}\''
        ) from None
    if not isinstance(value, dict) or not all(
        isinstance(values, list) and all(isinstance(v, str) for v in values)
        for values in value.values()
    ):
        raise CommandError(
            f"FILTER={text!r} must be an object of field -> list of strings, like "
            'FILTER=\'{"area":["north"]}\''
        )
    return value


def with_token(url: str, jwt: str | None) -> str:
    """``url`` with ``token=<jwt>`` in its query string (None: ``url`` unchanged)."""
    if jwt is None:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode({'token': jwt})}"


async def listen(url: str, label: str, subscription: Mapping[str, list[str]] | None = None) -> int:
    """Print what the WebSocket at ``url`` receives, syncing on every open and reconnecting after
    a drop (``tools.localenv.listen``); an exit status (1: the handshake was refused)."""
    import websockets  # noqa: PLC0415 - only the listener needs it
    from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: PLC0415

    @contextlib.asynccontextmanager
    async def connect(target: str) -> AsyncIterator[Any]:
        try:
            async with websockets.connect(target, open_timeout=30) as ws:
                yield ws
        except InvalidStatus as exc:
            print(
                f"connection refused (HTTP {exc.response.status_code}): $connect did not accept "
                f"{label}; check the role against the allowed roles and that the token is still "
                "valid (docs/troubleshooting.md)",
                file=sys.stderr,
            )
            raise listen_.Refused from None

    listener = listen_.Listener(
        url,
        label,
        connect=connect,
        out=lambda line: print(line, flush=True),
        is_closed_error=lambda exc: isinstance(exc, ConnectionClosed | OSError | TimeoutError),
        subscription=dict(subscription) if subscription is not None else None,
    )
    return await listener.run()


def set_incident_fields(
    ddb: DynamoDBClient, table: str, incident_id: str, values: Mapping[str, Any]
) -> dict[str, AttributeValueTypeDef]:
    """UpdateItem setting only ``values`` (the stream carries old and new images); the new item."""
    from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

    ser = TypeSerializer()
    return dict(
        ddb.update_item(
            TableName=table,
            Key={INCIDENTS_KEY: {"S": incident_id}},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(values)},
            ExpressionAttributeValues={
                f":v{i}": ser.serialize(v) for i, v in enumerate(values.values())
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    )


def incident_update(
    state: StackState, incident_id: str, fields: Mapping[str, str | None]
) -> dict[str, Any]:
    """Create or update one incident (only the given fields change); returns the new item."""
    from boto3.dynamodb.types import TypeDeserializer  # noqa: PLC0415

    values = {k: v for k, v in fields.items() if v}
    values["updatedAt"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    ddb = clients.dynamodb(state.endpoint)
    item = set_incident_fields(ddb, state.incidents_table, incident_id, values)
    de = TypeDeserializer()
    return {k: de.deserialize(v) for k, v in item.items()}


def read_alerts(sqs: SQSClient, queue_url: str, wait_s: float) -> Iterator[dict[str, Any]]:
    """Receive and delete the alerts in the queue, waiting up to ``wait_s`` for the first one."""
    deadline = time.monotonic() + wait_s
    seen_any = False
    while True:
        remaining = deadline - time.monotonic()
        poll = 0 if seen_any else max(0, min(20, int(remaining)))
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=poll,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            seen_any = True
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            envelope: dict[str, Any] = json.loads(message["Body"])
            yield envelope
        if not batch and (seen_any or time.monotonic() >= deadline):
            return


def format_alert(envelope: Mapping[str, Any]) -> str:
    """An SNS envelope as `make alerts` shows it: time and subject, attributes, JSON body."""
    attributes = {
        name: attr.get("Value") for name, attr in (envelope.get("MessageAttributes") or {}).items()
    }
    try:
        body = json.dumps(json.loads(envelope.get("Message", "")), indent=2, sort_keys=True)
    except ValueError:
        body = str(envelope.get("Message"))
    return (
        f"--- {envelope.get('Timestamp')}  {envelope.get('Subject') or '(no subject)'}\n"
        f"attributes: {json.dumps(attributes, sort_keys=True)}\n{body}"
    )


def resolve_function(state: StackState, name: str) -> str:
    """A deployed function's name from its role (``notifier``) or its own name."""
    functions: dict[str, str] = state.outputs.get("function_names") or {}
    if name in functions:
        return functions[name]
    if name in functions.values():
        return name
    known = ", ".join(f"{k} ({v})" for k, v in sorted(functions.items()))
    raise CommandError(f"unknown function {name!r}; use one of: {known}")


def invoke(state: StackState, function: str, event: object) -> tuple[dict[str, Any], str]:
    """Invoke a deployed function with an event; returns (response fields, log tail)."""
    lam = clients.lambda_(state.endpoint, read_timeout=120)
    resp = lam.invoke(
        FunctionName=resolve_function(state, function),
        Payload=json.dumps(event).encode(),
        LogType="Tail",
    )
    payload_raw = resp["Payload"].read()
    payload: object
    try:
        payload = json.loads(payload_raw) if payload_raw else None
    except ValueError:
        payload = payload_raw.decode(errors="replace")
    logs = base64.b64decode(resp.get("LogResult", "")).decode(errors="replace")
    result: dict[str, Any] = {"StatusCode": resp.get("StatusCode"), "Payload": payload}
    if resp.get("FunctionError"):
        result["FunctionError"] = resp["FunctionError"]
    return result, logs
