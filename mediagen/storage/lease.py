"""One run per spec, wherever it starts: a lease object in the spec's own bucket.

Two runs of one spec at once both plan the same "new" images and both pay for
them. Prefect's per-deployment limits cannot stop that (a schedule, an ad hoc
deployment, ``mediagen run`` and ``MediaClient.run_spec`` are four doors), and
``mediagen run`` needs no Prefect server at all. So a run first takes a lease
in the bucket, next to the manifest, at ``{prefix}/_lease.json``, before it
plans: a second run then plans only after the first has published, and finds
its images done.

The lease is a small JSON record (host, pid, run id, since, expires_at, TTL,
a random token) written with conditional requests only:

- **take**: create with ``If-None-Match: *``; exactly one creator wins;
- **renew**: a background thread rewrites it every ``ttl / 3`` with
  ``If-Match: <etag>``, moving ``expires_at`` forward;
- **free**: deleted when the run ends, also on failure and interrupt
  (``with`` block / ``finally``), after checking it is still ours;
- **take over**: a record whose ``expires_at`` has passed (a crashed or killed
  run stopped renewing) is replaced with ``If-Match: <the etag read>``: of two
  runs that see it expired at once, only one write succeeds.

A store that ignores conditional writes (a few S3 clones; ``mediagen validate
--check-storage`` tells) gets no lease and a warning, as the manifest gets a
plain write there: refusing every run would be worse than the race.

The second run waits (default; it says who holds the lease) or refuses
(``MEDIAGEN_IF_RUNNING=refuse`` or ``mediagen run --if-running refuse``) with
:class:`SpecBusyError`. Expiry compares the holder's ``expires_at`` with this
machine's clock: clocks must agree to within ``2/3`` of the TTL (NTP does).

Holding is re-entrant within one call chain (a :mod:`contextvars` variable):
``mediagen run`` takes the lease before it plans, and the flow it then starts
in the same thread finds it held and only records its flow run id in it.
Another thread or process always goes through the bucket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mediagen import errors
from mediagen.errors import ConfigurationError, SpecBusyError, StorageError
from mediagen.settings import Settings, get_settings
from mediagen.storage.bucket import Bucket

log = logging.getLogger("mediagen.storage.lease")

LEASE_NAME = "_lease.json"
Mode = Literal["wait", "refuse"]
Log = logging.Logger | logging.LoggerAdapter  # type: ignore[type-arg]

# Leases this call chain holds, by (bucket, key): a nested run reuses its caller's.
_held: ContextVar[dict[tuple[str, str], SpecLease] | None] = ContextVar(
    "mediagen_held_leases", default=None
)


def lease_key(prefix: str) -> str:
    """The lease object of a spec's prefix (beside its manifest)."""
    return f"{prefix}/{LEASE_NAME}" if prefix else LEASE_NAME


def _now() -> datetime:
    return datetime.now(UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: the record stored in the bucket."""

    token: str
    host: str
    pid: int
    run_id: str
    spec: str
    since: datetime
    expires_at: datetime
    ttl_s: float

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "no flow run yet"
        return f"host {self.host}, pid {self.pid}, {run}, since {_when(self.since)}"

    def expired(self, now: datetime | None = None) -> bool:
        return (now or _now()) >= self.expires_at

    def to_bytes(self) -> bytes:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        return json.dumps(data, indent=2).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Holder | None:
        """The record, or None when it is not one (then it is treated as expired)."""
        try:
            data: dict[str, Any] = json.loads(raw)
            data["since"] = datetime.fromisoformat(data["since"])
            data["expires_at"] = datetime.fromisoformat(data["expires_at"])
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None


class SpecLease:
    """The lease of one spec prefix in one bucket. Use :func:`one_run_per_spec`."""

    def __init__(
        self,
        bucket: Bucket,
        prefix: str,
        *,
        spec: str,
        run_id: str = "",
        mode: Mode = "wait",
        ttl: float = 60.0,
        max_wait: float | None = None,
        logger: Log | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.bucket = bucket
        self.key = lease_key(prefix)
        self.mode = mode
        self.ttl = ttl
        self.max_wait = max_wait
        self.log: Log = logger or log
        self.on_lost = on_lost
        now = _now()
        self.holder = Holder(
            token=uuid.uuid4().hex,
            host=socket.gethostname(),
            pid=os.getpid(),
            run_id=run_id,
            spec=spec,
            since=now,
            expires_at=now + timedelta(seconds=ttl),
            ttl_s=ttl,
        )
        self.etag: str | None = None
        self.lost = False
        self.unsupported = False  # the store ignores conditional writes: no lease at all
        self.renewed_at = 0.0  # time.monotonic() of the last confirmed write
        self._write_lock = threading.Lock()  # the renewer and annotate() both write
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def _ttl_delta(self) -> timedelta:
        return timedelta(seconds=self.ttl)

    @property
    def where(self) -> str:
        return f"{self.bucket.config.label}/{self.key}"

    # -- taking ---------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lease: at once, after waiting, or raise :class:`SpecBusyError`."""
        started = time.monotonic()
        announced: str | None = None  # token of the holder we last told the user about
        while True:
            holder, etag = self._read()
            now = _now()  # a run that waited holds the lease from now, for a full TTL
            self.holder = replace(self.holder, since=now, expires_at=now + self._ttl_delta)
            if etag is None:
                if self._write(if_none_match=True):
                    if self.unsupported:
                        self.log.warning(
                            "%s does not support conditional writes: mediagen cannot keep two "
                            "runs of spec %r apart there",
                            self.bucket.config.label,
                            self.holder.spec,
                        )
                        return
                    break
                continue  # another run created it between our read and our write
            if holder is not None and holder.token == self.holder.token:
                self.etag = etag  # our write went through, but its answer was lost
                break
            if holder is None or holder.expired():
                what = "is unreadable" if holder is None else (
                    f"of {holder.describe()} expired at {_when(holder.expires_at)} "
                    "without being freed (the run crashed or was killed)"
                )  # fmt: skip
                if self._write(if_match=etag):
                    self.log.warning("lease %s %s; took it over", self.where, what)
                    break
                continue  # another run took it over first: look again
            busy = (
                f"spec {holder.spec!r} is already running ({holder.describe()}; lease {self.where})"
            )
            if self.mode == "refuse":
                raise SpecBusyError(busy, holder=holder)
            waited = time.monotonic() - started
            if self.max_wait is not None and waited >= self.max_wait:
                raise SpecBusyError(
                    f"{busy}: still held after waiting {waited:.0f} s", holder=holder
                )
            if announced != holder.token:
                announced = holder.token
                self.log.warning(
                    "%s; waiting for it to finish (or to expire, at most %.0f s after it "
                    "stops renewing); use --if-running refuse or MEDIAGEN_IF_RUNNING=refuse "
                    "to fail instead",
                    busy,
                    holder.ttl_s,
                )
            time.sleep(self._poll_delay(holder))
        self.log.info("took the lease %s (%s)", self.where, self.holder.describe())
        self._renewer = threading.Thread(
            target=self._renew_loop, name=f"mediagen-lease-{self.key}", daemon=True
        )
        self._renewer.start()

    def _poll_delay(self, holder: Holder) -> float:
        """Look again soon, and never much after the holder's lease would expire."""
        base = min(5.0, max(0.2, self.ttl / 10))
        until_expiry = (holder.expires_at - _now()).total_seconds() + 0.05
        return max(0.05, min(base, until_expiry)) * random.uniform(0.8, 1.2)

    # -- renewing -------------------------------------------------------------

    def annotate(self, run_id: str, on_lost: Callable[[str], None] | None = None) -> None:
        """Record the flow run that now does the work (a nested run) right away."""
        if on_lost is not None:
            self.on_lost = on_lost
        if run_id and run_id != self.holder.run_id:
            self.holder = replace(self.holder, run_id=run_id)
            self.renew()

    def renew(self) -> bool:
        """Move ``expires_at`` forward; False (and ``lost``) when another run holds it now."""
        with self._write_lock:
            if self.lost or self.unsupported or self.etag is None:
                return not self.lost
            self.holder = replace(self.holder, expires_at=_now() + self._ttl_delta)
            try:
                if self._write(if_match=self.etag):
                    return True
                holder, _ = self._read()
            except StorageError as exc:  # storage down: try again at the next tick
                self.log.warning("could not renew the lease %s: %s", self.where, exc)
                return True
            self.lost = True
        thief = holder.describe() if holder else "nobody"
        message = (
            f"lost the lease {self.where} (now held by {thief}): it expired before this "
            "run could renew it; another run of the spec may be making the same images"
        )
        self.log.error(message)
        if self.on_lost is not None:
            self.on_lost(message)
        return False

    def _renew_loop(self) -> None:
        interval = self.ttl / 3
        while not self._stop.wait(interval * random.uniform(0.9, 1.0)):
            if not self.renew():
                return

    # -- freeing --------------------------------------------------------------

    def release(self) -> None:
        """Stop renewing and delete the record, if it is still ours and still valid."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.ttl)
        with self._write_lock:
            if self.lost or self.etag is None:
                return
            # Past its expiry another run may have taken it over: then it is not ours to delete.
            if time.monotonic() - self.renewed_at >= self.ttl * 0.9:
                self.log.warning("lease %s expired before the run ended; left as is", self.where)
                return
            try:
                holder, _ = self._read()
                if holder is not None and holder.token == self.holder.token:
                    self.bucket.delete(self.key)
                    self.log.info("freed the lease %s", self.where)
            except StorageError as exc:  # it expires by itself after the TTL
                self.log.warning(
                    "could not free the lease %s (%s); it expires within %.0f s",
                    self.where,
                    exc,
                    self.ttl,
                )
            self.etag = None

    # -- bucket I/O -------------------------------------------------------------

    def _read(self) -> tuple[Holder | None, str | None]:
        try:
            raw, etag = self.bucket.get_versioned(self.key)
        except FileNotFoundError:
            return None, None
        return Holder.from_bytes(raw), etag

    def _write(self, *, if_match: str | None = None, if_none_match: bool = False) -> bool:
        """One conditional write of our record; False when another writer got there first."""
        try:
            etag = self.bucket.put(
                self.key,
                self.holder.to_bytes(),
                content_type="application/json",
                cache_control="no-store",
                public=False,  # host names and pids are nobody's business
                if_match=if_match,
                if_none_match=if_none_match,
            )
        except errors.PreconditionFailed:
            holder, etag = self._read()
            if holder is None or holder.token != self.holder.token:
                return False
            # A retried request whose first attempt went through: it is ours.
        except errors.ConditionsUnsupported:
            self.unsupported = True
            return True
        if etag is None:  # a store that answers no ETag: read it back
            holder, etag = self._read()
            if holder is None or holder.token != self.holder.token:
                return False
        self.etag = etag
        self.renewed_at = time.monotonic()
        return True


@contextlib.contextmanager
def one_run_per_spec(
    bucket: Bucket,
    prefix: str,
    *,
    spec: str,
    run_id: str = "",
    mode: str | None = None,
    logger: Log | None = None,
    on_lost: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> Iterator[SpecLease]:
    """Hold the spec's lease for the ``with`` block (see the module docstring).

    ``mode`` defaults to ``MEDIAGEN_IF_RUNNING``; ``on_lost`` is called (once) if
    the lease is taken over while the block runs, e.g. to abort the run.
    """
    key = (bucket.config.label, lease_key(prefix))
    held = _held.get() or {}
    if key in held:  # the caller holds it already (mediagen run → its flow)
        lease = held[key]
        lease.annotate(run_id, on_lost)
        yield lease
        return
    settings = settings or get_settings()
    mode = mode or settings.if_running
    if mode not in ("wait", "refuse"):
        raise ConfigurationError(f"if_running must be 'wait' or 'refuse', not {mode!r}")
    lease = SpecLease(
        bucket,
        prefix,
        spec=spec,
        run_id=run_id,
        mode=mode,  # type: ignore[arg-type]  # checked above
        ttl=settings.lease_ttl,
        max_wait=settings.lease_max_wait,
        logger=logger,
        on_lost=on_lost,
    )
    lease.acquire()
    token = _held.set({**held, key: lease})
    try:
        yield lease
    finally:
        try:
            _held.reset(token)
        except ValueError:  # closed from another context (e.g. a click resource)
            _held.set({k: v for k, v in (_held.get() or {}).items() if k != key})
        lease.release()


__all__ = ["LEASE_NAME", "Holder", "SpecLease", "lease_key", "one_run_per_spec"]
