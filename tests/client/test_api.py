"""The Python API (MediaClient) against the local Gemini server and a local bucket.

Every generation goes through the real google-genai SDK over HTTP to
``FakeGeminiServer``; we count its requests to see cache hits.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mediagen.client.api import (
    BrandConfig,
    ClientConfig,
    GeneratedImage,
    MediaClient,
    Published,
    StorageConfig,
    get_client,
    set_default_client,
)
from mediagen.errors import (
    AuthError,
    BlockedError,
    ConfigurationError,
    ProcessingError,
    SpecError,
)
from mediagen.imaging.codec import read_provenance
from mediagen.testing import FakeGeminiServer, Fault
from tests.conftest import REPO

BRAND = ["#0A7B83 teal", "#F2A541 saffron"]


@pytest.fixture
def client(gemini_env: FakeGeminiServer, workspace: Path) -> MediaClient:
    config = ClientConfig(
        storage=StorageConfig(provider="local", bucket=str(workspace / "bucket"), prefix="app"),
        brand=BrandConfig(colors=BRAND, theme="corporate"),
    )
    with MediaClient(config) as c:
        yield c


def test_generate_image_returns_bytes_metadata_and_helpers(
    client: MediaClient, gemini_env: FakeGeminiServer, tmp_path: Path
) -> None:
    image = client.generate_image("a piggy bank on a desk", size="social_landscape", format="webp")

    assert (image.width, image.height, image.format) == (1200, 630, "webp")
    assert image.backend == "gemini" and image.model == "gemini-3.1-flash-image"
    assert image.cost_usd > 0 and image.usage and not image.cached
    with image.to_pil() as pil:
        assert pil.size == (1200, 630) and pil.format == "WEBP"
    saved = image.save(tmp_path / "out" / "piggy.webp")
    assert saved.read_bytes() == image.data
    assert read_provenance(image.data)["prompt"] == image.prompt
    # Same prompt composition as the flows: theme style and brand colours from the config.
    [request] = gemini_env.requests
    assert request.prompt == image.prompt
    assert "#0A7B83" in request.prompt and "teal" in request.prompt
    assert "corporate" in request.prompt and "finance" in request.prompt
    assert request.image_config["aspectRatio"] == "16:9"
    # The original is cached privately in the bucket, under the flows' key scheme.
    assert image.original_key == f"app/_originals/{image.gen_key}.png"
    assert client.bucket.exists(image.original_key)


def test_same_prompt_and_parameters_twice_make_one_backend_call(
    client: MediaClient, gemini_env: FakeGeminiServer
) -> None:
    first = client.generate_image("a house with a garden", size="thumbnail", seed=7)
    again = client.generate_image("a house with a garden", size="thumbnail", seed=7)
    other_format = client.generate_image(
        "a house with a garden", size="thumbnail", seed=7, format="jpeg"
    )
    assert len(gemini_env.requests) == 1
    assert again.cached and other_format.cached and not first.cached
    assert again.data == first.data and again.cost_usd == 0
    assert client.stats.backend_calls == 1 and client.stats.cache_hits == 2
    assert client.stats.cost_usd == pytest.approx(first.cost_usd)

    # A parameter that changes what is asked is a new generation.
    client.generate_image("a house with a garden", size="thumbnail", seed=8)
    assert len(gemini_env.requests) == 2

    # Another client on the same bucket (another process, another machine) hits too.
    with MediaClient(client.config) as other:
        assert other.generate_image("a house with a garden", size="thumbnail", seed=7).cached
    assert len(gemini_env.requests) == 2


def test_generate_and_upload_publishes_once_privately(
    client: MediaClient, gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    published = client.generate_and_upload(
        "a savings jar", size="thumbnail", format="png", metadata={"user-id": "42"}
    )
    assert published.key.startswith("app/a-savings-jar-") and published.key.endswith(".png")
    assert published.uploaded and not published.public
    path = workspace / "bucket" / published.key
    assert published.url == path.as_uri()
    data = path.read_bytes()
    assert len(data) == published.size and published.sha256 == published.image.sha256
    assert published.metadata["user-id"] == "42" and published.metadata["gen-key"]
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (320, 320)

    again = client.generate_and_upload("a savings jar", size="thumbnail", format="png")
    assert again.key == published.key and not again.uploaded
    assert len(gemini_env.requests) == 1
    assert client.stats.uploads == 1 and client.stats.upload_skips == 1


def test_upload_image_accepts_bytes_pillow_paths_and_generated_images(
    client: MediaClient, tmp_path: Path
) -> None:
    pil = Image.new("RGB", (64, 48), "#0A7B83")
    from_pil = client.upload_image(pil, image_id="avatar", format="jpg")
    assert from_pil.key.startswith("app/avatar-") and from_pil.key.endswith(".jpg")
    assert (from_pil.width, from_pil.height, from_pil.format) == (64, 48, "jpeg")
    assert from_pil.metadata == {"image-id": "avatar"}

    buffer = io.BytesIO()
    pil.save(buffer, "PNG")
    from_bytes = client.upload_image(buffer.getvalue(), key="custom/place/logo.png")
    assert from_bytes.key == "custom/place/logo.png" and from_bytes.format == "png"
    assert client.bucket.get("custom/place/logo.png") == buffer.getvalue()

    file = tmp_path / "in.png"
    file.write_bytes(buffer.getvalue())
    from_path = client.upload_image(file, format="webp")
    assert from_path.key.startswith("app/uploads/") and from_path.content_type == "image/webp"
    with Image.open(io.BytesIO(client.bucket.get(from_path.key))) as im:
        assert im.format == "WEBP" and im.size == (64, 48)

    image = client.generate_image("a coin", size="thumbnail")
    from_generated = client.upload_image(image, metadata={"source": "test"})
    assert from_generated.sha256 == image.sha256 and from_generated.image is image

    with pytest.raises(ProcessingError, match="not an image"):
        client.upload_image(b"definitely not an image")
    with pytest.raises(SpecError, match="ASCII"):
        client.upload_image(image, metadata={"note": "déjà vu"})


def test_delete_by_key_by_url_and_refusing_foreign_urls(client: MediaClient) -> None:
    first = client.generate_and_upload("a wallet", size="thumbnail")
    second = client.generate_and_upload("a wallet", size="thumbnail", format="webp")

    assert client.delete_image(first.key) is True
    assert not client.bucket.exists(first.key)
    assert client.delete_image(second.url) is True
    assert not client.bucket.exists(second.key)
    assert client.delete_image(second.url) is False  # already gone
    assert client.stats.deletes == 2

    with pytest.raises(SpecError, match="not a URL of this client's bucket"):
        client.delete_image("https://elsewhere.example.com/app/a.png")


def test_async_calls_run_concurrently(client: MediaClient, gemini_env: FakeGeminiServer) -> None:
    gemini_env.script(Fault.slow(0.4), times=4)

    async def four() -> list[GeneratedImage]:
        return await asyncio.gather(
            *(client.agenerate_image(f"goal number {i}", size="thumbnail") for i in range(4))
        )

    images = asyncio.run(four())

    assert len({image.gen_key for image in images}) == 4
    assert len(gemini_env.requests) == 4
    assert gemini_env.max_in_flight >= 3  # the four slow answers overlapped on the server

    async def two() -> list[Published]:
        return await asyncio.gather(
            client.agenerate_and_upload("goal number 0", size="thumbnail"),
            client.agenerate_and_upload("goal number 1", size="thumbnail"),
        )

    published = asyncio.run(two())
    assert all(p.image is not None and p.image.cached for p in published)
    assert len(gemini_env.requests) == 4


def test_concurrent_identical_calls_share_one_generation(
    client: MediaClient, gemini_env: FakeGeminiServer
) -> None:
    gemini_env.script(Fault.slow(0.3), times=1)

    async def same_three() -> list[GeneratedImage]:
        return await asyncio.gather(
            *(client.agenerate_image("one shared scene", size="thumbnail") for _ in range(3))
        )

    images = asyncio.run(same_three())
    assert len(gemini_env.requests) == 1
    assert sorted(image.cached for image in images) == [False, True, True]
    assert len({image.sha256 for image in images}) == 1
    assert client.stats.backend_calls == 1 and client.stats.cache_hits == 2


def test_async_concurrency_is_bounded_per_client(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    config = ClientConfig(api_concurrency=2, storage=StorageConfig(bucket=str(workspace / "b")))
    gemini_env.script(Fault.slow(0.2), times=6)

    async def burst() -> None:
        with MediaClient(config) as c:
            await asyncio.gather(
                *(c.agenerate_image(f"scene {i}", size="thumbnail") for i in range(6))
            )

    asyncio.run(burst())
    assert len(gemini_env.requests) == 6 and gemini_env.max_in_flight == 2


def test_validate_names_every_missing_and_invalid_setting(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAGEN_BACKEND", "gemini")  # and no key
    monkeypatch.setenv("MEDIAGEN_STORAGE_PROVIDER", "digitalocean")  # no bucket, no region
    monkeypatch.delenv("DO_SPACES_KEY", raising=False)
    monkeypatch.delenv("DO_SPACES_SECRET", raising=False)
    monkeypatch.setenv("MEDIAGEN_STORAGE_PUBLIC", "maybe")
    monkeypatch.setenv("MEDIAGEN_BRAND_COLORS", "#0A7B83 teal,teal")
    monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", "localhost:9999")

    config = ClientConfig.from_env()
    problems = config.problems()
    text = "\n".join(problems)
    for name in (
        "GEMINI_API_KEY",
        "MEDIAGEN_STORAGE_BUCKET",
        "MEDIAGEN_STORAGE_REGION",
        "DO_SPACES_KEY",
        "DO_SPACES_SECRET",
        "MEDIAGEN_STORAGE_PUBLIC",
        "MEDIAGEN_BRAND_COLORS",
        "MEDIAGEN_GEMINI_BASE_URL",
    ):
        assert name in text, name
    assert len(problems) == 8

    with pytest.raises(ConfigurationError) as caught:
        MediaClient()  # validates on construction, all problems in one error
    message = str(caught.value)
    assert "8 problem(s)" in message and "MEDIAGEN_STORAGE_REGION" in message
    assert "'teal' is not a brand colour" in message


def test_a_good_configuration_validates(gemini_env: FakeGeminiServer) -> None:
    client = MediaClient()
    client.validate()
    assert client.config.gemini.api_key is not None
    assert "AIza" not in repr(client.config)  # the key is a SecretStr


def test_errors_come_from_the_hierarchy_and_say_what_to_fix(
    client: MediaClient, gemini_env: FakeGeminiServer
) -> None:
    gemini_env.script(Fault.prompt_blocked("PROHIBITED_CONTENT"), match="forbidden")
    with pytest.raises(BlockedError) as blocked:
        client.generate_image("something forbidden", size="thumbnail")
    assert blocked.value.reason == "PROHIBITED_CONTENT"

    with pytest.raises(SpecError) as bad:
        client.generate_image("a cat", size="enormous", theme="baroque")
    text = str(bad.value)
    assert "size" in text and "theme" in text and "images[0]" not in text

    gemini_env.script(Fault.bad_key(400), times=None)
    with pytest.raises(AuthError):
        client.generate_image("a dog", size="thumbnail")
    gemini_env.reset()
    # One refused key does not poison later calls (the API is outside any flow run).
    assert client.generate_image("a dog", size="thumbnail").width == 320


def test_get_client_shares_one_default_without_forcing_a_singleton(
    gemini_env: FakeGeminiServer, client: MediaClient
) -> None:
    previous = set_default_client(None)
    try:
        default = get_client()
        assert get_client() is default
        assert MediaClient() is not default  # instances are free to make
        set_default_client(client)
        assert get_client() is client
    finally:
        set_default_client(previous)


def test_run_spec_runs_the_flow_and_shares_the_cache(
    prefect_server: None, client: MediaClient, gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    spec = {
        "name": "api-batch",
        "storage": {"provider": "local", "bucket": str(workspace / "bucket"), "prefix": "app"},
        "defaults": {"size": "thumbnail", "theme": "corporate", "brand_colors": BRAND},
        "images": [{"id": "goal-car", "prompt": "saving for a car"}],
    }
    manifest = client.run_spec(spec)
    assert manifest.images["goal-car"].status == "ok"
    assert len(gemini_env.requests) == 1

    image = client.generate_image("saving for a car", size="thumbnail")
    assert image.cached and len(gemini_env.requests) == 1  # the flow's original, reused
    assert image.gen_key == manifest.images["goal-car"].gen_key


def test_generate_to_file_uses_no_bucket(workspace: Path) -> None:
    from mediagen.client.api import generate_to_file

    image = generate_to_file("a lighthouse", workspace / "out" / "l.jpg", size="320x200")
    with Image.open(workspace / "out" / "l.jpg") as im:
        assert im.size == (320, 200) and im.format == "JPEG"
    assert image.backend == "offline"
    assert not (workspace / "bucket").exists()


def test_the_library_does_not_import_prefect() -> None:
    code = (
        "import sys, mediagen, mediagen.client.api, mediagen.client.media_client\n"
        "from mediagen import MediaClient, get_client\n"
        "assert 'prefect' not in sys.modules, sorted(m for m in sys.modules if 'prefect' in m)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
