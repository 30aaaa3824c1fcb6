"""Checks made before a run starts any work: local bucket folder, credentials and budget.

The CLI runs them before it starts Prefect, and the flow again after its plan
(a deployment bypasses the CLI), so a spec that asks for ``gemini`` without a
key, or whose estimate exceeds ``budget_usd``, fails with one message and no
backend call, upload or manifest.
"""

from __future__ import annotations

from mediagen.backends import get_backend_class
from mediagen.backends.gemini import pricing
from mediagen.engine import guard as run_guard
from mediagen.errors import ConfigurationError
from mediagen.plan import trust
from mediagen.plan.diff import Plan
from mediagen.plan.jobs import ImageJob
from mediagen.settings import Settings
from mediagen.spec import alt_text
from mediagen.spec.models import JobSpec
from mediagen.storage.bucket import BucketConfig


def check_run(spec: JobSpec, plan: Plan, settings: Settings) -> None:
    """Raise ConfigurationError or BudgetExceededError when the run must not start."""
    bucket = BucketConfig.for_spec(spec, settings)
    if bucket.provider == "local":  # one line now, not a traceback per image later
        trust.ensure_local_bucket(bucket.bucket, named_by_spec=spec.storage.bucket is not None)
    todo = plan.todo
    for name in sorted({job.backend for job in todo}):
        get_backend_class(name).check_configuration(settings)
    if spec.budget_usd is None:
        return
    unpriced = sorted(
        {
            model
            for job in todo
            if job.backend == "gemini"
            for model in (job.request.model or "", *job.request.fallback_models)
            if model and pricing.price_for(model, settings.gemini_pricing) is None
        }
        | _unpriced_describe_model(todo, settings)
    )
    if unpriced:
        raise ConfigurationError(
            f"budget_usd is set but no price is known for {', '.join(map(repr, unpriced))}: "
            "add it with MEDIAGEN_GEMINI_PRICING so the budget can be enforced"
        )
    run_guard.check_estimate(plan.estimated_cost_usd, spec.budget_usd)


def _unpriced_describe_model(todo: list[ImageJob], settings: Settings) -> set[str]:
    """The Gemini alt-text model, when some image asks for auto alt text and it has no price."""
    model = settings.gemini_describe_model
    wanted = any(job.backend == "gemini" and alt_text.is_auto(job.alt_text) for job in todo)
    priced = pricing.price_for(model, settings.gemini_pricing) is not None
    return {model} if wanted and not priced else set()
