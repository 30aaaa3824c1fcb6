"""flows/run_logs.py: the console sees what it saw before; the server gets INFO and up.

(The server side, lines in a real run's logs, is tested on a real server in
tests/e2e/test_prefect_operations.py.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from flows import run_logs


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def console() -> Iterator[Collect]:
    """A handler on the root logger at WARNING, as the CLI sets it up without -v."""
    root, handler = logging.getLogger(), Collect()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def server_handler() -> logging.Handler:
    logger = logging.getLogger("mediagen")
    return next(h for h in logger.handlers if isinstance(h, run_logs._ServerHandler))


def test_installed_once_and_info_passes_the_logger() -> None:
    run_logs.install()
    run_logs.install()
    logger = logging.getLogger("mediagen")
    assert sum(isinstance(h, run_logs._ServerHandler) for h in logger.handlers) == 1
    assert logger.isEnabledFor(logging.INFO) and not logger.isEnabledFor(logging.DEBUG)
    assert logging.getLogger("mediagen.storage.bucket").isEnabledFor(logging.INFO)


def test_the_console_gets_what_it_got_before(console: Collect) -> None:
    run_logs.install()
    logging.getLogger("mediagen.storage.bucket").info("storage busy (test); attempt 1 of 5")
    logging.getLogger("mediagen").warning("manifest unreadable (test)")
    assert [r.getMessage() for r in console.records] == ["manifest unreadable (test)"]


def test_a_level_someone_set_still_rules(console: Collect) -> None:
    run_logs.install()
    logger = logging.getLogger("mediagen")
    logger.setLevel(logging.DEBUG)  # e.g. a test fixture or an application wanting everything
    try:
        logging.getLogger("mediagen.storage.bucket").info("storage busy (verbose)")
        assert [r.getMessage() for r in console.records] == ["storage busy (verbose)"]
    finally:
        logger.setLevel(run_logs.OUR_LEVEL)


def test_a_child_loggers_own_level_still_rules(console: Collect) -> None:
    run_logs.install()
    child = logging.getLogger("mediagen.storage.bucket")
    child.setLevel(logging.DEBUG)
    try:
        child.debug("storage detail (verbose)")
        logging.getLogger("mediagen.manifest.model").info("not for the console")
        assert [r.getMessage() for r in console.records] == ["storage detail (verbose)"]
    finally:
        child.setLevel(logging.NOTSET)


def test_outside_a_run_nothing_is_sent_and_nothing_warns(
    console: Collect, recwarn: pytest.WarningsRecorder
) -> None:
    run_logs.install()
    record = logging.LogRecord("mediagen", logging.WARNING, __file__, 1, "outside", None, None)
    assert server_handler().filter(record) is False  # no flow or task run here
    logging.getLogger("mediagen").warning("outside a run")
    assert not [w for w in recwarn if "flow run id" in str(w.message)]


def test_credentials_are_redacted_in_what_goes_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_logs.install()
    key = "AIzaTESTKEY-0123456789abcdef"
    monkeypatch.setenv("GEMINI_API_KEY", key)
    record = logging.LogRecord(
        "mediagen", logging.WARNING, __file__, 1, "answer for key %s", (key,), None
    )
    assert server_handler().format(record) == "answer for key ***"
