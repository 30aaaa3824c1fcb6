"""Checks made before a run starts any work: local bucket folder, credentials and budget.

The CLI runs them before it starts Prefect, and the flow again after its plan
(a deployment bypasses the CLI), so a spec whose backend has no key, or whose
estimate exceeds ``budget_usd``, fails with one message and no backend call,
upload or manifest. What a backend needs (its key, the prices a budget needs)
is the backend's to say: this module asks, and names no provider.
"""

from __future__ import annotations

from mediagen.backends import get_backend_class
from mediagen.errors import BudgetExceededError, ConfigurationError
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
    problems = [
        f"no price is known for {', '.join(map(repr, sorted(models)))}: {help_}"
        for models, help_ in _unpriced(todo, settings)
    ]
    if problems:
        raise ConfigurationError(
            f"budget_usd is set but {'; '.join(problems)} so the budget can be enforced"
        )
    check_estimate(plan.estimated_cost_usd, spec.budget_usd)


def _unpriced(todo: list[ImageJob], settings: Settings) -> list[tuple[set[str], str]]:
    """Per backend: the models it would spend money on without a known price, and how
    to add one (each backend's own ``pricing_help``)."""
    by_backend: dict[str, set[str]] = {}
    for job in todo:
        backend = get_backend_class(job.backend)
        by_backend.setdefault(job.backend, set()).update(
            backend.unpriced_models(job.request, settings, describes=alt_text.is_auto(job.alt_text))
        )
    return [
        (models, get_backend_class(name).pricing_help or "add its price")
        for name, models in sorted(by_backend.items())
        if models
    ]


def check_estimate(estimate_usd: float, budget_usd: float | None) -> None:
    """Refuse to start a run whose estimated cost exceeds the budget."""
    if budget_usd is not None and estimate_usd > budget_usd + 1e-9:
        raise BudgetExceededError(
            f"estimated cost ${estimate_usd:.4f} exceeds budget_usd ${budget_usd:.4f}: "
            "nothing was started; raise budget_usd or make fewer or cheaper images",
            budget_usd=budget_usd,
            needed_usd=estimate_usd,
        )
