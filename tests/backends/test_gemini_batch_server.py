"""The local Batch API server, through the real google-genai SDK only.

Files upload (resumable), batches.create/get/list/cancel/delete, files.download,
state progression, JSONL results with per-line errors, and its counters.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from mediagen.testing import Fault
from mediagen.testing.batch_server import FakeBatchServer
from tests.support.gemini import TEST_KEY

MODEL = "gemini-3.1-flash-image"
POLL_BOUND_S = 30  # did-not-hang bound


def _client(server: FakeBatchServer, key: str = TEST_KEY) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=types.HttpOptions(base_url=server.base_url, api_version="v1beta")
    )


def _jsonl(prompts: list[str]) -> bytes:
    lines = [
        {"key": f"k{i}", "request": {
            "contents": [{"role": "user", "parts": [{"text": p}]}],
            "generationConfig": {"responseModalities": ["IMAGE"],
                                 "imageConfig": {"aspectRatio": "1:1"}}}}
        for i, p in enumerate(prompts)
    ]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _upload(client: genai.Client, data: bytes) -> types.File:
    return client.files.upload(
        file=io.BytesIO(data), config=types.UploadFileConfig(display_name="in", mime_type="jsonl")
    )


def _until_done(client: genai.Client, name: str) -> tuple[types.BatchJob, list[str]]:
    seen: list[str] = []
    deadline = time.monotonic() + POLL_BOUND_S
    while time.monotonic() < deadline:
        job = client.batches.get(name=name)
        state = job.state.name if job.state else ""
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_EXPIRED",
                     "JOB_STATE_CANCELLED"):  # fmt: skip
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {name} never ended: {seen}")


def test_upload_create_poll_download(batch_server: FakeBatchServer) -> None:
    batch_server.gemini.script(Fault.finish("IMAGE_SAFETY", "not this"), match="[[blocked]]")
    batch_server.gemini.script(Fault.error(400, "bad request line"), match="[[broken]]")
    client = _client(batch_server)
    data = _jsonl(["a coin", "[[blocked]] a coin", "[[broken]] a coin"])

    uploaded = _upload(client, data)
    assert uploaded.name and uploaded.name.startswith("files/")
    assert uploaded.size_bytes == len(data)
    job = client.batches.create(model=MODEL, src=uploaded.name, config={"display_name": "t1"})
    assert job.name and job.name.startswith("batches/")
    assert job.display_name == "t1" and job.model == f"models/{MODEL}"
    assert job.state == types.JobState.JOB_STATE_PENDING

    done, seen = _until_done(client, job.name)
    assert seen[0] == "JOB_STATE_PENDING" and seen[-1] == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None and done.dest.file_name
    lines = [json.loads(x) for x in client.files.download(file=done.dest.file_name).splitlines()]
    by_key = {line["key"]: line for line in lines}
    assert set(by_key) == {"k0", "k1", "k2"}
    image = by_key["k0"]["response"]["candidates"][0]["content"]["parts"][-1]["inlineData"]
    assert image["mimeType"] == "image/png" and len(image["data"]) > 100
    assert by_key["k0"]["response"]["usageMetadata"]["candidatesTokenCount"] > 0
    assert by_key["k1"]["response"]["candidates"][0]["finishReason"] == "IMAGE_SAFETY"
    assert by_key["k2"]["error"]["code"] == 400 and "response" not in by_key["k2"]
    assert batch_server.jobs_created == 1
    assert batch_server.lines_received == 3 and batch_server.lines_answered == 3
    assert batch_server.keys_received == {"k0": 1, "k1": 1, "k2": 1}
    assert batch_server.gemini.requests == []  # lines are not sync requests


def test_running_is_seen_between_pending_and_the_end() -> None:
    with FakeBatchServer(api_key=TEST_KEY, pending_s=0.2, running_s=0.4) as server:
        client = _client(server)
        job = client.batches.create(model=MODEL, src=_upload(client, _jsonl(["x"])).name)
        _, seen = _until_done(client, str(job.name))
    assert seen == ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]


@pytest.mark.parametrize("state", ["FAILED", "EXPIRED"])
def test_scripted_outcome(batch_server: FakeBatchServer, state: str) -> None:
    batch_server.script_outcome(state)
    client = _client(batch_server)
    first = client.batches.create(model=MODEL, src=_upload(client, _jsonl(["x"])).name)
    second = client.batches.create(model=MODEL, src=_upload(client, _jsonl(["y"])).name)
    ended, _ = _until_done(client, str(first.name))
    assert ended.state is not None and ended.state.name == f"JOB_STATE_{state}"
    assert ended.dest is None  # no responses file
    assert _until_done(client, str(second.name))[0].state == types.JobState.JOB_STATE_SUCCEEDED
    assert batch_server.lines_answered == 1


def test_cancel_list_delete(batch_server: FakeBatchServer) -> None:
    batch_server.pending_s = 60
    client = _client(batch_server)
    names = [
        str(client.batches.create(model=MODEL, src=_upload(client, _jsonl([p])).name).name)
        for p in ("a", "b", "c")
    ]
    listed = [job.name for job in client.batches.list(config={"page_size": 2})]
    assert listed == names  # paged through nextPageToken
    client.batches.cancel(name=names[0])
    assert client.batches.get(name=names[0]).state == types.JobState.JOB_STATE_CANCELLED
    assert client.batches.get(name=names[1]).state == types.JobState.JOB_STATE_PENDING
    client.batches.delete(name=names[2])
    with pytest.raises(genai_errors.ClientError) as caught:
        client.batches.get(name=names[2])
    assert caught.value.code == 404
    assert batch_server.lines_answered == 0  # a cancelled job answers nothing


def test_a_wrong_key_is_refused(batch_server: FakeBatchServer) -> None:
    client = _client(batch_server, key="wrong")
    with pytest.raises(genai_errors.ClientError) as caught:
        client.batches.list()
    assert caught.value.code == 401


def test_create_needs_an_uploaded_file(batch_server: FakeBatchServer) -> None:
    client = _client(batch_server)
    with pytest.raises(genai_errors.ClientError) as caught:
        client.batches.create(model=MODEL, src="files/nosuchfile")
    assert caught.value.code == 400
    assert batch_server.jobs_created == 0


def test_generate_content_passes_through(batch_server: FakeBatchServer) -> None:
    client = _client(batch_server)
    answer: Any = client.models.generate_content(
        model=MODEL, contents="a coin",
        config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
    )  # fmt: skip
    assert answer.candidates[0].content.parts[-1].inline_data.data[:4] == b"\x89PNG"
    assert len(batch_server.gemini.image_requests) == 1
