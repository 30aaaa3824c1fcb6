"""How big a run is: ``plan`` warns before a spec fills a disk or a day.

A spec within every cap can still ask for a lot: 10,000 images × 8192² ×
several formats and widths. The estimate counts what the run would write
(every output of every image to make, plus its original) and the encoding
time, and ``plan`` prints a warning when one of them passes its threshold:

==================  ============================  =======
estimate            setting                       default
==================  ============================  =======
output size         ``MEDIAGEN_PLAN_WARN_DISK_GB``    10 GB
encoding time       ``MEDIAGEN_PLAN_WARN_CPU_HOURS``  1 CPU-hour
output files        ``MEDIAGEN_PLAN_WARN_FILES``      50,000
==================  ============================  =======

Bytes per pixel and encoding speed per format were measured on this project's
2-core machine (2026-11-29, Pillow, a 2048² detailed RGB image: JPEG q85
11.4 MP/s 0.20 B/px, WebP q80 2.7 MP/s 0.15 B/px, PNG 0.6 MP/s 1.35 B/px,
AVIF q60 0.8 MP/s 0.11 B/px); sizes are rounded up, since images vary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mediagen.plan.jobs import ImageJob

# format: (bytes per pixel, megapixels encoded per second on one core)
FORMAT_COST = {
    "jpeg": (0.3, 11.0),
    "webp": (0.25, 2.7),
    "png": (1.5, 0.6),
    "avif": (0.15, 0.8),
}
ORIGINAL_BYTES_PER_PIXEL = 1.5  # originals are kept as the backend sent them (PNG, mostly)


@dataclass(frozen=True)
class RunSize:
    """What a run would write and how long its encoding would take."""

    files: int
    bytes: float
    cpu_seconds: float

    def warnings(self, settings: Any) -> list[str]:
        """One line per threshold passed (settings: ``plan_warn_*``)."""
        out = []
        gb = self.bytes / 1e9
        if gb > settings.plan_warn_disk_gb:
            out.append(
                f"this run would write about {gb:,.1f} GB, more than "
                f"MEDIAGEN_PLAN_WARN_DISK_GB={settings.plan_warn_disk_gb:g}"
            )
        hours = self.cpu_seconds / 3600
        if hours > settings.plan_warn_cpu_hours:
            out.append(
                f"encoding would take about {hours:,.1f} CPU-hours, more than "
                f"MEDIAGEN_PLAN_WARN_CPU_HOURS={settings.plan_warn_cpu_hours:g}"
            )
        if self.files > settings.plan_warn_files:
            out.append(
                f"this run would write {self.files:,} files, more than "
                f"MEDIAGEN_PLAN_WARN_FILES={settings.plan_warn_files:,}"
            )
        return out


def run_size(jobs: list[ImageJob]) -> RunSize:
    """The estimate for making ``jobs`` (pass the plan's ``todo``)."""
    files, size, seconds = 0, 0.0, 0.0
    for job in jobs:
        files += 1  # the original
        size += job.request.width * job.request.height * ORIGINAL_BYTES_PER_PIXEL
        for output in job.outputs:
            bytes_per_pixel, megapixels_per_second = FORMAT_COST.get(output.format, (1.5, 0.6))
            pixels = output.spec.width * output.spec.height
            files += 1
            size += pixels * bytes_per_pixel
            seconds += pixels / 1e6 / megapixels_per_second
    return RunSize(files, size, seconds)
