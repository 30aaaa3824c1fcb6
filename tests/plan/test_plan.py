"""The plan: diffing a spec's jobs against the previous manifest."""

from __future__ import annotations

from mediagen.manifest.model import ImageEntry, Manifest, OutputEntry
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec

SETTINGS = Settings(backend="offline", _env_file=None)


def jobs_for(*images: dict) -> list:
    return expand_spec(parse_spec({"name": "p", "images": list(images)}), SETTINGS)


def published(job, status: str = "ok") -> ImageEntry:
    outputs = [
        OutputEntry(format=o.format, key=o.object_key, url="u", width=1, height=1, bytes=1,
                    sha256="s", content_type="image/png", out_key=o.out_key)
        for o in job.outputs
    ]  # fmt: skip
    return ImageEntry(
        id=job.id, status=status, width=1, height=1, format="png", outputs=outputs,
        prompt=job.prompt, subject=job.subject, backend="offline", model="m", theme="modern",
        size="standard", quality="standard", gen_key=job.gen_key, facts_key=job.facts_key,
        error=None if status == "ok" else "boom",
    )  # fmt: skip


def test_new_unchanged_changed_retry_removed() -> None:
    old = jobs_for(
        {"id": "same", "prompt": "a"},
        {"id": "reworded", "prompt": "b"},
        {"id": "reformatted", "prompt": "c"},
        {"id": "failed", "prompt": "d"},
        {"id": "gone", "prompt": "e"},
    )
    previous = Manifest(
        spec_name="p", spec_hash="h",
        images={j.id: published(j, "failed" if j.id == "failed" else "ok") for j in old},
    )  # fmt: skip
    new = jobs_for(
        {"id": "same", "prompt": "a"},
        {"id": "reworded", "prompt": "b, but different"},
        {"id": "reformatted", "prompt": "c", "formats": ["webp"]},
        {"id": "failed", "prompt": "d"},
        {"id": "fresh", "prompt": "f"},
    )
    plan = make_plan(new, previous, SETTINGS)

    actions = {i.job.id: i.action for i in plan.items}
    assert actions == {
        "same": "unchanged",
        "reworded": "changed",
        "reformatted": "changed",
        "failed": "retry",
        "fresh": "new",
    }
    assert plan.removed == ["gone"]
    assert [j.id for j in plan.todo] == ["reworded", "reformatted", "failed", "fresh"]
    assert plan.counts() == {"new": 1, "changed": 2, "retry": 1, "unchanged": 1, "removed": 1}
    assert plan.estimated_cost_usd == 0.0  # offline is free


def test_without_a_manifest_everything_is_new() -> None:
    plan = make_plan(jobs_for({"id": "a", "prompt": "x"}), None, SETTINGS)
    assert plan.counts()["new"] == 1 and plan.removed == []
