"""Hostile input at the command line: bad settings, devices, FIFOs, unusable bucket folders
and amplifying specs give one line on stderr, exit 2, no traceback, and never block."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mediagen.errors import ConfigurationError
from mediagen.settings import get_settings
from tests.support.cli import mediagen

SPEC = "name: small\nimages:\n  - id: a\n    prompt: a house\n    size: thumbnail\n"


def one_line_error(result, fragment: str) -> None:  # type: ignore[no-untyped-def]
    """Exit 2, one line on stderr holding ``fragment``, nothing on stdout, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert result.stdout.strip() == "", result.stdout
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr.lower()


# --- settings --------------------------------------------------------------------------

BAD_SETTINGS = {
    "MEDIAGEN_CONCURRENCY": "abc",
    "MEDIAGEN_TASK_RETRIES": "many",
    "MEDIAGEN_RUNNER": "k8s",
    "MEDIAGEN_RETRY_BASE_DELAY": "soon",
    "MEDIAGEN_RATE_LIMITS": "{not json",
    "MEDIAGEN_STORAGE_PROVIDER": "ftp",
    "MEDIAGEN_STORAGE_RETRIES": "0",
    "MEDIAGEN_SPEC_MAX_BYTES": "1MB",
    "MEDIAGEN_STORAGE_ENDPOINT_URL": "javascript:alert(1)",
}


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS.items(), ids=list(BAD_SETTINGS))
def test_a_malformed_setting_is_one_configuration_error_naming_it(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        get_settings()
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"bad setting: {name}: ")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_bad_secret_is_named_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAGEN_RATE_LIMITS", '{"*": {"requests_per_minute": "sk-SECRET-9"}}')
    with pytest.raises(ConfigurationError, match=r"MEDIAGEN_RATE_LIMITS: \*\.requests_per_minute"):
        get_settings()


def test_bad_settings_at_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    cases = [("MEDIAGEN_CONCURRENCY", "abc"), ("MEDIAGEN_RATE_LIMITS", "{x")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(lambda c: mediagen(tmp_path, "validate", "s.yaml", env=dict([c])), cases)
        )
    for (name, _), result in zip(cases, results, strict=True):
        one_line_error(result, f"bad setting: {name}")


# --- files that are not spec files -----------------------------------------------------


def test_validate_refuses_dev_zero_and_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)  # no writer: a blocking open would never return (subprocess timeout)
    for path, kind in (("/dev/zero", "is a device"), (str(fifo), "is a FIFO")):
        one_line_error(mediagen(tmp_path, "validate", path), kind)


# --- an unusable bucket folder ---------------------------------------------------------


@pytest.mark.parametrize("command", [["validate", "--check-storage"], ["run"]])
def test_a_bucket_folder_that_cannot_be_made_is_one_line_and_no_ok(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    result = mediagen(
        tmp_path, *command, "s.yaml",
        env={"MEDIAGEN_BUCKET_DIR": "/proc/nope", "MEDIAGEN_BACKEND": "offline"},
    )  # fmt: skip
    one_line_error(result, "the local bucket folder /proc/nope cannot be created")
    assert "MEDIAGEN_BUCKET_DIR" in result.stderr


# --- every entry point goes through the caps -------------------------------------------

AMPLIFIER = (
    "name: amp\nmax_images: 10000\nimages:\n  - id: img-{n}\n"
    "    prompt: '" + "{w}" * 1000 + "'\n"
    "    matrix: {n: [" + ", ".join(map(str, range(100))) + "], w: ['" + "x" * 400 + "']}\n"
)


def test_validate_plan_run_and_submit_refuse_an_amplifying_spec(tmp_path: Path) -> None:
    (tmp_path / "amp.yaml").write_text(AMPLIFIER)
    commands = [["validate"], ["plan"], ["run"], ["submit"]]
    env = {"MEDIAGEN_BACKEND": "offline", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: mediagen(tmp_path, *c, "amp.yaml", env=env), commands))
    for result in results:
        assert result.returncode == 2, result.stdout + result.stderr
        assert "images[0].prompt: is too long once its {variables} are filled" in result.stderr
        assert "Traceback" not in result.stderr


# --- plan warns before a run fills a disk ----------------------------------------------

BIG = (
    "name: huge\nimages:\n  - id: img-{n}\n    prompt: picture {n}\n"
    "    size: {width: 8192, height: 8192}\n    formats: [png, webp, jpeg, avif]\n"
    "    variants: {widths: [1024, 4096]}\n"
    "    matrix: {n: [" + ", ".join(map(str, range(40))) + "]}\n"
)


def test_plan_warns_when_a_run_would_be_huge_and_thresholds_are_settings(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text(BIG)
    (tmp_path / "small.yaml").write_text(SPEC)
    env = {"MEDIAGEN_BACKEND": "offline", "COLUMNS": "300"}
    relaxed = {**env, "MEDIAGEN_PLAN_WARN_DISK_GB": "1000", "MEDIAGEN_PLAN_WARN_CPU_HOURS": "100"}
    runs = [("big.yaml", env), ("big.yaml", relaxed), ("small.yaml", env)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        big, big_relaxed, small = pool.map(
            lambda r: mediagen(tmp_path, "plan", r[0], env=r[1]), runs
        )
    assert big.returncode == 0, big.stderr
    assert "GB, more than MEDIAGEN_PLAN_WARN_DISK_GB=10" in big.stdout
    assert "CPU-hours, more than MEDIAGEN_PLAN_WARN_CPU_HOURS=1" in big.stdout
    assert big_relaxed.returncode == 0 and "warning" not in big_relaxed.stdout
    assert "warning" not in small.stdout
