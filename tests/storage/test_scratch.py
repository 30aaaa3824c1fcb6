"""The scratch folder is private and checked, and nothing in it is published unverified."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from mediagen.engine.generate import generate
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.engine.upload import upload
from mediagen.plan.jobs import ImageJob
from mediagen.settings import get_settings
from tests.support.backends import CountingBackend
from tests.support.jobs import PLANT_SPEC, the_job
from tests.support.local_run import run_locally

SPEC = PLANT_SPEC
GREEN = (0, 255, 0)


def green_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400), GREEN).save(buffer, "PNG")
    return buffer.getvalue()


def plant(folder: Path, job: ImageJob, data: bytes) -> None:
    """What an attacker writes: an original and a sidecar that claims it (hash included)."""
    info = {
        "original_key": f"{job.original_key}.png",
        "mime_type": "image/png",
        "backend": "counting",
        "model": "offline",
        "ai_generated": False,
        "usage": {},
        "cost_usd": 0.0,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (folder / f"{job.gen_key}.original").write_bytes(data)
    (folder / f"{job.gen_key}.json").write_text(json.dumps(info))


def centre_pixel(path: Path) -> tuple[int, ...]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))


@pytest.fixture
def shared_tmp(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp folder, with no MEDIAGEN_WORK_DIR: the default scratch folder."""
    monkeypatch.delenv("MEDIAGEN_WORK_DIR")
    tmp = workspace / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def test_a_file_planted_in_the_shared_temp_folder_is_never_published(
    shared_tmp: Path, workspace: Path, counting: type[CountingBackend]
) -> None:
    job, _ = the_job()
    planted = shared_tmp / "mediagen-work"  # the old default: anyone could create it
    planted.mkdir(mode=0o777)
    plant(planted, job, green_png())

    entry = run_locally(SPEC).images["one"]
    assert entry.status == "ok"
    assert counting.total() == 1  # the backend made it
    assert centre_pixel(workspace / "bucket" / entry.key) != GREEN


def test_the_default_folder_is_per_user_0700_and_checked(shared_tmp: Path) -> None:
    from mediagen.errors import ConfigurationError
    from mediagen.storage import scratch

    folder = scratch.scratch_dir()
    assert folder == shared_tmp / f"mediagen-work-{os.getuid()}"
    assert folder.stat().st_mode & 0o777 == 0o700

    folder.chmod(0o770)
    with pytest.raises(ConfigurationError, match=r"mode 0770 \(needs 0700\)"):
        scratch.scratch_dir()
    folder.chmod(0o700)
    if os.getuid() == 0:  # only root can give a folder away
        os.chown(folder, 65534, 65534)
        with pytest.raises(ConfigurationError, match="owned by uid 65534, not by you"):
            scratch.scratch_dir()
    folder.rmdir()
    elsewhere = shared_tmp / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    folder.symlink_to(elsewhere)
    with pytest.raises(ConfigurationError, match="symbolic link"):
        scratch.scratch_dir()


def test_a_chosen_work_dir_must_not_be_writable_by_others(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediagen.errors import ConfigurationError
    from mediagen.storage import scratch

    chosen = workspace / "mine" / "scratch"
    monkeypatch.setenv("MEDIAGEN_WORK_DIR", str(chosen))
    assert scratch.scratch_dir() == chosen and chosen.stat().st_mode & 0o777 == 0o700
    chosen.chmod(0o1777)
    with pytest.raises(ConfigurationError, match="refusing to use it"):
        scratch.scratch_dir()


def test_a_pending_original_is_reused_only_with_the_bytes_the_backend_returned(
    workspace: Path, counting: type[CountingBackend]
) -> None:
    from mediagen.storage import scratch

    job, ctx = the_job()
    pending = scratch.scratch_dir() / f"{job.gen_key}.original"
    made = CountingBackend(get_settings()).generate(job.request)
    info = {"original_key": f"{job.original_key}.png", "mime_type": "image/png",
            "backend": "counting", "model": "offline", "ai_generated": False,
            "usage": {}, "cost_usd": 0.0}  # fmt: skip
    scratch.write_pending(pending, made.data, info)
    pending.write_bytes(green_png())  # changed after the backend returned it

    generated = generate(job, ctx, Run())
    assert counting.total() == 2  # the one above, and a new call instead of the green file
    stored = workspace / "bucket" / generated.original_key
    assert centre_pixel(stored) != GREEN

    # Untouched, a pending original is what a retry uploads: no new call.
    scratch.write_pending(pending, made.data, info)
    stored.unlink()
    (workspace / "bucket" / f"{job.original_key}.json").unlink()
    generate(job, ctx, Run())
    assert counting.total() == 2 and stored.read_bytes() == made.data


def test_a_processed_file_changed_in_scratch_is_not_published(
    workspace: Path, counting: type[CountingBackend]
) -> None:
    job, ctx = the_job()
    run = Run()
    generated = generate(job, ctx, run)
    processed = process(job, generated, ctx, run)
    Path(processed[0].path).write_bytes(green_png())

    entry = upload(job, generated, processed, ctx, run)
    published = (workspace / "bucket" / entry.key).read_bytes()
    assert hashlib.sha256(published).hexdigest() == processed[0].sha256
    assert centre_pixel(workspace / "bucket" / entry.key) != GREEN
