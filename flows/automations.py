"""Failure alerts: a Prefect automation that posts to a webhook when a run fails.

One command, run once per server (again to change the URL; it replaces its
own block and automation, nothing else)::

    python -m flows.automations https://hooks.example.com/...

It saves a "Custom Webhook" notification block ``mediagen-failure-webhook``
and the automation ``mediagen: generate-media failed``: whenever a flow run
of ``generate-media`` (any deployment, or ``mediagen run`` against the
server) enters Failed or Crashed, the server POSTs
``{"subject": ..., "text": ...}`` to the URL: the run, its state message
(e.g. "1 of 3 images published, 2 not") and its link in the UI.

The URL is kept as a secret of the block (webhook URLs carry their token), so
the UI shows ``{{url}}`` where the address would be. The server makes the
request: the URL must be reachable from the Prefect server, not from here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

FLOW_NAME = "generate-media"
BLOCK_NAME = "mediagen-failure-webhook"
AUTOMATION_NAME = f"mediagen: {FLOW_NAME} failed"
FAILED_STATES = ("Failed", "Crashed")

SUBJECT = "mediagen: {{ flow_run.name }} {{ flow_run.state.name }}"
BODY = (
    "Flow run {{ flow.name }}/{{ flow_run.name }} entered {{ flow_run.state.name }}"
    "{% if flow_run.state.message %}: {{ flow_run.state.message }}{% endif %}\n"
    "{{ flow_run|ui_url }}"
)


@dataclass(frozen=True)
class Alerts:
    block_document_id: UUID
    automation_id: UUID


def failure_automation(block_document_id: UUID):  # type: ignore[no-untyped-def]
    """The automation: Failed or Crashed runs of ``generate-media`` → the webhook block."""
    from prefect.automations import AutomationCore, EventTrigger, Posture, SendNotification

    return AutomationCore(
        name=AUTOMATION_NAME,
        description=(
            f"Posts to the webhook block {BLOCK_NAME!r} when a run of {FLOW_NAME} fails or "
            "crashes (made by `python -m flows.automations URL`)."
        ),
        trigger=EventTrigger(
            expect={f"prefect.flow-run.{state}" for state in FAILED_STATES},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAME},
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[SendNotification(block_document_id=block_document_id, subject=SUBJECT, body=BODY)],
    )


def install_alerts(webhook_url: str) -> Alerts:
    """Save the webhook block and (re)create the automation on the current Prefect server."""
    from prefect import get_client
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(
        name=BLOCK_NAME,
        url="{{url}}",
        secrets={"url": webhook_url},  # type: ignore[arg-type]  # pydantic coerces it
        method="POST",
        json_data={"subject": "{{subject}}", "text": "{{body}}"},
    )
    block_document_id = block.save(BLOCK_NAME, overwrite=True)
    with get_client(sync_client=True) as client:
        for old in client.read_automations_by_name(AUTOMATION_NAME):
            client.delete_automation(old.id)
        automation_id = client.create_automation(failure_automation(block_document_id))
    return Alerts(block_document_id, automation_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.automations",
        description=f"Alert a webhook when a run of {FLOW_NAME} fails or crashes.",
    )
    parser.add_argument("webhook_url", help="where the Prefect server POSTs the alert")
    args = parser.parse_args(argv)
    from flows.submit import api_url
    from mediagen.errors import ConfigurationError

    try:
        server = api_url()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    alerts = install_alerts(args.webhook_url)
    print(f"automation {AUTOMATION_NAME!r} ({alerts.automation_id}) on {server}")
    print(f"notification block {BLOCK_NAME!r} ({alerts.block_document_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
