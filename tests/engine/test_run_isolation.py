"""Runs share nothing by accident (issue 14): each Run has its own stop flag, budget,
rate limits and clients, so one run's abort, budget or limits never reach another.

Gemini goes through the real google-genai SDK to the local fake server, which
refuses any key but its own (400 API_KEY_INVALID, as Gemini does).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mediagen.backends import get_backend_class
from mediagen.client.config import ClientConfig, GeminiConfig, StorageConfig
from mediagen.client.media_client import MediaClient
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import make_image
from mediagen.engine.ratelimit import RateLimit
from mediagen.engine.run import Run
from mediagen.errors import BudgetExceededError, RunAbortedError
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import TEST_KEY
from tests.support.local_run import run_locally

BOUND = 120  # seconds: a did-not-hang bound for threads, never a timing claim


def client_for(server: FakeGeminiServer, workspace: Path, **config: Any) -> MediaClient:
    return MediaClient(
        ClientConfig(
            backend="gemini",
            gemini=GeminiConfig(api_key=TEST_KEY, base_url=server.base_url),
            storage=StorageConfig(provider="local", bucket=str(workspace / "bucket")),
            **config,
        )
    )


def test_a_bad_key_spec_run_then_a_good_client_call_succeeds(
    gemini_env: FakeGeminiServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-wrong-key-0000")
    spec = {
        "name": "refused",
        "backend": "gemini",
        "images": [{"id": f"i{n}", "prompt": f"a jar of coins {n}", "size": "thumbnail"}
                   for n in range(3)],
    }  # fmt: skip
    manifest = run_locally(spec)
    assert manifest.run_aborted and "API_KEY_INVALID" in manifest.run_aborted
    assert all(e.status == "failed" and e.aborted for e in manifest.images.values())
    refused = len(gemini_env.requests)
    assert refused == 1  # one refusal, then the run stopped: no call for the others

    with client_for(gemini_env, workspace) as client:
        image = client.generate_image("a piggy bank on a desk", size="thumbnail")
    assert image.backend == "gemini" and not image.cached and image.data
    made = gemini_env.requests[refused:]
    assert [(r.status, r.api_key) for r in made] == [(200, TEST_KEY)]


def overlap(requests: list[Any]) -> int:
    """The most of ``requests`` the server was answering at once (from its own records)."""
    edges = sorted(
        itertools.chain.from_iterable(((r.started, 1), (r.finished, -1)) for r in requests),
        key=lambda edge: (edge[0], edge[1]),  # a request that ended before one started
    )
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_two_clients_at_once_each_keep_their_own_budget_and_limits(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    # Answers take a while, so requests of one client would overlap if its limit let them.
    gemini_env.script(Fault.slow(0.5), times=None)
    probe = client_for(gemini_env, workspace)
    job = probe._job("alpha picture number 0", size="thumbnail")
    estimate = get_backend_class("gemini").estimate_cost(job.request, probe.settings)
    probe.close()
    assert estimate > 0
    one_at_a_time = {"*": RateLimit(max_concurrency=1)}
    alpha = client_for(gemini_env, workspace, budget_usd=2.5 * estimate, rate_limits=one_at_a_time)
    beta = client_for(gemini_env, workspace, rate_limits={"*": RateLimit(max_concurrency=3)})
    outcomes: dict[str, list[object]] = {"alpha": [], "beta": []}

    def calls(name: str, client: MediaClient) -> Callable[[], None]:
        def one(n: int) -> object:
            try:
                return client.generate_image(f"{name} picture number {n}", size="thumbnail")
            except BudgetExceededError as exc:
                return exc

        def all_of_them() -> None:
            with ThreadPoolExecutor(6) as pool:
                outcomes[name] = list(pool.map(one, range(6)))

        return all_of_them

    threads = [
        threading.Thread(target=calls("alpha", alpha)),
        threading.Thread(target=calls("beta", beta)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
        assert not thread.is_alive()
    alpha.close()
    beta.close()

    # alpha: its budget paid for two images; the others were refused before any call.
    refused = [o for o in outcomes["alpha"] if isinstance(o, BudgetExceededError)]
    assert len(refused) == 4 and len(gemini_env.requests_for("alpha picture")) == 2
    assert alpha.stats.backend_calls == 2
    # beta: no budget of its own, whatever alpha's; all six made.
    assert not [o for o in outcomes["beta"] if isinstance(o, BaseException)]
    assert len(gemini_env.requests_for("beta picture")) == 6
    # Each client's own limit: alpha never had two requests in flight, beta had up to 3.
    assert overlap(gemini_env.requests_for("alpha picture")) == 1
    assert 2 <= overlap(gemini_env.requests_for("beta picture")) <= 3


def local_job(workspace: Path, name: str) -> tuple[Any, RunContext]:
    settings = get_settings()
    images = [{"id": "a", "prompt": f"{name} jar"}]
    spec = parse_spec({"name": name, "backend": "counting", "images": images})
    job = expand_spec(spec, settings)[0]
    return job, RunContext.for_spec(spec, settings, run_id=name)


def test_aborting_one_run_leaves_another_running(workspace: Path, counting: Any) -> None:
    job_a, ctx_a = local_job(workspace, "first")
    job_b, ctx_b = local_job(workspace, "second")
    with Run(run_id="first") as first, Run(run_id="second") as second:
        first.abort("the key was refused")
        with pytest.raises(RunAbortedError, match="the key was refused"):
            first.check()
        second.check()  # untouched
        assert first.wait_stopped(0) and not second.wait_stopped(0)

        stopped = make_image(job_a, ctx_a, first)
        made = make_image(job_b, ctx_b, second)
    assert stopped.status == "failed" and stopped.aborted
    assert made.status == "ok" and not made.aborted
    assert counting.total() == 1  # only the running run called its backend
    assert first.aborted == "the key was refused" and second.aborted is None


def test_an_abort_wakes_the_waits_of_its_own_run_only() -> None:
    with Run(run_id="first") as first, Run(run_id="second") as second:
        woke: dict[str, BaseException | None] = {}

        def wait(name: str, run: Run) -> None:
            try:
                run.sleep(600)  # a retry backoff: only a stop ends it early
                woke[name] = None
            except RunAbortedError as exc:
                woke[name] = exc

        threads = {name: threading.Thread(target=wait, args=(name, run), daemon=True)
                   for name, run in (("first", first), ("second", second))}  # fmt: skip
        for thread in threads.values():
            thread.start()
        first.abort("the key was refused")
        threads["first"].join(BOUND)
        assert not threads["first"].is_alive()
        assert isinstance(woke["first"], RunAbortedError)
        assert threads["second"].is_alive() and "second" not in woke  # still waiting
        second.interrupt("test over")  # an interrupt wakes it too (RunInterruptedError)
        threads["second"].join(BOUND)
        assert not threads["second"].is_alive() and woke["second"] is not None
        assert second.aborted is None


def test_a_run_builds_its_clients_once_and_releases_them(workspace: Path) -> None:
    _, ctx = local_job(workspace, "clients")
    with Run() as run, Run() as other:
        assert run.backend("offline") is run.backend("offline")
        assert run.backend("offline") is not other.backend("offline")
        assert run.backend("offline").call_guard is run  # the backend's CallGuard is its run
        assert run.bucket(ctx.bucket) is run.bucket(ctx.bucket)
    assert run.closed
    with pytest.raises(RuntimeError, match="closed"):
        run.backend("offline")
