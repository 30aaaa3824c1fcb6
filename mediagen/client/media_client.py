"""The Python API for application code: :class:`MediaClient`.

It runs the same core as the flows, without Prefect: a call is expanded like a
one-image spec (same presets, prompt composition and content-addressed keys,
``mediagen.plan.jobs``), generated through the same chain (``mediagen.engine.orchestrate``:
the original is stored privately in the bucket under ``_originals/{gen_key}``,
so the same prompt and parameters twice make one backend call, across
processes and machines, and shared with the flows' cache), then processed and
uploaded with the same storage rules (private unless configured public,
content-addressed keys cached forever).

Async methods run the sync core on a bounded thread pool owned by the client:
the backend SDK, s3fs and Pillow are blocking libraries, and Pillow's work is
CPU-bound, so threads (which those libraries release the GIL in) give real
overlap without a second, async copy of the pipeline. ``api_concurrency``
bounds the calls in flight per client.

Each client owns one :class:`~mediagen.engine.run.Run` (its budget, rate limits,
backend slots and clients): two clients in one process share none of it, and a
spec run that was aborted elsewhere in the process does not stop this one.

This module is the client's surface and its session (configuration, the Run, stats,
the async pool); the work is done by :mod:`mediagen.client.generation` (one image
through the engine's chain), :mod:`mediagen.client.publishing` (encoding, metadata,
puts, URLs back to keys) and :mod:`mediagen.client.spec_runs` (whole specs).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediagen.client import generation, publishing, spec_runs
from mediagen.client.config import ClientConfig
from mediagen.client.generation import SizeArg
from mediagen.client.publishing import Blob, ImageInput
from mediagen.client.results import GeneratedImage, Published
from mediagen.engine.context import RunContext
from mediagen.engine.run import Run
from mediagen.plan.jobs import ImageJob
from mediagen.spec.formats import EXTENSIONS
from mediagen.spec.vocabulary import Quality, Theme
from mediagen.storage.bucket import Bucket, BucketConfig

if TYPE_CHECKING:
    from mediagen.manifest.model import Manifest


@dataclass
class ClientStats:
    """What this client did: backend calls, cache hits, uploads, money."""

    backend_calls: int = 0
    cache_hits: int = 0
    uploads: int = 0
    upload_skips: int = 0  # identical object already at its content-addressed key
    deletes: int = 0
    cost_usd: float = 0.0


class MediaClient:
    """Generate, upload and delete images from application code.

    ``MediaClient()`` reads the environment; ``MediaClient(ClientConfig(...))``
    takes explicit values (anything left out still comes from the environment).
    Instances are independent and thread-safe; :func:`mediagen.client.api.get_client`
    shares one default instance when that is all an app needs.
    """

    def __init__(self, config: ClientConfig | None = None, *, validate: bool = True) -> None:
        self.config = config or ClientConfig.from_env()
        if validate:
            self.validate()
        self.settings = self.config.settings()
        storage = self.config.storage
        self._target = storage.target()  # the one model of a destination
        self.bucket_config = BucketConfig.from_target(self._target, self.settings)
        self.prefix = storage.prefix
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # The client's own run: its budget and limits; a refused key fails each call on its
        # own (a session goes on) instead of aborting the client for good.
        self.run = Run(
            self.settings,
            run_id="api",
            budget_usd=self.config.budget_usd,
            rate_limits=self.config.rate_limits,
            concurrency=self.settings.concurrency,
            abort_on_refusal=False,
        )
        self._ctx = RunContext(
            spec_name="api",
            spec_hash="",
            spec_version="1",
            prefix=self.prefix,
            bucket=self.bucket_config,
            run_id="api",
        )

    # -- configuration -------------------------------------------------------

    def validate(self) -> None:
        """Raise one :class:`ConfigurationError` naming every missing or invalid setting."""
        self.config.validate_all()

    @property
    def bucket(self) -> Bucket:
        return self.run.bucket(self.bucket_config)

    def close(self) -> None:
        """Release the thread pool and backend clients (the instance is unusable after)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.run.close()

    def __enter__(self) -> MediaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- generate ------------------------------------------------------------

    def generate_image(
        self,
        prompt: str,
        *,
        size: SizeArg = "standard",
        quality: Quality | str = Quality.STANDARD,
        theme: Theme | str | None = None,
        brand: Sequence[str | Mapping[str, str]] | None = None,
        format: str = "png",
        finance_context: bool | None = None,
        constraints: Sequence[str] | None = None,
        seed: int | None = None,
        model: str | Sequence[str] | None = None,
        backend: str | None = None,
        image_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        delivery: str | None = None,
    ) -> GeneratedImage:
        """Make one image (or take it from the cache) and return its bytes and metadata.

        ``size``: a preset (``thumbnail`` … ``hero``), ``"WxH"`` or ``(w, h)``;
        ``theme`` and ``brand`` (colours ``"#RRGGBB name"``) default to the brand
        config; ``brand=[]`` turns the brand colours off for this call. ``delivery``:
        ``flex`` asks the backend's cheaper, slower tier (not part of the cache key).
        """
        image, _ = self._generate(
            prompt,
            size=size,
            quality=quality,
            theme=theme,
            brand=brand,
            format=format,
            finance_context=finance_context,
            constraints=constraints,
            seed=seed,
            model=model,
            backend=backend,
            image_id=image_id,
            metadata=metadata,
            delivery=delivery,
        )
        return image

    def generate_and_upload(
        self,
        prompt: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        public: bool | None = None,
        **options: Any,
    ) -> Published:
        """:meth:`generate_image`, then publish it at the key the flows would use
        (``{prefix}/{id}-{hash8}.{ext}``): the same call twice uploads once."""
        image, key = self._generate(prompt, metadata=metadata, **options)
        tags = {
            "image-id": image.image_id,
            "gen-key": image.gen_key,
            "model": image.model,
            "backend": image.backend,
        }
        return self._publish(
            image,
            key,
            {**tags, **publishing.user_metadata(metadata)},
            public,
            immutable=True,
            skip_existing=True,
        )

    def _generate(
        self, prompt: str, *, metadata: Mapping[str, Any] | None = None, **options: Any
    ) -> tuple[GeneratedImage, str]:
        job = self._job(prompt, metadata=metadata, **options)
        image, key = generation.make_image(job, self._ctx, self.run, metadata)
        with self._lock:
            if image.cached:
                self.stats.cache_hits += 1
            else:
                self.stats.backend_calls += 1
                self.stats.cost_usd += image.cost_usd
        return image, key

    def _job(self, prompt: str, **options: Any) -> ImageJob:
        """The call as a one-image spec, expanded like the flows expand theirs."""
        return generation.job_for(self.config, self.settings, self._target, prompt, **options)

    # -- upload and delete ------------------------------------------------------

    def upload_image(
        self,
        image: ImageInput,
        *,
        key: str | None = None,
        image_id: str | None = None,
        format: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        public: bool | None = None,
    ) -> Published:
        """Upload a :class:`GeneratedImage`, image bytes, a Pillow image or a file.

        ``key`` is the full object key (overwritten if present, short cache
        lifetime). Without it the key is content-addressed under the prefix:
        ``{prefix}/{image_id}-{sha8}.{ext}``, or ``{prefix}/uploads/{sha16}.{ext}``,
        cached for a year, and not uploaded again when already there.
        ``format`` re-encodes when it differs from the data's.
        """
        data, fmt, width, height = publishing.encoded(image, format)
        digest = hashlib.sha256(data).hexdigest()
        ext = EXTENSIONS[fmt]
        # A GeneratedImage goes up as is, unless it was re-encoded to another format.
        generated = image if isinstance(image, GeneratedImage) and image.data is data else None
        if key is None:
            name = f"{image_id}-{digest[:8]}" if image_id else f"uploads/{digest[:16]}"
            content_addressed, key = True, f"{self.prefix}/{name}.{ext}".lstrip("/")
        else:
            content_addressed, key = False, key.lstrip("/")
        if image_id:
            metadata = {"image-id": image_id, **(metadata or {})}
        return self._publish(
            generated or Blob(data, fmt, width, height, digest),
            key,
            publishing.user_metadata(metadata),
            public,
            immutable=content_addressed,
            skip_existing=content_addressed,
        )

    def _publish(
        self,
        image: GeneratedImage | Blob,
        key: str,
        metadata: dict[str, str],
        public: bool | None,
        *,
        immutable: bool,
        skip_existing: bool,
    ) -> Published:
        public = self.bucket_config.public if public is None else public
        published = publishing.publish(
            self.bucket,
            image,
            key,
            metadata,
            public,
            immutable=immutable,
            skip_existing=skip_existing,
        )
        with self._lock:
            if published.uploaded:
                self.stats.uploads += 1
            else:
                self.stats.upload_skips += 1
        return published

    def delete_image(self, key_or_url: str | Published) -> bool:
        """Delete an object by key, URL or :class:`Published`; False when it was not there."""
        if isinstance(key_or_url, Published):
            key_or_url = key_or_url.key
        key = self.key_for(key_or_url)
        bucket = self.bucket
        if not bucket.exists(key):
            return False
        bucket.delete(key)
        with self._lock:
            self.stats.deletes += 1
        return True

    def key_for(self, key_or_url: str) -> str:
        """The object key of a key or of a URL this client hands out."""
        return publishing.key_from_url(self.bucket, self.bucket_config, key_or_url)

    # -- specs -----------------------------------------------------------------

    def run_spec(
        self,
        spec: Any,
        *,
        concurrency: int | None = None,
        runner: str | None = None,
        delivery: str | None = None,
    ) -> Manifest:
        """Run a whole spec (a path, YAML text, a mapping or a JobSpec) through the
        Prefect flow in this process and return its manifest.

        ``runner``: the flow's task runner (``thread`` or ``dask``; see flows/run.py).
        ``delivery``: ``sync``, ``batch`` or ``flex`` for every image, whatever the spec says.
        The run uses this client's configuration (key, backend; and its storage for
        a spec that names none); its own Run, with the spec's budget and limits.
        Dask workers read their own environment. For long batches in a web app,
        trigger a deployment instead (``docs/examples/deployment_trigger.py``).
        """
        settings = spec_runs.spec_settings(self.settings, self.config.storage)
        return spec_runs.run_spec(
            spec, settings, concurrency=concurrency, runner=runner, delivery=delivery
        )

    # -- async -------------------------------------------------------------------

    async def agenerate_image(self, prompt: str, **options: Any) -> GeneratedImage:
        """:meth:`generate_image` on the client's bounded thread pool."""
        return await self._in_pool(self.generate_image, prompt, **options)

    async def agenerate_and_upload(self, prompt: str, **options: Any) -> Published:
        """:meth:`generate_and_upload` on the client's bounded thread pool."""
        return await self._in_pool(self.generate_and_upload, prompt, **options)

    async def aupload_image(self, image: ImageInput, **options: Any) -> Published:
        return await self._in_pool(self.upload_image, image, **options)

    async def adelete_image(self, key_or_url: str | Published) -> bool:
        return await self._in_pool(self.delete_image, key_or_url)

    async def _in_pool(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.config.api_concurrency, thread_name_prefix="mediagen-api"
                )
            pool = self._pool
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))


__all__ = ["ClientStats", "MediaClient"]
