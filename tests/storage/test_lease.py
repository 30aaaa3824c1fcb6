"""The spec lease (mediagen/storage/lease.py) on a real local folder and on S3 (moto's server on
loopback, through s3fs): take, wait, refuse, renew, free, take over, and re-entrancy."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mediagen.errors import SpecBusyError
from mediagen.manifest.model import Manifest, manifest_key
from mediagen.manifest.prune import prune, prune_candidates
from mediagen.settings import Settings
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.storage.lease import LEASE_NAME, Holder, SpecLease, lease_key, one_run_per_spec
from mediagen.testing.s3 import FaultSchedule, S3TestServer, s3_error
from tests.support.s3 import S3_BUCKET

PREFIX = "goals"
KEY = lease_key(PREFIX)
BOUND = 60.0  # "did not hang" only: never a speed claim


def until(condition: Callable[[], object], what: str) -> None:
    """Poll ``condition`` until it holds (a generous bound against hangs, not a timing claim)."""
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


@pytest.fixture(params=["local", "s3"])
def bucket(request: pytest.FixtureRequest, workspace: Path) -> Iterator[Bucket]:
    """The same tests on a local folder and on S3 (moto's threaded server, via s3fs)."""
    if request.param == "local":
        yield Bucket(BucketConfig(provider="local", bucket=str(workspace / "bucket")))
        return
    s3: S3TestServer = request.getfixturevalue("s3")
    yield Bucket(BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url))


def settings(**values: object) -> Settings:
    return Settings(**{"lease_ttl": 30.0, **values})  # type: ignore[arg-type]


def stored(bucket: Bucket) -> Holder | None:
    try:
        return Holder.from_bytes(bucket.get(KEY))
    except FileNotFoundError:
        return None


def plant(bucket: Bucket, *, expired: bool, host: str = "render-box-7", pid: int = 4242) -> None:
    """A lease written by another machine's run (fresh, or left by a crash)."""
    now = datetime.now(UTC)
    holder = Holder(
        token="f" * 32,
        host=host,
        pid=pid,
        run_id="run-0b5e",
        spec="goals",
        since=now - timedelta(hours=1),
        expires_at=now + timedelta(seconds=-5 if expired else 600),
        ttl_s=60.0,
    )
    bucket.put(KEY, holder.to_bytes(), content_type="application/json", public=False)


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def lease_log() -> Iterator[list[str]]:
    handler = Lines()
    logger = logging.getLogger("mediagen.storage.lease")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_a_run_holds_the_lease_while_it_runs_and_frees_it_after(bucket: Bucket) -> None:
    with one_run_per_spec(bucket, PREFIX, spec="goals", run_id="r-1", settings=settings()):
        holder = stored(bucket)
        assert holder is not None
        assert (holder.host, holder.pid, holder.run_id) == (
            socket.gethostname(),
            os.getpid(),
            "r-1",
        )
        assert holder.expires_at > datetime.now(UTC)
    assert stored(bucket) is None
    assert bucket.find(PREFIX) == []  # nothing left behind under the prefix


def test_the_lease_is_freed_when_the_run_fails(bucket: Bucket) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()),
    ):
        assert stored(bucket) is not None
        raise RuntimeError("boom")
    assert stored(bucket) is None


def test_the_lease_is_freed_on_interrupt(bucket: Bucket) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()),
    ):
        raise KeyboardInterrupt
    assert stored(bucket) is None


def test_refuse_names_the_holder(bucket: Bucket) -> None:
    plant(bucket, expired=False)
    with (
        pytest.raises(SpecBusyError) as caught,
        one_run_per_spec(bucket, PREFIX, spec="goals", mode="refuse", settings=settings()),
    ):
        pytest.fail("must not run while another run holds the lease")
    message = str(caught.value)
    for part in ("render-box-7", "pid 4242", "run run-0b5e", "since", "UTC", KEY):
        assert part in message
    assert stored(bucket) is not None and stored(bucket).host == "render-box-7"  # untouched


def test_refuse_is_the_setting_too(bucket: Bucket) -> None:
    plant(bucket, expired=False)
    with (
        pytest.raises(SpecBusyError, match="render-box-7"),
        one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings(if_running="refuse")),
    ):
        pass


def test_a_second_run_waits_for_the_first_and_says_who_holds_it(
    bucket: Bucket, lease_log: list[str]
) -> None:
    order: list[str] = []
    first = SpecLease(bucket, PREFIX, spec="goals", run_id="first-run", ttl=30.0)
    first.acquire()
    order.append("first took it")

    def second() -> None:
        with one_run_per_spec(bucket, PREFIX, spec="goals", run_id="second", settings=settings()):
            order.append("second took it")
            assert stored(bucket).run_id == "second"

    thread = threading.Thread(target=second)
    thread.start()
    until(lambda: any("already running" in line for line in lease_log), "the wait message")
    waiting = next(line for line in lease_log if "already running" in line)
    assert waiting.startswith("WARNING")
    for part in (socket.gethostname(), f"pid {os.getpid()}", "run first-run", "since"):
        assert part in waiting
    assert order == ["first took it"]  # the second is still waiting
    first.release()
    order.append("first freed it")
    thread.join(BOUND)
    assert not thread.is_alive()
    assert order == ["first took it", "first freed it", "second took it"]
    assert stored(bucket) is None


def test_waiting_has_a_bound_when_asked(bucket: Bucket) -> None:
    plant(bucket, expired=False)
    with (
        pytest.raises(SpecBusyError, match="still held after waiting"),
        one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings(lease_max_wait=0)),
    ):
        pass


def test_an_expired_lease_is_taken_over(bucket: Bucket, lease_log: list[str]) -> None:
    plant(bucket, expired=True)
    with one_run_per_spec(bucket, PREFIX, spec="goals", run_id="after-crash", settings=settings()):
        assert stored(bucket).run_id == "after-crash"
    assert any("render-box-7" in line and "took it over" in line for line in lease_log)
    assert stored(bucket) is None


def test_an_unreadable_lease_is_taken_over(bucket: Bucket) -> None:
    bucket.put(KEY, b"{not json", content_type="application/json", public=False)
    with one_run_per_spec(bucket, PREFIX, spec="goals", run_id="fixer", settings=settings()):
        assert stored(bucket).run_id == "fixer"


def test_of_many_takers_of_an_expired_lease_exactly_one_wins(bucket: Bucket) -> None:
    plant(bucket, expired=True)
    takers = 6
    start = threading.Barrier(takers)
    won: list[str] = []
    refused: list[str] = []
    leases: list[SpecLease] = []

    def take(n: int) -> None:
        lease = SpecLease(bucket, PREFIX, spec="goals", run_id=f"taker-{n}", mode="refuse")
        start.wait()
        try:
            lease.acquire()
            won.append(lease.holder.run_id)
            leases.append(lease)
        except SpecBusyError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
    assert len(won) == 1, won
    assert len(refused) == takers - 1
    assert all(f"run {won[0]}" in message for message in refused)
    assert stored(bucket).run_id == won[0]
    leases[0].release()
    assert stored(bucket) is None


def test_the_lease_is_renewed_while_the_run_runs(bucket: Bucket) -> None:
    lease = SpecLease(bucket, PREFIX, spec="goals", ttl=1.5)  # renewed every 0.5 s
    lease.acquire()
    try:
        first = stored(bucket).expires_at
        until(lambda: stored(bucket).expires_at > first, "a renewal")
        assert not lease.lost
    finally:
        lease.release()
    assert stored(bucket) is None


def test_a_run_whose_lease_was_taken_over_is_told_and_does_not_free_it(bucket: Bucket) -> None:
    lost: list[str] = []
    lease = SpecLease(bucket, PREFIX, spec="goals", ttl=1.5, on_lost=lost.append)
    lease.acquire()
    plant(bucket, expired=False, host="thief-host")  # as if it had stalled past its TTL
    until(lambda: lost, "the loss is noticed at the next renewal")
    assert lease.lost and "thief-host" in lost[0]
    lease.release()
    assert stored(bucket).host == "thief-host"  # the new holder's lease stays


def test_nested_holding_in_one_call_chain_is_one_lease(bucket: Bucket) -> None:
    """`mediagen run` holds the lease, then its flow (same thread) enters again."""
    with one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()) as outer:
        assert stored(bucket).run_id == ""
        with one_run_per_spec(bucket, PREFIX, spec="goals", run_id="flow-run-9") as inner:
            assert inner is outer
            assert stored(bucket).run_id == "flow-run-9"  # the holder now names the flow run
        assert stored(bucket) is not None  # still held until the outer block ends
        refused: list[BaseException] = []

        def other_thread() -> None:
            try:
                with one_run_per_spec(bucket, PREFIX, spec="goals", mode="refuse"):
                    pass
            except SpecBusyError as exc:
                refused.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(BOUND)
        assert refused and "flow-run-9" in str(refused[0])
    assert stored(bucket) is None


def test_other_prefixes_are_not_blocked(bucket: Bucket) -> None:
    plant(bucket, expired=False)
    with one_run_per_spec(bucket, "banners", spec="banners", mode="refuse", settings=settings()):
        assert bucket.exists(lease_key("banners"))


def test_the_lease_is_private_and_never_cached(s3: S3TestServer) -> None:
    bucket = Bucket(
        BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url, public=True)
    )
    with one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()):
        head = s3.client().head_object(Bucket=S3_BUCKET, Key=KEY)
        grants = s3.client().get_object_acl(Bucket=S3_BUCKET, Key=KEY)["Grants"]
    assert head["ContentType"] == "application/json"
    assert head["CacheControl"] == "no-store"
    assert not any("AllUsers" in str(g["Grantee"]) for g in grants)


def test_prune_never_deletes_the_lease_even_if_a_manifest_lists_it(bucket: Bucket) -> None:
    manifest = Manifest.model_validate(
        {
            "spec_name": "goals",
            "spec_version": "1",
            "spec_hash": "x",
            "run_id": "r",
            "storage": {},
            "counts": {},
            "images": {},
            "orphaned_keys": [KEY, manifest_key(PREFIX), f"{PREFIX}/old.png"],
        }
    )
    assert prune_candidates(manifest, PREFIX) == [f"{PREFIX}/old.png"]
    bucket.put(manifest_key(PREFIX), manifest.model_dump_json().encode())
    bucket.put(f"{PREFIX}/old.png", b"png")
    with one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()):
        deletion = prune(bucket, PREFIX, dry_run=False)
        assert deletion.keys == [f"{PREFIX}/old.png"]
        assert stored(bucket) is not None
    assert not bucket.exists(f"{PREFIX}/old.png")
    assert KEY in json.loads(bucket.get(manifest_key(PREFIX)))["orphaned_keys"]  # never deleted


def test_a_store_without_conditional_writes_runs_unleased_with_a_warning(
    s3: S3TestServer, lease_log: list[str]
) -> None:
    bucket = Bucket(BucketConfig(provider="s3", bucket=S3_BUCKET, endpoint_url=s3.endpoint_url))
    refusal = s3_error(501, "NotImplemented", "A header you provided implies functionality ...")
    s3.faults = FaultSchedule([refusal], path_contains=LEASE_NAME)
    with one_run_per_spec(bucket, PREFIX, spec="goals", settings=settings()):
        assert stored(bucket) is None
    assert any("does not support conditional writes" in line for line in lease_log)
    assert s3.requests["PUT"] == 1 and s3.requests.get("DELETE", 0) == 0


def test_a_run_that_waited_holds_the_lease_for_a_full_ttl_from_when_it_took_it(
    bucket: Bucket,
) -> None:
    late = SpecLease(bucket, PREFIX, spec="goals", ttl=30.0)
    time.sleep(0.05)  # time passes between creating and taking it (a wait, in real life)
    taking = datetime.now(UTC)
    late.acquire()
    try:
        holder = stored(bucket)
        assert holder is not None
        assert holder.since >= taking  # "since when" is when it took the lease
        assert holder.expires_at >= taking + timedelta(seconds=30)  # a full TTL from then
    finally:
        late.release()
