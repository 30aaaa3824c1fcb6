"""Decoded pixels in flight are bounded by the pixel budget, not only by concurrency."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mediagen.engine import process as process_module
from mediagen.engine.generate import generate
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.imaging import pixel_budget
from mediagen.imaging.pixel_budget import PixelBudget
from mediagen.imaging.renditions import PreparedImage
from tests.support.jobs import the_job


class Live:
    """How many decoded originals exist at once (and the most seen)."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def change(self, delta: int) -> None:
        with self.lock:
            self.now += delta
            self.most = max(self.most, self.now)


def process_four_at_once(monkeypatch: pytest.MonkeyPatch) -> Live:
    live = Live()

    class Counted(PreparedImage):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            live.change(+1)
            time.sleep(0.3)  # long enough for the other threads to arrive

        def close(self) -> None:
            live.change(-1)
            super().close()

    monkeypatch.setattr(process_module, "PreparedImage", Counted)
    job, ctx = the_job()
    run = Run()
    generated = generate(job, ctx, run)
    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(process, job, generated, ctx, run) for _ in range(4)]:
            assert done.result()[0].width == 320  # thumbnail: 320x320
    return live


def test_a_small_budget_decodes_one_image_at_a_time(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # thumbnail: a 320x320 original and output, 0.2 Mpx per image.
    monkeypatch.setenv("MEDIAGEN_PIXEL_BUDGET", "300000")
    assert process_four_at_once(monkeypatch).most == 1


def test_a_large_budget_lets_them_overlap(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAGEN_PIXEL_BUDGET", "100000000")
    assert process_four_at_once(monkeypatch).most > 1  # the test above can see overlap


def test_holds_never_exceed_the_budget_and_a_heavy_one_runs_alone() -> None:
    budget = PixelBudget(100)
    inside: list[int] = []
    heavy_alone: list[bool] = []

    def work(pixels: int) -> None:
        with budget.hold(pixels):
            inside.append(budget.used)
            if pixels > 100:
                heavy_alone.append(budget.used == 100)
            time.sleep(0.02)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(work, [40, 40, 40, 500, 30, 30, 60, 40]))
    assert max(inside) <= 100 and budget.peak <= 100
    assert heavy_alone == [True] and budget.used == 0


def test_the_setting_sizes_the_process_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAGEN_PIXEL_BUDGET", "1234")
    assert pixel_budget.current().limit == 1234
