"""The deployments' pull step: into the project folder, wherever the worker has it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from flows.workdir import set_project_directory
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _restore_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # restored after the test, whatever the step did
    monkeypatch.delenv("MEDIAGEN_PROJECT_DIR", raising=False)


def test_the_directory_given_wins(tmp_path: Path) -> None:
    project = tmp_path / "checkout"
    shutil.copytree(REPO / "flows", project / "flows")
    assert set_project_directory(str(project)) == {"directory": str(project.resolve())}
    assert Path.cwd() == project.resolve()


def test_the_environment_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "elsewhere"
    shutil.copytree(REPO / "flows", project / "flows")
    monkeypatch.setenv("MEDIAGEN_PROJECT_DIR", str(project))
    assert set_project_directory()["directory"] == str(project.resolve())


def test_without_a_name_the_installed_checkout_is_used() -> None:
    assert set_project_directory() == {"directory": str(REPO)}
    assert os.getcwd() == str(REPO)


def test_a_folder_without_the_flows_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="set MEDIAGEN_PROJECT_DIR"):
        set_project_directory(str(tmp_path))
    assert Path.cwd() == tmp_path
