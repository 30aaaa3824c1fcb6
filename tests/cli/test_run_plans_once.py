"""One ``mediagen run`` plans once: the flow takes the plan the command made.

The command plans (reading the previous manifest) and runs preflight before it
starts Prefect; the flow it starts in this process takes that plan
(:mod:`flows.plan_handoff`) instead of planning again. A run with nobody to hand
it a plan (a deployment, the Python API) plans itself, and so does a flow handed
a plan that is not for its spec or settings.

``mediagen run`` runs in this process (typer's CliRunner) so that the planning
function and preflight can be counted wherever they are imported from.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import flows.generate_media  # noqa: F401 - loaded, so its imported names are spied too
from flows.plan_handoff import Planned
from flows.run import run_flow
from mediagen.cli.app import app
from mediagen.plan import diff, preflight
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec

pytestmark = pytest.mark.usefixtures("prefect_server")

IMAGES = [
    {"id": "goal-car", "prompt": "saving for a car", "size": "thumbnail"},
    {"id": "goal-home", "prompt": "saving for a home", "size": "thumbnail"},
]


def spec_of(images: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "plan-once", "backend": "counting", "images": images}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> Counter[str]:
    """Calls of the planning function and of preflight, wherever they are called from."""
    counts: Counter[str] = Counter()

    def spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(*args, **kwargs)

        return counted

    # Every module that imported make_plan by name (the CLI, the flow), not just plan.diff.
    real = diff.make_plan
    counted = spy("make_plan", real)
    for module in list(sys.modules.values()):
        if vars(module).get("make_plan") is real:
            monkeypatch.setattr(module, "make_plan", counted)
    monkeypatch.setattr(preflight, "check_run", spy("check_run", preflight.check_run))
    return counts


def mediagen_run(path: Path, images: list[dict[str, Any]]) -> Any:
    path.write_text(yaml.safe_dump(spec_of(images)))
    return CliRunner().invoke(app, ["run", str(path)], env={"COLUMNS": "200"})


def test_one_mediagen_run_plans_once_and_the_flow_uses_that_plan(
    workspace: Path, counting: Any, calls: Counter[str]
) -> None:
    result = mediagen_run(workspace / "spec.yaml", IMAGES)

    assert result.exit_code == 0, result.output
    assert calls == {"make_plan": 1, "check_run": 1}
    assert counting.total() == 2  # the handed plan made both images
    assert (workspace / "bucket" / "plan-once" / "manifest.json").is_file()

    # A changed image: the command's plan (against the manifest just written) says one
    # image to make, and the flow makes exactly that one, still planning once.
    calls.clear()
    changed = [IMAGES[0], {**IMAGES[1], "prompt": "saving for a bigger home"}]
    result = mediagen_run(workspace / "spec.yaml", changed)

    assert result.exit_code == 0, result.output
    assert "1 image(s) to make, 1 unchanged" in result.output
    assert calls == {"make_plan": 1, "check_run": 1}
    assert counting.total() == 3  # one more backend call, not two


def test_a_run_without_the_cli_plans_itself(
    workspace: Path, counting: Any, calls: Counter[str]
) -> None:
    """A deployment run or the Python API: nobody hands a plan, the flow plans."""
    manifest = run_flow(spec_of(IMAGES))

    assert manifest.counts["ok"] == 2 and counting.total() == 2
    assert calls == {"make_plan": 1, "check_run": 1}


@pytest.mark.parametrize("stale", ["another spec", "other settings"])
def test_a_plan_for_another_spec_or_settings_is_not_taken(
    workspace: Path, counting: Any, calls: Counter[str], stale: str
) -> None:
    settings = get_settings()
    other = parse_spec(spec_of(IMAGES[:1]))
    # An empty plan: taken, it would make nothing.
    empty = diff.Plan(items=[])
    if stale == "another spec":
        planned = Planned(other.content_hash(), settings, empty, None)
    else:
        this = parse_spec(spec_of(IMAGES))
        elsewhere = settings.model_copy(update={"storage_bucket": str(workspace / "elsewhere")})
        planned = Planned(this.content_hash(), elsewhere, empty, None)

    manifest = run_flow(spec_of(IMAGES), planned=planned)

    assert manifest.counts["ok"] == 2 and counting.total() == 2
    assert calls == {"make_plan": 1, "check_run": 1}  # the flow's own
