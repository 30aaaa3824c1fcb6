"""An image's candidates as jobs: their seeds, their keys, and how the plan compares them.

Candidate 0 is the image's own job; candidate ``i >= 1`` is the same request with
the seed :func:`candidate_seed` derives from the image's ``gen_key`` and ``i``, and
:func:`rekey` recomputes every key that depends on the request (gen_key, original,
out_keys, object keys, facts_key) exactly as :mod:`mediagen.plan.jobs` computed them
(a test checks ``rekey(job, job.request) == job``). See :mod:`mediagen.spec.selection`
for the whole data model. Pure: no bucket, no backend.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING

from mediagen.backends import GenerationRequest
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob, Output
from mediagen.spec.formats import EXTENSIONS

if TYPE_CHECKING:
    from mediagen.manifest.model import ImageEntry

SEED_LIMIT = 2**31  # the spec's seed range: 0 .. 2**31 - 1


def candidate_seed(base_gen_key: str, index: int, taken: Collection[int | None] = ()) -> int:
    """The seed of candidate ``index`` (>= 1): derived from the image's gen_key, so the same
    spec gives the same seeds on any machine; never one in ``taken``."""
    attempt = 0
    while True:
        digest = keys.canonical_hash({"gen": base_gen_key, "candidate": index, "try": attempt})
        seed = int(digest[:8], 16) % SEED_LIMIT
        if seed not in taken:
            return seed
        attempt += 1


def candidate_seeds(job: ImageJob) -> list[int | None]:
    """Every candidate's seed, candidate 0 (the image's own seed, maybe None) first."""
    seeds: list[int | None] = [job.request.seed]
    for index in range(1, max(1, job.candidates)):
        seeds.append(candidate_seed(job.gen_key, index, set(seeds)))
    return seeds


def rekey(job: ImageJob, request: GenerationRequest) -> ImageJob:
    """``job`` asking ``request`` instead: every key that hashes the request, recomputed."""
    if job.keying is None:
        raise ValueError(f"image {job.id!r}: this job cannot be re-keyed (no keying)")
    keying = job.keying
    gen_key = keys.gen_key_for(job.backend, request)
    outputs = tuple(_rekeyed(job, output, gen_key) for output in job.outputs)
    return replace(
        job,
        request=request,
        gen_key=gen_key,
        outputs=outputs,
        original_key=keys.original_base(keying.prefix, gen_key),
        facts_key=keys.facts_key_for(gen_key, **keying.facts),
    )


def _rekeyed(job: ImageJob, output: Output, gen_key: str) -> Output:
    assert job.keying is not None
    keying = job.keying
    out_key = keys.out_key_for(gen_key, output.spec, keying.out_extra or None)
    extension = EXTENSIONS[output.format]

    def where(key: str, width: int | None) -> str:
        return keys.output_key(
            keying.prefix, job.id, key, extension, naming=keying.naming, width=width
        )

    # A main output and a rendition differ only in the width tag of their object key.
    width = None if output.object_key == where(output.out_key, None) else output.spec.width
    return replace(output, out_key=out_key, object_key=where(out_key, width))


def candidate_jobs(job: ImageJob) -> list[ImageJob]:
    """Every candidate of ``job``, candidate 0 (its own request) first.

    Each is a plain one-image job (``candidates=1``, ``pick='auto'``): what the
    ordinary generate, process and upload stages make and publish."""
    plain = replace(job, candidates=1, pick="auto")
    seeds = candidate_seeds(job)
    return [plain] + [rekey(plain, replace(job.request, seed=seed)) for seed in seeds[1:]]


def candidate_job(job: ImageJob, index: int) -> ImageJob:
    """Candidate ``index`` of ``job`` (see :func:`candidate_jobs`)."""
    return candidate_jobs(job)[index]


def candidate_gen_keys(job: ImageJob) -> list[str]:
    return [c.gen_key for c in candidate_jobs(job)]


def has_choice(job: ImageJob) -> bool:
    """Does ``job`` choose among candidates (several, or a person reviews)?"""
    return job.candidates > 1 or job.pick == "review"


def as_recorded(job: ImageJob, entry: ImageEntry | None) -> tuple[ImageJob, str]:
    """The job the plan compares with ``entry``: the candidate the entry published, and a
    reason when the candidates themselves changed (``''``: they did not).

    An entry without candidates (made before, or with one) stands for candidate 0 alone.
    """
    if entry is None or not has_choice(job):
        return job, ""
    jobs = candidate_jobs(job)
    wanted = [c.gen_key for c in jobs]
    recorded = [c.gen_key for c in entry.candidates] or [entry.gen_key]
    if recorded != wanted:
        return job, f"candidates changed ({len(recorded)} recorded, {len(wanted)} wanted)"
    pick = entry.pick
    chosen = pick.chosen if pick is not None else None
    if pick is None or chosen is None or not 0 <= chosen < len(jobs):
        return job, "no candidate chosen yet"
    if pick.mode != job.pick:
        return job, f"pick changed ({pick.mode} → {job.pick})"
    if pick.keep_candidates != job.keep_candidates:  # re-recorded: no call, prune follows
        return jobs[chosen], "keep_candidates changed"
    return jobs[chosen], ""


__all__ = [
    "as_recorded",
    "candidate_gen_keys",
    "candidate_job",
    "candidate_jobs",
    "candidate_seed",
    "candidate_seeds",
    "has_choice",
    "rekey",
]
