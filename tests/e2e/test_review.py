"""``pick: review`` on a real `prefect server`: the run pauses, a person answers through the API.

A `mediagen run` reporting to the session's server (tests/support/prefect_server.py)
makes two candidates per image on the local Gemini server (through the real SDK),
publishes the review page as a markdown artifact and pauses with a typed form.
The test answers as the UI's Resume form does (``run_input`` through the API):
approve one image, reject one with a note, skip one. The run regenerates the
rejected image with the note (the prompts the Gemini server received say so),
pauses again for it, is answered, and publishes; the manifest (read back from
S3) records the decisions. Chromium opens the artifact in the Prefect UI and
takes a screenshot (kept in the test's tmp dir).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from PIL import Image

from mediagen.testing import FakeGeminiServer
from mediagen.testing.s3 import S3TestServer
from tests.support.browser import dump_dom, screenshot
from tests.support.gemini import TEST_KEY
from tests.support.interrupted_run import HANG_S, env_for, finish
from tests.support.paths import REPO
from tests.support.prefect_server import E2E_BUCKET, Server, stop

pytestmark = pytest.mark.timeout(900)  # a server, two pauses and Chromium, on 2 loaded cores

NOTE_HEAD = "Reviewer note: "  # how mediagen.engine.candidates.with_note adds a note
NOTE = "make the jar teal, no text"
IMAGES = [
    {"id": "jar", "prompt": "a glass jar of coins"},
    {"id": "pig", "prompt": "a piggy bank"},
    {"id": "wallet", "prompt": "a leather wallet"},
]


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        yield server


def review_spec(endpoint: str) -> dict[str, Any]:
    return {
        "name": "e2e-review",
        "backend": "gemini",
        # Private: the reviewer sees the candidates through presigned URLs.
        "storage": {"provider": "s3", "bucket": E2E_BUCKET, "endpoint_url": endpoint,
                    "region": "us-east-1", "public": False},
        "defaults": {"size": "thumbnail", "formats": ["webp"], "candidates": 2,
                     "pick": "review", "brand_colors": ["#0A7B83 teal"]},
        "images": IMAGES,
    }  # fmt: skip


def paused_run(server: Server, proc: subprocess.Popen[str], key: str) -> Any:
    """The run once it is paused with the pause ``key`` (review-1, review-2...)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    for _ in range(int(HANG_S / 0.5)):  # polls half a second apart: a did-not-hang bound
        with server.client() as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["e2e-review"]))
            )
        for run in runs:
            state = run.state
            if state is not None and state.is_paused() and state.state_details.pause_key == key:
                return run
        if proc.poll() is not None:
            pytest.fail(f"mediagen exited before pausing ({key}): {proc.communicate()}")
        time.sleep(0.5)
    pytest.fail(f"the run did not pause ({key})")


def form_schema(server: Server, run: Any) -> dict[str, Any]:
    """The typed form the UI renders for the paused run (its saved RunInput schema)."""
    keyset = run.state.state_details.run_input_keyset
    with server.client() as client:
        return json.loads(client.read_flow_run_input(run.id, keyset["schema"]))


def resume(server: Server, run_id: UUID, run_input: dict[str, Any]) -> None:
    """What the UI's Resume button sends: the form's values as ``run_input``."""
    with server.client() as client:
        response = client.resume_flow_run(run_id, run_input=run_input)
    assert response.status.value == "ACCEPT", response


def pixels_near(shot: Path, target: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels of the screenshot within ``tolerance`` (per channel) of ``target``."""
    with Image.open(shot) as picture:
        rgb = picture.convert("RGB")
        return sum(
            count
            for count, pixel in rgb.getcolors(rgb.width * rgb.height) or []
            if max(abs(a - b) for a, b in zip(pixel, target, strict=True)) <= tolerance
        )


def review_artifact(server: Server, run_id: UUID) -> Any:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with server.client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return [a for a in found if a.key == "review-e2e-review"]


def test_a_review_run_pauses_takes_decisions_through_the_api_and_publishes(
    prefect_api: Server, e2e_s3: S3TestServer, gemini: FakeGeminiServer, tmp_path: Path
) -> None:
    spec = review_spec(e2e_s3.endpoint_url)
    (tmp_path / "review.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    env = env_for(tmp_path, gemini) | {
        "PREFECT_API_URL": prefect_api.api_url,
        "AWS_ACCESS_KEY_ID": "review-key",
        "AWS_SECRET_ACCESS_KEY": "review-secret-5d1c",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MEDIAGEN_STORAGE_RETRY_BASE_DELAY": "0.01",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediagen.cli.app", "run", "review.yaml"],
        cwd=tmp_path, env=env | {"PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        run = paused_run(prefect_api, proc, "review-1")
        assert len(gemini.image_requests) == 3 * 2  # every candidate first, then the pause

        schema = form_schema(prefect_api, run)
        assert {"jar", "pig", "wallet", "reviewer"} <= set(schema["properties"])
        (artifact,) = review_artifact(prefect_api, run.id)
        assert artifact.type == "markdown" and "X-Amz-Signature=" in artifact.data
        shot = tmp_path / "review-artifact.png"
        page = f"{prefect_api.ui_url}/artifacts/artifact/{artifact.id}"
        screenshot(page, shot, width=1280, height=1400)
        dom = dump_dom(page)

        resume(prefect_api, run.id, {
            "reviewer": "ana",
            "jar": {"action": "approve", "candidate": 1, "note": ""},
            "pig": {"action": "reject", "candidate": 0, "note": NOTE},
            "wallet": {"action": "skip", "candidate": 0, "note": ""},
        })  # fmt: skip
        run = paused_run(prefect_api, proc, "review-2")  # the regenerated pig, shown again
        noted = [r.prompt for r in gemini.image_requests if NOTE_HEAD + NOTE in r.prompt]
        assert len(noted) == 2 and all("piggy bank" in p for p in noted)
        assert set(form_schema(prefect_api, run)["properties"]) == {"pig", "reviewer"}
        again = {"reviewer": "bo", "pig": {"action": "approve", "candidate": 0, "note": ""}}
        resume(prefect_api, run.id, again)
        code, out, err = finish(proc)
    finally:
        stop(proc)
    assert code == 1, out + err  # one image not published (skipped): exit 1, as for any
    assert "Traceback" not in err, err
    assert len(gemini.image_requests) == 3 * 2 + 2  # the note's two candidates, nothing more

    s3 = e2e_s3.client()
    body = s3.get_object(Bucket=E2E_BUCKET, Key="e2e-review/manifest.json")["Body"].read()
    images = json.loads(body)["images"]
    assert {i: e["status"] for i, e in images.items()} == {
        "jar": "ok", "pig": "ok", "wallet": "skipped"}  # fmt: skip
    jar, pig, wallet = images["jar"]["review"], images["pig"]["review"], images["wallet"]["review"]
    assert (jar["action"], jar["candidate"], jar["reviewer"], jar["via"]) == (
        "approve", 1, "ana", "prefect")  # fmt: skip
    assert (images["jar"]["pick"]["chosen"], images["jar"]["pick"]["by"]) == (1, "ana")
    assert images["jar"]["pick"]["gen_key"] == images["jar"]["gen_key"]
    assert (pig["action"], pig["reviewer"], pig["notes"]) == ("approve", "bo", [NOTE])
    assert pig["rejections"][0]["note"] == NOTE and pig["rejections"][0]["reviewer"] == "ana"
    assert images["pig"]["prompt"].endswith(NOTE_HEAD + NOTE)
    assert (wallet["action"], wallet["reviewer"]) == ("skip", "ana")
    listed = s3.list_objects_v2(Bucket=E2E_BUCKET, Prefix="e2e-review/")
    published = {o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".webp")}
    assert published == {images["jar"]["key"], images["pig"]["key"]}  # no unchosen, no skip

    # The review page in the Prefect UI: each candidate's thumbnail, from its presigned URL.
    print(f"\nreview artifact screenshot: {shot}")
    thumbs = re.findall(r'<img src="([^"]+)" width="192"', dom)
    assert len(thumbs) == 3 * 2, dom[-3000:]
    assert all(t.startswith(e2e_s3.endpoint_url) and "X-Amz-Signature=" in t for t in thumbs)
    assert "Review: e2e-review" in dom
    # The thumbnails are drawn: the screenshot holds the candidates' own colours.
    key = images["jar"]["original_key"]  # the approved candidate, shown on the page too
    original = s3.get_object(Bucket=E2E_BUCKET, Key=key)["Body"].read()
    with Image.open(io.BytesIO(original)) as candidate:
        rgb = candidate.convert("RGB")
        colour = max(rgb.getcolors(rgb.width * rgb.height) or [])[1]  # its largest flat fill
    near = pixels_near(shot, colour)
    print(f"screenshot pixels near the approved jar candidate's main colour {colour}: {near}")
    assert near > 3 * 2 * 500  # six 192-px thumbnails; a page without them has ~none
