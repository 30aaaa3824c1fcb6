"""Storage credentials from Prefect blocks (real Prefect API), and where they never appear."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from pydantic import SecretStr

from mediagen.errors import ConfigurationError
from mediagen.settings import get_settings
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.storage.credentials import redact, storage_credentials
from mediagen.testing.s3 import S3TestServer
from tests.conftest import REPO
from tests.support.s3 import S3_BUCKET

pytestmark = pytest.mark.usefixtures("prefect_server")

BLOCK_KEY, BLOCK_SECRET = "AKIAFROMPREFECTBLOCK1", "secret-from-a-prefect-block-9d81"


class StorageKeys(Block):
    """A block shaped like prefect-aws's AwsCredentials (same field names)."""

    _block_type_slug = "mediagen-test-storage-keys"
    aws_access_key_id: str
    aws_secret_access_key: SecretStr


def s3_bucket(s3: S3TestServer) -> Bucket:
    return Bucket(BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url))


def test_a_secret_block_wins_over_the_environment(s3: S3TestServer, monkeypatch) -> None:
    value = {"access_key_id": BLOCK_KEY, "secret_access_key": BLOCK_SECRET}
    Secret(value=json.dumps(value)).save("mediagen-s3-test", overwrite=True)
    monkeypatch.setenv("MEDIAGEN_STORAGE_CREDENTIALS_BLOCK", "secret/mediagen-s3-test")

    creds = storage_credentials("s3", get_settings())
    assert creds.source == "prefect block secret/mediagen-s3-test"
    assert BLOCK_SECRET not in repr(creds) and BLOCK_KEY not in str(creds)
    s3_bucket(s3).put("p/x.png", b"x")
    assert set(s3.access_keys) == {BLOCK_KEY}  # the request was signed with the block's key
    assert redact(f"oops {BLOCK_SECRET}") == "oops ***"


def test_a_block_with_aws_credential_fields_works_too(s3: S3TestServer, monkeypatch) -> None:
    StorageKeys(aws_access_key_id=BLOCK_KEY, aws_secret_access_key=BLOCK_SECRET).save(
        "mediagen-keys", overwrite=True
    )
    monkeypatch.setenv(
        "MEDIAGEN_STORAGE_CREDENTIALS_BLOCK", "mediagen-test-storage-keys/mediagen-keys"
    )
    s3_bucket(s3).put("p/y.png", b"y")
    assert set(s3.access_keys) == {BLOCK_KEY}


def test_bad_block_names_are_configuration_errors(s3: S3TestServer, monkeypatch) -> None:
    monkeypatch.setenv("MEDIAGEN_STORAGE_CREDENTIALS_BLOCK", "no-slash")
    with pytest.raises(ConfigurationError, match="block-type/name"):
        s3_bucket(s3)
    monkeypatch.setenv("MEDIAGEN_STORAGE_CREDENTIALS_BLOCK", "secret/does-not-exist")
    with pytest.raises(ConfigurationError, match="cannot load Prefect block"):
        s3_bucket(s3)
    Secret(value="not json").save("mediagen-bad-secret", overwrite=True)
    monkeypatch.setenv("MEDIAGEN_STORAGE_CREDENTIALS_BLOCK", "secret/mediagen-bad-secret")
    with pytest.raises(ConfigurationError, match="JSON object"):
        s3_bucket(s3)


def test_the_library_never_imports_prefect() -> None:
    code = (
        "import sys\n"
        "import mediagen, mediagen.storage.bucket, mediagen.storage.credentials\n"
        "import mediagen.backends.gemini.credentials, mediagen.storage.s3, mediagen.cli.app\n"
        "import mediagen.engine.orchestrate, mediagen.manifest.prune, mediagen.storage.check\n"
        "import mediagen.client.api\n"
        "import mediagen.manifest.commit, mediagen.testing.s3\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows')]\n"
        "assert not loaded, loaded[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
