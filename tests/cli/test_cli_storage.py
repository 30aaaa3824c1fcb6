"""The CLI against a real S3 endpoint, as a user runs it: check, publish, delete, prune.

Every byte the commands print (with ``-v``: Prefect's and mediagen's logs too),
the manifest and every object's metadata are searched for the credentials.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from mediagen.testing.s3 import S3TestServer
from tests.support.cli import mediagen
from tests.support.s3 import AWS_KEY, AWS_SECRET, S3_BUCKET, body, head, list_keys

FOREIGN = "goal-image/not-from-mediagen.png"


@pytest.mark.usefixtures("prefect_server")
def test_check_publish_delete_prune_and_no_credentials_anywhere(
    s3: S3TestServer,
    project: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {
        "MEDIAGEN_STORAGE_PROVIDER": "s3",
        "MEDIAGEN_STORAGE_BUCKET": S3_BUCKET,
        "MEDIAGEN_STORAGE_ENDPOINT_URL": s3.endpoint_url,
        # The session's Prefect API: no run pays for an ephemeral API in a fresh
        # PREFECT_HOME (a new database and every migration, minutes at load 12);
        # tests/cli/test_cli.py runs the CLI on its own ephemeral API.
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    outputs: list[subprocess.CompletedProcess[str]] = []

    def cli(*args: str, extra: dict[str, str] | None = None, code: int = 0) -> str:
        started = time.monotonic()
        result = mediagen(project, *args, env=env | (extra or {}))
        print(f"{time.monotonic() - started:5.1f}s mediagen {' '.join(args)}")
        outputs.append(result)
        assert result.returncode == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    spec = "specs/examples/goal-image.yaml"
    checked = cli("validate", spec, "--check-storage")
    assert "bucket reachable" in checked and "write permitted" in checked
    assert "conditional writes: honoured" in checked
    assert list_keys(s3.client()) == []  # the probe is gone; no image was written

    published = cli("-v", "run", spec)
    assert "1 published" in published
    client = s3.client()
    manifest = json.loads(body(client, "goal-image/manifest.json"))
    entry = manifest["images"]["goal-emergency-fund"]
    assert entry["url"] == f"{s3.endpoint_url}/{S3_BUCKET}/{entry['key']}"
    original = entry["original_key"]
    image_keys = [o["key"] for o in entry["outputs"]] + [original, original[:-4] + ".json"]
    client.put_object(Bucket=S3_BUCKET, Key=FOREIGN, Body=b"someone else's")

    listed = cli("delete", spec, "--image", "goal-emergency-fund")
    assert "would delete 4 object(s)" in listed and "--yes" in listed  # 2 outputs, original
    assert all(key in listed for key in image_keys)  # and its sidecar
    assert set(image_keys) <= set(list_keys(client))  # a listing deletes nothing

    # The image is replaced by another: the old one's objects become prunable.
    changed = yaml.safe_load((project / spec).read_text())
    changed["images"][0] |= {"id": "goal-rainy-day", "prompt": "Savings for a rainy day"}
    (project / "changed.yaml").write_text(yaml.safe_dump(changed))
    dry = cli("run", "changed.yaml", "--prune")
    assert "would delete 4 object(s)" in dry and all(key in dry for key in image_keys)
    assert set(image_keys) <= set(list_keys(client))
    pruned = cli("run", "changed.yaml", "--prune", "--yes")
    assert "up to date" in pruned and "deleted 4 object(s)" in pruned
    after = set(list_keys(client))
    assert not set(image_keys) & after and FOREIGN in after

    deleted = cli("delete", "changed.yaml", "--image", "goal-rainy-day", "--yes")
    assert "deleted 4 object(s)" in deleted
    assert json.loads(body(client, "goal-image/manifest.json"))["images"] == {}
    # Left: the foreign object, the manifest and the gallery page beside it.
    assert set(list_keys(client)) == {FOREIGN, "goal-image/manifest.json", "goal-image/index.html"}
    assert "goal-rainy-day" not in body(client, "goal-image/index.html").decode()
    cli("delete", "changed.yaml", "--image", "goal-rainy-day", code=2)  # no such entry now
    after = set(list_keys(client))

    missing = cli("validate", spec, "--check-storage", extra={"MEDIAGEN_STORAGE_BUCKET":
                  "no-such-bucket"}, code=1)  # fmt: skip
    assert missing == "" or "ok" in missing
    assert "bucket not found" in outputs[-1].stderr

    # The credentials appear nowhere: not in any output, the manifest or object metadata.
    captured = "".join(r.stdout + r.stderr for r in outputs)
    stored = [body(client, key) for key in after] + [
        json.dumps(head(client, key)["Metadata"]).encode() for key in after
    ]
    for secret in (AWS_KEY, AWS_SECRET):
        assert secret not in captured
        assert not any(secret.encode() in blob for blob in stored)
