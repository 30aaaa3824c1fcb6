"""The typed ``spec`` parameter of the ``generate-media`` flows.

A deployment's parameter schema comes from the flow's type hints. With the
spec model in them, the server knows what a spec looks like: it rejects a bad
spec when the run is created (the deployments set ``enforce_parameter_schema``)
instead of a worker failing on it later, and the UI's "Custom run" shows a
form of the spec's fields instead of a free-form JSON box.

A spec is either its content (what ``mediagen submit`` sends) or the path of a
YAML file in the project folder (what the scheduled deployment names).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from mediagen.spec.models import JobSpec

SpecPath = Annotated[
    str,
    Field(
        title="Spec file",
        description="Path of a YAML spec, relative to the project folder on the worker.",
        pattern=r"\.ya?ml$",
        examples=["specs/examples/batch-goals.yaml"],
    ),
]

SpecParameter = Annotated[
    JobSpec | SpecPath,
    Field(description="The spec: its content (name, images, ...) or the path of its file."),
]


def spec_name(spec: Any) -> str | None:
    """The spec's name from a parameter value (model, mapping or path), if it has one."""
    if isinstance(spec, JobSpec):
        return spec.name
    if isinstance(spec, dict):
        return str(spec.get("name", "inline-spec"))
    return None
