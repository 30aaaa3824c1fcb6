"""Manifest writes under concurrency: the three-way merge and the conditional-write loop."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from mediagen.manifest.commit import commit_manifest, merge, recorded_keys, same_entry
from mediagen.manifest.model import ImageEntry, Manifest, OutputEntry, read_manifest, write_manifest
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing.s3 import FaultSchedule, S3TestServer, s3_error
from tests.support.s3 import S3_BUCKET, body


def entry(image_id: str, gen: str = "g", status: str = "ok", url: str = "u") -> ImageEntry:
    key = f"p/{image_id}-{gen[:8]}.png"
    outputs = [] if status != "ok" else [
        OutputEntry(format="png", key=key, url=f"{url}/{key}", width=1, height=1, bytes=1,
                    sha256="s", content_type="image/png", out_key=f"o{gen}")
    ]  # fmt: skip
    return ImageEntry(
        id=image_id, status=status, width=1, height=1, format="png", prompt="x", subject="x",
        backend="offline", model="m", theme="modern", size="standard", quality="fast",
        gen_key=gen, outputs=outputs, original_key=f"p/_originals/{gen}.png",
        url=outputs[0].url if outputs else None,
    )  # fmt: skip


def manifest(run: str, *entries: ImageEntry, orphans: tuple[str, ...] = ()) -> Manifest:
    return Manifest(spec_name="s", spec_hash=run, run_id=run,
                    images={e.id: e for e in entries}, orphaned_keys=list(orphans))  # fmt: skip


def test_nothing_concurrent_means_ours_as_is() -> None:
    base = manifest("base", entry("a"))
    ours = manifest("ours", entry("a"), entry("b"))
    assert merge(base, ours, None, touched={"b"}, removed=set()) is ours
    assert merge(base, ours, base, touched={"b"}, removed=set()) is ours


def test_their_new_and_changed_entries_survive_our_write() -> None:
    old = entry("old", gen="gold")
    base = manifest("base", entry("a"), old)
    theirs = manifest("theirs", entry("a", gen="g2"), old, entry("t", gen="gt"))
    ours = manifest("ours", entry("a"), entry("o", gen="go"), orphans=("p/stale.png",))
    merged = merge(base, ours, theirs, touched={"o"}, removed={"old"})
    assert set(merged.images) == {"a", "o", "t"}
    assert merged.images["a"].gen_key == "g2"  # we only carried 'a' over; they changed it
    # Orphans: ours, the removed image's keys, and the keys of 'a' their change replaced.
    assert set(merged.orphaned_keys) == {"p/stale.png"} | recorded_keys(old) | recorded_keys(
        entry("a")
    )
    assert merged.counts["images"] == 3


def test_removed_entries_stay_removed_unless_republished() -> None:
    base = manifest("base", entry("gone"), entry("back"))
    theirs = manifest("theirs", entry("gone"), entry("back", gen="new"))
    ours = manifest("ours")
    merged = merge(base, ours, theirs, touched=set(), removed={"gone", "back"})
    assert set(merged.images) == {"back"}
    assert recorded_keys(entry("gone")) <= set(merged.orphaned_keys)


def test_an_entry_deleted_meanwhile_stays_deleted_unless_we_republished_it() -> None:
    base = manifest("base", entry("a"), entry("b", gen="gb"))
    theirs = manifest("theirs", entry("b", gen="gb"))  # `mediagen delete --image a` ran
    ours = manifest("ours", entry("a"), entry("b", gen="gb"))
    assert set(merge(base, ours, theirs, touched=set(), removed=set()).images) == {"b"}
    republished = merge(base, ours, theirs, touched={"a"}, removed=set())
    assert set(republished.images) == {"a", "b"}


def test_their_success_beats_our_failure_of_the_same_image() -> None:
    base = manifest("base")
    theirs = manifest("theirs", entry("a"))
    ours = manifest("ours", entry("a", status="failed"))
    assert merge(base, ours, theirs, touched={"a"}, removed=set()).images["a"].status == "ok"
    ours_ok = manifest("ours", entry("a", gen="other"))
    merged = merge(base, ours_ok, theirs, touched={"a"}, removed=set())
    assert merged.images["a"].gen_key == "other"  # ours is fresh work on our spec: ours


def test_a_resigned_url_is_not_a_change() -> None:
    assert same_entry(entry("a", url="https://x?sig=1"), entry("a", url="https://x?sig=2"))
    assert not same_entry(entry("a"), entry("a", gen="g2"))


def test_conflict_is_detected_merged_and_written_again(tmp_path: Path) -> None:
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path)))
    write_manifest(bucket, "p", manifest("base", entry("a")))
    calls: list[Manifest | None] = []

    def build(current: Manifest | None) -> Manifest:
        calls.append(current)
        if len(calls) == 1:  # another run writes right after our read
            write_manifest(bucket, "p", manifest("theirs", entry("a"), entry("t")))
        images = dict(current.images) if current else {}
        return manifest("ours", *images.values(), entry("o"))

    result = commit_manifest(bucket, "p", build)
    assert len(calls) == 2 and calls[1] is not None and "t" in calls[1].images
    assert set(result.images) == {"a", "t", "o"}
    assert set(read_manifest(bucket, "p").images) == {"a", "t", "o"}


def test_many_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    bucket = Bucket(BucketConfig(provider="local", bucket=str(tmp_path)))
    start = threading.Barrier(8, timeout=30)

    def writer(n: int) -> None:
        start.wait()
        commit_manifest(
            bucket,
            "p",
            lambda cur: manifest(f"w{n}", *(cur.images.values() if cur else ()), entry(f"i{n}")),
        )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(read_manifest(bucket, "p").images) == {f"i{n}" for n in range(8)}


def test_a_store_without_conditional_writes_still_gets_its_manifest(
    s3: S3TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = Bucket(BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url))
    s3.faults = FaultSchedule(
        [
            s3_error(
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
            )
        ]
    )
    with caplog.at_level(logging.WARNING, logger="mediagen"):
        commit_manifest(bucket, "p", lambda _: manifest("ours", entry("a")))
    assert "does not support conditional writes" in caplog.text
    assert set(json.loads(body(s3.client(), "p/manifest.json"))["images"]) == {"a"}
    assert s3.requests["PUT"] == 2  # the refused conditional write, then a plain one
