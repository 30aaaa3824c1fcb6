"""What the flow's process still holds per image when the fan-out ends (issue 15 memory).

``python -m bench.retained 40 160``: two runs of the ``generate-media`` flow in this
process (offline renderer, 32×32 thumbnails, a local Prefect API, a temporary
folder), counting live objects by type (``gc.get_objects()``) at the moment the
manifest is finalized, when everything the run retained is still held. Prints the
difference per image, largest first: what grows with N. Flat memory means no
Prefect future, state or result record in this list.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.harness import Workspace, write_spec


def main(sizes: list[int]) -> None:
    root = Path(tempfile.mkdtemp(prefix="mediagen-retained-"))
    os.environ.update(Workspace.make(root).env)
    import flows.generate_media  # noqa: F401  (the module, not the flow it exports)
    from flows.local_api import local_api
    from flows.run import run_flow
    from mediagen.spec.models import load_spec

    module = sys.modules["flows.generate_media"]
    counts: dict[int, Counter[str]] = {}
    finalize = module.finalize

    def counting(ctx: Any, plan: Any, *args: Any) -> Any:
        gc.collect()
        counts[len(plan.todo)] = Counter(type(o).__name__ for o in gc.get_objects())
        return finalize(ctx, plan, *args)

    module.finalize = counting
    with local_api():
        for n in sizes:
            spec = write_spec(root / f"s{n}.yaml", f"retained-{n}", n, size="32x32")
            run_flow(load_spec(spec), concurrency=8)
    few, many = sorted(counts)
    per_image = {k: (counts[many][k] - counts[few][k]) / (many - few) for k in counts[many]}
    for name, grown in sorted(per_image.items(), key=lambda kv: -kv[1])[:25]:
        print(f"{name:40s} {grown:7.2f} per image")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [40, 160])
