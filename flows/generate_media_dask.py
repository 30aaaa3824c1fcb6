"""``generate-media`` with its tasks on Dask, for deployments.

A deployment loads a flow from its entrypoint, and a flow's task runner is
fixed where the flow is declared; so the Dask variant is a flow of its own, of
the same name, whose body is the ordinary flow's. It connects to
``MEDIAGEN_DASK_ADDRESS`` (set in the work pool's job variables or on the
worker), or starts a local cluster of ``MEDIAGEN_DASK_WORKERS`` processes for
the run. (``mediagen run --runner dask`` needs none of this.)

(Not named ``distributed.py``: Prefect loads an entrypoint with its folder on
``sys.path``, where that name would hide Dask's own ``distributed`` package.)
"""

from prefect import flow
from prefect.states import State

from flows.generate_media import _run_name, generate_media
from flows.parameters import SpecParameter
from flows.runners import task_runner_for


@flow(
    name="generate-media",
    flow_run_name=_run_name,
    task_runner=task_runner_for("dask"),
    persist_result=False,
)
def generate_media_dask(spec: SpecParameter, concurrency: int | None = None) -> State:
    """Generate, process and publish every image of ``spec``, with the tasks on Dask."""
    return generate_media.fn(spec, concurrency)
