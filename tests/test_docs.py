"""The README and docs/ stay true: links land, spec examples validate, one import path.

Sections move between the README and docs/ pages; a link to a moved section, a
spec example that no longer validates, or an API example importing from an
internal module is caught here rather than by a reader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediagen.spec.models import JobSpec, parse_spec
from tests.support.paths import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def prose(page: Path) -> str:
    """The page without its code blocks (a '# comment' in a shell block is no heading)."""
    return FENCE.sub("", page.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → '-'."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose(page), re.M)}


def test_every_page_has_a_title_and_the_readme_links_every_page() -> None:
    readme = (REPO / "README.md").read_text()
    for page in PAGES[1:]:
        assert page.read_text().startswith("# "), page.name
        assert f"(docs/{page.name})" in readme, f"the README does not link docs/{page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_land_on_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}:\n" + "\n".join(broken)


SPEC_KEYS = set(JobSpec.model_fields)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_spec_examples_validate(page: Path) -> None:
    """A whole spec validates as it is; a fragment (``storage:``, ``defaults:``) inside a
    minimal spec. YAML of other files (prefect.yaml's ``work_pool``) is left alone."""
    checked = 0
    for body in blocks(page, "yaml"):
        data: Any = yaml.safe_load(body)
        if not isinstance(data, dict) or not set(data) <= SPEC_KEYS:
            continue
        minimal = {"name": "doc-example", "images": [{"id": "x", "prompt": "a jar of coins"}]}
        parse_spec({**minimal, **data})
        checked += 1
    if page.name in {"README.md", "backends.md", "storage.md", "web-outputs.md"}:
        assert checked, f"{page.name}: its spec examples were not found"


def test_the_api_is_imported_from_one_path() -> None:
    """Examples import the API from ``mediagen`` itself; only the test servers
    (``mediagen.testing``) have a path of their own."""
    stray = []
    sources = [(p.name, b) for p in PAGES for b in blocks(p, "python")]
    sources += [(p.name, p.read_text()) for p in (REPO / "docs/examples").glob("*.py")]
    for name, source in sources:
        for module in re.findall(r"^\s*from (mediagen[\w.]*) import", source, re.M):
            public = module == "mediagen" or module.startswith("mediagen.testing")
            # deployment_trigger.py is a worker-side example: it checks specs as workers do.
            if not public and name != "deployment_trigger.py":
                stray.append(f"{name}: from {module} import ...")
    assert not stray, "\n".join(stray)


def test_the_two_set_up_commands_are_in_the_readme_and_their_files_exist() -> None:
    readme = (REPO / "README.md").read_text()
    assert "python3 -m pip install -c requirements/constraints.txt -e '.[gemini,s3]'" in readme
    assert "&& mediagen run specs/examples/batch-goals.yaml" in readme
    assert "\nbash .ci/run\n" in readme
    for path in ("requirements/constraints.txt", "specs/examples/batch-goals.yaml", ".ci/run"):
        assert (REPO / path).is_file(), path
