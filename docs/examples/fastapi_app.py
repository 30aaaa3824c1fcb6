"""FastAPI handlers calling the Python API.

``uvicorn docs.examples.fastapi_app:app``. Images are made with the async
methods (the client's bounded thread pool), so the event loop keeps serving
while Gemini works. Errors map to HTTP answers that say what to fix; big
batches are handed to a Prefect deployment (``deployment_trigger``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field

from docs.examples.deployment_trigger import trigger_batch
from mediagen import (
    BlockedError,
    ConfigurationError,
    MediaClient,
    MediagenError,
    SpecError,
    StorageError,
    TransientError,
    get_client,
)

app = FastAPI(title="mediagen example")
Client = Annotated[MediaClient, Depends(get_client)]  # override in tests


class ImageRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000)
    size: str = "standard"
    quality: str = "standard"
    theme: str | None = None
    format: str = "webp"
    image_id: str | None = None


class BatchRequest(BaseModel):
    spec: dict[str, Any]


@app.post("/images", status_code=201)
async def create_image(body: ImageRequest, client: Client) -> dict[str, Any]:
    try:
        published = await client.agenerate_and_upload(
            body.prompt,
            size=body.size,
            quality=body.quality,
            theme=body.theme,
            format=body.format,
            image_id=body.image_id,
        )
    except MediagenError as exc:
        raise _http_error(exc) from exc
    return published.to_dict()


@app.delete("/images")
async def delete_image(url: str, client: Client) -> dict[str, bool]:
    try:
        return {"deleted": await client.adelete_image(url)}
    except MediagenError as exc:
        raise _http_error(exc) from exc


@app.post("/batches", status_code=202)
def create_batch(body: BatchRequest) -> dict[str, str]:
    """Hours of work: validated here, run by a Prefect worker. (A sync handler:
    FastAPI runs it in its thread pool, and run_deployment is a blocking call.)"""
    try:
        return {"flow_run_id": trigger_batch(body.spec)}
    except SpecError as exc:
        raise _http_error(exc) from exc


def _http_error(exc: MediagenError) -> HTTPException:
    if isinstance(exc, SpecError):
        return HTTPException(422, detail=str(exc))
    if isinstance(exc, BlockedError):
        return HTTPException(422, detail=f"the image was refused: {exc.reason}; rephrase it")
    if isinstance(exc, TransientError):
        retry = str(int(exc.retry_after or 30))
        return HTTPException(503, detail=str(exc), headers={"Retry-After": retry})
    if isinstance(exc, StorageError):
        return HTTPException(502, detail=f"storage: {exc}")
    if isinstance(exc, ConfigurationError):
        return HTTPException(500, detail="image service not configured")  # details in logs
    return HTTPException(502, detail=str(exc))
