"""The manifest's URLs as the bucket gives them at the end of a run (finalize.with_current_urls).

Claims: a stale URL (a new CDN or base URL, an old folder) is replaced in the entry
and its outputs, and the entry the run holds is left as it was; an entry whose URLs
are current is kept as it is, not copied (10,000 copies were ~45 MB at the end of a
10,000-image run, issue 15); the manifest written is the same either way.
"""

from __future__ import annotations

from pathlib import Path

from mediagen.engine.finalize import with_current_urls
from mediagen.manifest.model import ImageEntry, Manifest, OutputEntry, manifest_bytes
from mediagen.storage.bucket import Bucket, BucketConfig


def _entry(image_id: str, base: str | None, status: str = "ok") -> ImageEntry:
    keys = [f"p/{image_id}.webp", f"p/{image_id}.png"] if status == "ok" else []
    outputs = [
        OutputEntry(format=k.rsplit(".", 1)[1], key=k, url=f"{base}/{k}" if base else None,
                    width=8, height=8, bytes=1, sha256="s", content_type="image/webp",
                    out_key=f"o-{k}")
        for k in keys
    ]  # fmt: skip
    return ImageEntry(
        id=image_id, status=status, width=8, height=8, format="webp", prompt="x", subject="x",
        backend="offline", model="m", theme="modern", size="8x8", quality="fast", gen_key="g",
        outputs=outputs, url=outputs[0].url if outputs else None, key=keys[0] if keys else None,
    )  # fmt: skip


def _manifest(*entries: ImageEntry) -> Manifest:
    return Manifest(spec_name="s", spec_hash="h", run_id="r", images={e.id: e for e in entries})


def test_current_urls_keep_the_entries_as_they_are(tmp_path: Path) -> None:
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path)))
    base = bucket.plain_url("x").removesuffix("/x")
    ok, failed = _entry("a", base), _entry("b", None, status="failed")
    manifest = _manifest(ok, failed)

    current = with_current_urls(manifest, bucket)

    assert current.images["a"] is ok and current.images["b"] is failed  # not copied
    assert current.images["a"].outputs[1].url == bucket.url("p/a.png")
    unsigned = {"urls_expire_at": None, "urls_expire_with_session": False,
                "session_expires_at": None}  # fmt: skip
    assert manifest_bytes(current) == manifest_bytes(manifest.model_copy(update=unsigned))


def test_stale_urls_are_replaced_and_the_held_entry_is_untouched(tmp_path: Path) -> None:
    cdn = "https://cdn.example.test/media"
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path), public_base_url=cdn))
    held = _entry("a", "file:///old/folder")
    before = held.model_dump()

    current = with_current_urls(_manifest(held), bucket).images["a"]

    assert current.url == f"{cdn}/p/a.webp"
    assert [o.url for o in current.outputs] == [f"{cdn}/p/a.webp", f"{cdn}/p/a.png"]
    assert held.model_dump() == before  # the run's own record stays as it was
    assert current.model_dump(exclude={"url", "outputs"}) == held.model_dump(
        exclude={"url", "outputs"}
    )


def test_an_entry_url_out_of_step_with_its_outputs_is_replaced(tmp_path: Path) -> None:
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path)))
    base = bucket.plain_url("x").removesuffix("/x")
    entry = _entry("a", base).model_copy(update={"url": "file:///elsewhere/a.webp"})

    current = with_current_urls(_manifest(entry), bucket).images["a"]

    assert current is not entry and current.url == bucket.url("p/a.webp")
