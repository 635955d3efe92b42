"""The browser client and the server name an incident the same way.

``{"action": "sync", "incidents": [...]}`` sends the ids clients/js computes from a message's
``keys`` (``incidentId``); the state table and the sync route key incidents by
``realtime_common.state.incident_id``. This runs the JavaScript (Node, as `make test-js` does) on
the keys of messages as the Broadcaster serialises them and compares.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from realtime_common.state import incident_id

pytestmark = pytest.mark.unit

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "js" / "realtime-client.js"

KEYS = [
    {"incidentId": "INC-2026-0042"},
    {"pk": "INCIDENT#7", "sk": "META"},
    {"sk": "META", "pk": "INCIDENT#7"},  # attribute order of the message does not matter
    {"tenant": "north", "seq": 12345678901234},  # a number key, as the message carries it
    {"n": 7},
    {"n": 1.5},
    {"n": 1e21},  # integral, past what JavaScript prints without an exponent
    {"blob": "AAEC"},  # a binary key: base64 text in the message
    {"id": "a|b"},
]


def test_the_javascript_client_computes_the_servers_incident_ids() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: the browser client's tests need Node 20+ (make test-js)")
    script = (
        f"import({json.dumps(CLIENT.as_uri())}).then(({{ incidentId }}) => console.log("
        "JSON.stringify(JSON.parse(process.argv[1]).map((keys) => incidentId({ keys })))))"
    )
    out = subprocess.run(  # noqa: S603 - node on our own module, fixed arguments
        [node, "--input-type=module", "-e", script, json.dumps(KEYS)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == [incident_id(keys) for keys in KEYS]
