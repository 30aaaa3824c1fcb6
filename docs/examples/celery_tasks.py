"""A Celery task calling the Python API (the old service's main use).

Run a worker with ``celery -A docs.examples.celery_tasks worker`` and a broker in
``CELERY_BROKER_URL``. The tests run the task eagerly (``task_always_eager``).

Retries: mediagen already retries a transient backend or storage failure
inside the call (bounded); what still escapes as ``TransientError`` /
``TransientStorageError`` is handed to Celery's own retry with backoff. A
safety block or a bad request is final: the task returns it instead of
retrying. Retrying costs nothing twice: the original is cached in the bucket
the moment it is made, so a retry after a failed upload makes no backend call.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from mediagen import BlockedError, TransientError, TransientStorageError, get_client

app = Celery("mediagen_examples", broker=os.environ.get("CELERY_BROKER_URL", "memory://"))
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])


@app.task(
    bind=True,
    autoretry_for=(TransientError, TransientStorageError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def generate_goal_image(
    self: Any, goal_id: str, goal: str, size: str = "standard", theme: str | None = None
) -> dict[str, Any]:
    """Make the picture of a user's savings goal; returns where it was published."""
    try:
        published = get_client().generate_and_upload(
            f"A hopeful picture of saving for {goal}",
            size=size,
            theme=theme,
            format="webp",
            image_id=f"goal-{goal_id}",
            metadata={"goal-id": goal_id},
        )
    except BlockedError as exc:  # never retried: the same prompt would be refused again
        return {"status": "blocked", "goal_id": goal_id, "reason": exc.reason}
    return {"status": "ok", "goal_id": goal_id, **published.to_dict()}


@app.task
def delete_goal_image(url: str) -> bool:
    return get_client().delete_image(url)
