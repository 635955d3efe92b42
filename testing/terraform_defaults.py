"""The settings Terraform sets on the functions with its variables' defaults, for handler and
fan-out tests that build a function's environment.

Terraform's variables own these values (variables.tf); this is a copy for tests only, and
``tests/unit/test_settings_from_terraform.py`` compares it with what ``terraform console``
evaluates from the root module, so it cannot drift alone.
"""

from __future__ import annotations

import json

# main.tf's broadcaster environment (fanout_workers.tf: var.fanout; var.role_views as JSON).
ROLE_VIEWS = json.dumps(
    {
        "dispatcher": {"attributes": [], "whole": True},
        "responder": {"attributes": [], "whole": True},
        "supervisor": {"attributes": [], "whole": True},
        "viewer": {
            "attributes": [
                "incidentId",
                "title",
                "status",
                "urgency",
                "type",
                "area",
                "createdAt",
                "updatedAt",
                "version",
            ],
            "whole": False,
        },
    },
    separators=(",", ":"),
)
FANOUT_DELIVERY = {"FANOUT_CONCURRENCY": "256"}
BROADCASTER = {
    **FANOUT_DELIVERY,
    "POST_MAX_ATTEMPTS": "4",
    "FANOUT_RATE": "1000",
    "FANOUT_WORKER_THRESHOLD": "10000",
    "FANOUT_MAX_WORKERS": "10",
    "ROLE_VIEWS": ROLE_VIEWS,
}
# main.tf's filter_environment (var.subscriptions as JSON): connect, disconnect, subscribe.
FILTERS = {
    "FILTER_FIELDS": '["area","urgency","type","status"]',
    "FILTER_LIMITS": '{"areas_max_bytes":4096,"max_bytes":2048,"values_per_field":20}',
    "DEFAULT_AREAS": '["*"]',
}
# main.tf's broadcaster environment carries filter_environment too: its audiences are grouped by
# effective filter, and a worker job carries the images cut to the filterable fields.
BROADCASTER = {**BROADCASTER, **FILTERS}
# authorizer.tf's share of var.subscriptions.
AUTHORIZER_AREAS = {
    "AREAS_CLAIM": "areas",
    "DEFAULT_AREAS": FILTERS["DEFAULT_AREAS"],
    "FILTER_LIMITS": FILTERS["FILTER_LIMITS"],
}
# main.tf's connection_environment (connect and disconnect), besides the table's name.
CONNECT = {
    "ALLOWED_ROLES": "dispatcher,responder,supervisor,viewer",
    "ALLOW_QUERY_IDENTITY": "false",
    "CONNECTION_TTL_SECONDS": "7200",
    **FILTERS,
}
# main.tf's state_environment (var.incident_state): the broadcaster and sync, besides the table.
INCIDENT_STATE = {
    "STATE_RETENTION_SECONDS": "86400",
    "CLOSED_STATUSES": '["closed","resolved"]',
}
NOTIFIER = {
    "ALERT_URGENCIES": "high,critical",
    "ESCALATION_STATUSES": "escalated",
    "IDEMPOTENCY_TTL_SECONDS": "172800",
}
