"""One model of "where to publish": the spec's StorageTarget, the settings' fill-in, the
client's StorageConfig and the storage layer's BucketConfig all agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mediagen.client.config import StorageConfig
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from mediagen.spec.storage_target import StorageTarget
from mediagen.storage.destination import BucketConfig, resolve_target

IMAGES = [{"id": "a", "prompt": "p"}]
ENV = {"storage_provider": "s3", "storage_bucket": "team-bucket",
       "storage_endpoint_url": "http://127.0.0.1:9/"}  # fmt: skip


def spec_with(storage: dict | None) -> object:
    data = {"name": "demo", "images": IMAGES}
    if storage is not None:
        data["storage"] = storage
    return parse_spec(data)


@pytest.mark.parametrize(
    "storage",
    [None, {"shared_prefix": True}, {"prefix": "site/blog"}, {"public": True, "naming": "stable"}],
)
def test_a_spec_that_names_no_location_publishes_where_the_settings_say(storage, tmp_path):
    spec = spec_with(storage)
    config = BucketConfig.for_spec(spec, Settings(**ENV, bucket_dir=tmp_path))
    assert (config.provider, config.bucket, config.endpoint_url) == (
        "s3", "team-bucket", "http://127.0.0.1:9/")  # fmt: skip
    resolved = resolve_target(spec.storage, Settings(**ENV))
    # What the spec did say is kept: prefix, sharing, visibility, naming.
    for field in ("prefix", "shared_prefix", "public", "naming"):
        assert getattr(resolved, field) == getattr(spec.storage, field)


def test_a_spec_that_names_a_location_wins_and_survives_a_round_trip(tmp_path):
    spec = spec_with({"bucket": str(tmp_path / "here"), "shared_prefix": True})
    again = parse_spec(spec.model_dump(mode="json"))  # how specs reach a flow run
    for each in (spec, again):
        config = BucketConfig.for_spec(each, Settings(**ENV))
        assert (config.provider, config.bucket) == ("local", str(tmp_path / "here"))
    plain = parse_spec(spec_with(None).model_dump(mode="json"))  # defaults written out
    assert BucketConfig.for_spec(plain, Settings(**ENV)).provider == "s3"


def test_without_storage_settings_the_default_is_the_local_folder(tmp_path):
    config = BucketConfig.for_spec(
        spec_with({"shared_prefix": True}), Settings(bucket_dir=tmp_path)
    )
    assert (config.provider, Path(config.bucket)) == ("local", tmp_path.resolve())


def test_a_bad_settings_location_is_named_as_settings():
    with pytest.raises(ConfigurationError, match=r"MEDIAGEN_STORAGE_\* settings: .*region"):
        resolve_target(
            StorageTarget(), Settings(storage_provider="digitalocean", storage_bucket="b")
        )


@pytest.mark.parametrize("prefix", ["a/../b", "a/./b", "a//b", "a\\b", ".."])
def test_spec_and_client_refuse_the_same_prefixes_with_the_same_words(prefix):
    with pytest.raises(ValidationError) as spec_error:
        StorageTarget(prefix=prefix)
    with pytest.raises(ValidationError) as client_error:
        StorageConfig(prefix=prefix)
    assert spec_error.value.errors()[0]["msg"] == client_error.value.errors()[0]["msg"]
    assert "must be a relative key path" in spec_error.value.errors()[0]["msg"]


def test_client_config_becomes_the_same_target_a_spec_would_write(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDIAGEN_STORAGE_PROVIDER", "s3")
    monkeypatch.setenv("MEDIAGEN_STORAGE_BUCKET", "b")
    monkeypatch.setenv("MEDIAGEN_STORAGE_PREFIX", "/media/site/")
    target = StorageConfig().target()
    as_spec = spec_with({"provider": "s3", "bucket": "b", "prefix": "media/site"}).storage
    assert target == as_spec
    config = BucketConfig.from_target(target, Settings(bucket_dir=tmp_path))
    assert (config.provider, config.bucket, config.public) == ("s3", "b", False)
