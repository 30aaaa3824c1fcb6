"""The candidates of one image under review, and what a reviewer's note does to them.

``pick: review`` makes ``candidates`` generations of an image (distinct seeds), and
a reviewer's rejection note is appended to the prompt, which makes new ones. Each
candidate is a variant of the image's :class:`~mediagen.plan.jobs.ImageJob` with
its own request, so its own ``gen_key``, original, ``out_key``s and object keys:
the bucket caches each candidate like any image (never paid twice), and publishing
the chosen one is the ordinary process → upload of its job.

The keys are derived from the job alone (:func:`rekey`), the same way
:mod:`mediagen.plan.jobs` derives them from the spec; ``rekey(job, job.request)``
gives the job back unchanged (tests/engine/test_review_candidates.py pins that).

Seeds: candidate 0 is the image exactly as the spec asks for it (same gen_key as
without review), candidate ``i`` asks for seed ``base + i`` (base: the spec's seed,
else 0). The interim seam until the candidate model of ``candidates: N`` lands
(branch h17-candidates); what the reviewer needs of it is :func:`candidate_job`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mediagen.imaging.crops import DEFAULT_FOCAL
from mediagen.imaging.facts import FACTS_VERSION
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob, Output
from mediagen.spec import alt_text as alt

NOTE_HEAD = "Reviewer's note: "  # how a rejection note is appended to the prompt


def candidate_count(job: ImageJob) -> int:
    """How many candidates the spec asks for (``candidates``; 1 before that field exists)."""
    return max(1, int(getattr(job, "candidates", 1) or 1))


def wants_review(job: ImageJob) -> bool:
    """True when the spec says ``pick: review`` for this image."""
    return getattr(job, "pick", None) == "review"


def prompt_with_notes(prompt: str, notes: tuple[str, ...]) -> str:
    """The prompt with the reviewer's notes appended, oldest first."""
    return " ".join([prompt, *(f"{NOTE_HEAD}{n.strip()}" for n in notes if n.strip())])


def candidate_job(job: ImageJob, index: int, notes: tuple[str, ...] = ()) -> ImageJob:
    """Candidate ``index`` of ``job`` after the reviewer's ``notes`` (see the module doc)."""
    request = job.request
    if notes:
        request = replace(request, prompt=prompt_with_notes(request.prompt, notes))
    if index:
        request = replace(request, seed=(request.seed or 0) + index)
    return job if request == job.request else rekey(job, request)


def rekey(job: ImageJob, request: Any) -> ImageJob:
    """``job`` asking ``request`` instead: every key that depends on the request, anew."""
    gen_key = keys.gen_key_for(job.backend, request)
    alt_marker: Any = None
    if job.alt_text is not None:
        alt_marker = {"auto": job.purpose} if alt.is_auto(job.alt_text) else job.alt_text
    extra: dict[str, Any] = {}
    if job.focal_point != DEFAULT_FOCAL:
        extra["focal"] = job.focal_point
    if alt_marker is not None:
        extra["alt"] = alt_marker
    outputs = []
    for output in job.outputs:
        out_key = keys.out_key_for(gen_key, output.spec, extra)
        # 'hashed' naming carries out_key[:8] in the object key; 'stable' names stay put.
        object_key = output.object_key.replace(f"-{output.out_key[:8]}.", f"-{out_key[:8]}.")
        outputs.append(Output(output.format, output.spec, out_key, object_key))
    check = job.brand_check
    facts_key = keys.facts_key_for(
        gen_key,
        v=FACTS_VERSION,
        size=[request.width, request.height],
        focal=job.focal_point,
        brand=list(request.brand_colors),
        check=[check.max_delta_e, check.min_score] if check else None,
        sizes=job.picture_sizes,
        alt=alt_marker,
    )
    prefix = job.original_key.rpartition(f"/{keys.ORIGINALS_DIR}/")[0]
    return replace(
        job,
        request=request,
        gen_key=gen_key,
        outputs=tuple(outputs),
        original_key=keys.original_base(prefix, gen_key),
        facts_key=facts_key,
    )


__all__ = [
    "NOTE_HEAD",
    "candidate_count",
    "candidate_job",
    "prompt_with_notes",
    "rekey",
    "wants_review",
]
