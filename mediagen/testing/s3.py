"""A real S3 endpoint for tests: moto's server on loopback, with scripted faults.

moto answers like S3 but never fails on its own. :class:`FaultInjector` is a
WSGI middleware in front of moto's app that answers **503 SlowDown**, **500
InternalError** (or any S3 error you script), answers **slowly**, or **resets the connection**, on a
schedule you script (:class:`FaultSchedule`): a fixed list, a seeded rate, or
both. It counts every request, so a test can check what a client really sent.

Use it to test your own publishing against S3 (needs ``pip install
'mediagen[dev]'`` for moto and boto3)::

    from mediagen.testing.s3 import S3TestServer, FaultSchedule, SLOWDOWN

    with S3TestServer() as s3:
        s3.create_bucket("media")
        s3.faults = FaultSchedule([SLOWDOWN, None, SLOWDOWN])  # 1st and 3rd PUT fail
        ...  # point endpoint_url (spec or MEDIAGEN_STORAGE_ENDPOINT_URL) at s3.endpoint_url

moto keeps its state per process, shared by every server in it:
:meth:`S3TestServer.reset` empties it between tests.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import socket
import struct
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["error", "slow", "reset"]
WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})


@dataclass(frozen=True)
class Fault:
    """One injected failure.

    ``error``: an S3 error answer (``status``, ``code``, ``message``) instead of
    moto's; ``slow``: wait ``seconds``, then answer normally; ``reset``: abort
    the TCP connection.
    """

    kind: FaultKind
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return self.code if self.kind == "error" else self.kind


def s3_error(status: int, code: str, message: str) -> Fault:
    """Any S3 error answer, e.g. ``s3_error(403, "AccessDenied", "Access Denied")``."""
    return Fault("error", status=status, code=code, message=message)


SLOWDOWN = s3_error(503, "SlowDown", "Please reduce your request rate.")
INTERNAL_ERROR = s3_error(500, "InternalError", "We encountered an internal error.")
RESET = Fault("reset")
ACL_NOT_SUPPORTED = s3_error(400, "AccessControlListNotSupported", "The bucket does not allow ACLs")


def slow(seconds: float) -> Fault:
    return Fault("slow", seconds=seconds)


class FaultSchedule:
    """Which requests fail, and how. Thread-safe; records every decision.

    Requests count when their method is in ``methods`` and their path contains
    ``path_contains``. The n-th counted request gets ``script[n]`` (``None`` =
    no fault); once the script is used up, each gets a fault with probability
    ``rate``, drawn from ``kinds``, but never more than ``max_in_a_row`` faults
    in a row for one path (``None``: no cap). The draw depends only on the seed,
    the method, the path and how many times that path was asked before, so a
    run is reproducible whatever order concurrent requests arrive in.
    """

    def __init__(
        self,
        script: Iterable[Fault | None] = (),
        *,
        rate: float = 0.0,
        kinds: Sequence[Fault] = (SLOWDOWN, INTERNAL_ERROR, RESET),
        seed: int = 0,
        methods: Iterable[str] = ("PUT",),
        path_contains: str = "",
        max_in_a_row: int | None = 2,
    ) -> None:
        self.script = list(script)
        self.rate = rate
        self.kinds = list(kinds)
        self.methods = {m.upper() for m in methods}
        self.path_contains = path_contains
        self.max_in_a_row = max_in_a_row
        self.seed = seed
        self._asked: Counter[str] = Counter()  # requests per method + path so far
        self._streak: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.matched = 0
        self.injected: Counter[str] = Counter()
        self.log: list[tuple[str, str, str | None]] = []

    def decide(self, method: str, path: str) -> Fault | None:
        if method not in self.methods or self.path_contains not in path:
            return None
        with self._lock:
            index = self.matched
            self.matched += 1
            nth = self._asked[f"{method} {path}"]
            self._asked[f"{method} {path}"] += 1
            draw = random.Random(f"{self.seed}:{method}:{path}:{nth}")
            if index < len(self.script):
                fault = self.script[index]
            elif self.rate and draw.random() < self.rate:
                capped = self.max_in_a_row is not None and self._streak[path] >= self.max_in_a_row
                fault = None if capped else draw.choice(self.kinds)
            else:
                fault = None
            self._streak[path] = self._streak[path] + 1 if fault else 0
            if fault:
                self.injected[fault.label] += 1
            self.log.append((method, path, fault.label if fault else None))
            return fault

    @property
    def faulted(self) -> int:
        return sum(self.injected.values())


class FaultInjector:
    """WSGI middleware: injects the schedule's faults in front of ``app`` and counts requests.

    It also makes each write atomic, as S3's are: moto checks a precondition
    (If-Match / If-None-Match) and stores in separate steps, so two racing
    conditional PUTs could both win there, never on S3.
    """

    def __init__(self, app: Callable[..., Any], schedule: FaultSchedule | None = None) -> None:
        self.app = app
        self.schedule = schedule
        self.requests: Counter[str] = Counter()  # method -> requests received
        self.statuses: Counter[int] = Counter()  # HTTP status -> answers sent (moto's and ours)
        self.access_keys: Counter[str] = Counter()  # access key id -> signed requests
        # Buckets whose Object Ownership is "bucket owner enforced" (ACLs disabled): moto
        # does not emulate it, so the injector answers as AWS does.
        self.acls_disabled: set[str] = set()
        self._count_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        with self._count_lock:
            self.requests[method] += 1
            key_id = _access_key_id(environ)
            if key_id:
                self.access_keys[key_id] += 1

        def counting_start_response(status: str, headers: Any, *args: Any) -> Any:
            with self._count_lock:
                self.statuses[int(status.split()[0])] += 1
            return start_response(status, headers, *args)

        if _sets_acl(environ) and path.lstrip("/").split("/", 1)[0] in self.acls_disabled:
            return _error_answer(environ, counting_start_response, ACL_NOT_SUPPORTED)
        schedule = self.schedule
        fault = schedule.decide(method, path) if schedule else None
        if fault and fault.kind == "reset":
            _reset_connection(environ)
        if fault and fault.kind == "error":
            return _error_answer(environ, counting_start_response, fault)
        if fault and fault.kind == "slow":
            time.sleep(fault.seconds)
        if method in WRITE_METHODS:
            with self._write_lock:
                return list(self.app(environ, counting_start_response))
        return self.app(environ, counting_start_response)


def _sets_acl(environ: dict[str, Any]) -> bool:
    """Does the request set an ACL (a canned ACL header, a grant, or PutObjectAcl)?

    With ACLs disabled AWS still accepts ``bucket-owner-full-control`` (and no header).
    """
    if environ["REQUEST_METHOD"] != "PUT":
        return False
    canned = environ.get("HTTP_X_AMZ_ACL", "")
    grants = any(name.startswith("HTTP_X_AMZ_GRANT_") for name in environ)
    put_acl = "acl" in environ.get("QUERY_STRING", "").split("&")
    return (bool(canned) and canned != "bucket-owner-full-control") or grants or put_acl


def _access_key_id(environ: dict[str, Any]) -> str | None:
    """The access key id a request was signed with (header or presigned query)."""
    from urllib.parse import parse_qs, unquote

    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        return auth.split("Credential=", 1)[1].split("/", 1)[0]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = query.get("X-Amz-Credential", [""])[0]
    return unquote(credential).split("/", 1)[0] or None


def _error_answer(
    environ: dict[str, Any], start_response: Callable[..., Any], fault: Fault
) -> list[bytes]:
    from http import HTTPStatus

    from werkzeug.wsgi import get_input_stream

    get_input_stream(environ).read()  # drain the body: the connection stays usable
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{fault.code}</Code><Message>{fault.message}</Message>"
        "<RequestId>mediagen-fault</RequestId></Error>"
    ).encode()
    status = f"{fault.status} {HTTPStatus(fault.status).phrase}"
    start_response(
        status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _reset_connection(environ: dict[str, Any]) -> None:
    """Abort the TCP connection with an RST (linger 0, then close the descriptor)."""
    sock: socket.socket = environ["werkzeug.socket"]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # detach(): the server's own socket object forgets the descriptor, so it can never
    # close a number the kernel has since handed to another connection.
    os.close(sock.detach())
    raise ConnectionResetError("mediagen fault injection: connection reset")


class S3TestServer:
    """moto's S3 server on 127.0.0.1 (a free port), behind a :class:`FaultInjector`."""

    READER_KEY = "moto-reader"  # the access key id of :meth:`client`

    def __init__(self, faults: FaultSchedule | None = None, *, quiet: bool = True) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._initial = faults
        self.injector: FaultInjector | None = None
        if quiet:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def start(self) -> S3TestServer:
        self._server.start()
        wsgi = self._server._server  # the werkzeug server moto started (no public accessor)
        assert wsgi is not None
        self.injector = FaultInjector(wsgi.app, self._initial)
        wsgi.app = self.injector
        default_handle_error = wsgi.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            import sys

            exc = sys.exc_info()[1]
            if isinstance(exc, OSError) and exc.errno == errno.EBADF:
                return  # the descriptor of a connection we reset on purpose
            default_handle_error(request, client_address)

        wsgi.handle_error = handle_error  # type: ignore[method-assign]
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> S3TestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def faults(self) -> FaultSchedule | None:
        return self.injector.schedule if self.injector else None

    @faults.setter
    def faults(self, schedule: FaultSchedule | None) -> None:
        assert self.injector is not None, "start() first"
        self.injector.schedule = schedule

    @property
    def requests(self) -> Counter[str]:
        """Requests received per HTTP method (faulted ones included)."""
        assert self.injector is not None, "start() first"
        return self.injector.requests

    @property
    def statuses(self) -> Counter[int]:
        """Answers sent per HTTP status (412 = a conditional write lost a race)."""
        assert self.injector is not None, "start() first"
        return self.injector.statuses

    @property
    def access_keys(self) -> Counter[str]:
        """Access key ids the requests were signed with (which credentials a client used)."""
        assert self.injector is not None, "start() first"
        return self.injector.access_keys

    def disable_acls(self, bucket: str) -> None:
        """Answer for ``bucket`` as AWS does with Object Ownership "bucket owner enforced":
        any request that sets an ACL (other than bucket-owner-full-control) gets 400
        AccessControlListNotSupported. ``reset`` turns it off again."""
        assert self.injector is not None, "start() first"
        self.injector.acls_disabled.add(bucket)

    def reset(self) -> None:
        """Forget every bucket and object, the fault schedule and the request counts."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
        if self.injector:
            self.injector.schedule = None
            self.injector.requests.clear()
            self.injector.statuses.clear()
            self.injector.access_keys.clear()
            self.injector.acls_disabled.clear()

    def client(self, region: str = "us-east-1") -> Any:
        """A boto3 S3 client on this server: a second client to read back what was written."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=self.READER_KEY,
            aws_secret_access_key="moto-reader-secret",
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)
