"""The Python API against a real S3 endpoint (moto's server on loopback, the ``s3`` fixture)
and the local Gemini server: objects are read back with boto3."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mediagen.client.api import ClientConfig, MediaClient, StorageConfig
from mediagen.testing import FakeGeminiServer, Fault

S3_BUCKET = "api-media"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


class LocalS3:
    """moto's S3 server on 127.0.0.1 (a free port) and a boto3 client to read it back.

    Self-contained so these tests run with or without the storage branch's ``s3``
    fixture (tests/support/s3.py): switch to it once both are merged."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)

    def __enter__(self) -> LocalS3:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[LocalS3]:
    with LocalS3() as s3:
        yield s3


@pytest.fixture
def s3(s3_endpoint: LocalS3, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalS3]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAPITEST000000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "api-test-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workspace / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workspace / "no-aws-credentials"))
    boto = s3_endpoint.client()
    boto.create_bucket(Bucket=S3_BUCKET)
    yield s3_endpoint
    for key in list_keys(boto):
        boto.delete_object(Bucket=S3_BUCKET, Key=key)
    boto.delete_bucket(Bucket=S3_BUCKET)


def list_keys(boto: Any, prefix: str = "") -> list[str]:
    pages = boto.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def head(boto: Any, key: str) -> dict[str, Any]:
    return boto.head_object(Bucket=S3_BUCKET, Key=key)  # type: ignore[no-any-return]


def body(boto: Any, key: str) -> bytes:
    return boto.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()  # type: ignore[no-any-return]


def public_read(boto: Any, key: str) -> bool:
    grants = boto.get_object_acl(Bucket=S3_BUCKET, Key=key)["Grants"]
    return any(g["Grantee"].get("URI") == ALL_USERS for g in grants)


def s3_config(s3: LocalS3, **extra: object) -> ClientConfig:
    storage = StorageConfig(
        provider="s3",
        bucket=S3_BUCKET,
        region="us-east-1",
        endpoint_url=s3.endpoint_url,
        prefix="app",
        **extra,
    )
    return ClientConfig(storage=storage)


@pytest.fixture
def client(s3: LocalS3, gemini_env: FakeGeminiServer) -> Iterator[MediaClient]:
    with MediaClient(s3_config(s3)) as c:
        yield c


def test_generate_and_upload_to_s3_is_private_with_headers_and_metadata(
    client: MediaClient, s3: LocalS3, gemini_env: FakeGeminiServer
) -> None:
    published = client.generate_and_upload(
        "a savings jar", size="thumbnail", format="webp", metadata={"user-id": "42"}
    )
    boto = s3.client()
    data = body(boto, published.key)
    assert hashlib.sha256(data).hexdigest() == published.sha256 and len(data) == published.size
    info = head(boto, published.key)
    assert info["ContentType"] == "image/webp"
    assert "immutable" in info["CacheControl"]
    assert info["Metadata"]["user-id"] == "42" and info["Metadata"]["image-id"] == "a-savings-jar"
    assert not public_read(boto, published.key) and not published.public
    assert published.url == f"{s3.endpoint_url}/{S3_BUCKET}/{published.key}"
    # The original is cached privately beside it, with its sidecar.
    original = published.image.original_key
    assert original in list_keys(boto, "app/_originals/")
    assert not public_read(boto, original)

    again = client.generate_and_upload("a savings jar", size="thumbnail", format="webp")
    assert not again.uploaded and len(gemini_env.requests) == 1
    assert client.stats.cache_hits == 1 and client.stats.uploads == 1


def test_public_only_when_configured(s3: LocalS3, gemini_env: FakeGeminiServer) -> None:
    with MediaClient(s3_config(s3, public=True)) as public_client:
        published = public_client.generate_and_upload("a coin", size="thumbnail")
    assert published.public and public_read(s3.client(), published.key)


def test_upload_and_delete_by_key_and_by_url_on_s3(client: MediaClient, s3: LocalS3) -> None:
    image = client.generate_image("a wallet", size="thumbnail")
    by_key = client.upload_image(image, key="avatars/u1.png")
    assert (
        by_key.image is image and "immutable" not in head(s3.client(), by_key.key)["CacheControl"]
    )
    by_url = client.upload_image(image, image_id="wallet", format="jpeg")
    boto = s3.client()
    assert set(list_keys(boto, "avatars/")) == {"avatars/u1.png"}
    assert head(boto, by_url.key)["ContentType"] == "image/jpeg" and by_url.image is None
    assert body(boto, by_url.key)[:3] == b"\xff\xd8\xff"  # really a JPEG

    assert client.delete_image("avatars/u1.png") is True
    assert client.delete_image(by_url.url) is True
    assert client.delete_image(f"s3://{S3_BUCKET}/{by_url.key}") is False  # already gone
    assert list_keys(boto, "avatars/") == [] and by_url.key not in list_keys(boto, "app/")


def test_async_generate_and_upload_to_s3_concurrently(
    client: MediaClient, s3: LocalS3, gemini_env: FakeGeminiServer
) -> None:
    gemini_env.script(Fault.slow(0.3), times=4)

    async def four() -> list[object]:
        return await asyncio.gather(
            *(client.agenerate_and_upload(f"goal {i}", size="thumbnail") for i in range(4))
        )

    published = asyncio.run(four())
    assert gemini_env.max_in_flight >= 3
    keys = list_keys(s3.client(), "app/goal-")
    assert sorted(keys) == sorted(p.key for p in published)  # type: ignore[attr-defined]
