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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from mediagen.backends import resolve_backend_name
from mediagen.client.config import ClientConfig
from mediagen.client.results import GeneratedImage, Published
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.orchestrate import make_files
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.errors import ConfigurationError, ProcessingError, SpecError
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.spec.formats import CONTENT_TYPES, EXTENSIONS
from mediagen.spec.models import parse_spec
from mediagen.spec.vocabulary import Quality, Theme
from mediagen.storage import scratch
from mediagen.storage.bucket import Bucket, BucketConfig, cache_control_for

if TYPE_CHECKING:
    from PIL import Image

    from mediagen.manifest.model import Manifest
    from mediagen.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

SizeArg = str | tuple[int, int] | Mapping[str, int]
ImageInput = GeneratedImage | bytes | bytearray | memoryview | str | os.PathLike[str] | Any
_META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


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
    ) -> GeneratedImage:
        """Make one image (or take it from the cache) and return its bytes and metadata.

        ``size``: a preset (``thumbnail`` … ``hero``), ``"WxH"`` or ``(w, h)``;
        ``theme`` and ``brand`` (colours ``"#RRGGBB name"``) default to the brand
        config; ``brand=[]`` turns the brand colours off for this call.
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
            image, key, {**tags, **_meta(metadata)}, public, immutable=True, skip_existing=True
        )

    def _generate(
        self, prompt: str, *, metadata: Mapping[str, Any] | None = None, **options: Any
    ) -> tuple[GeneratedImage, str]:
        job = self._job(prompt, metadata=metadata, **options)
        # Single flight: concurrent identical calls in this process wait for the first
        # one's original instead of each paying the backend.
        with _single_flight(job.gen_key):
            generated, files = make_files(job, self._ctx, self.run)
        processed, data = _take_file(job, generated, files[0], self._ctx, self.run)
        with self._lock:
            if generated.reused:
                self.stats.cache_hits += 1
            else:
                self.stats.backend_calls += 1
                self.stats.cost_usd += generated.cost_usd
        request = job.request
        image = GeneratedImage(
            data=data,
            format=processed.format,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            sha256=processed.sha256,
            prompt=job.prompt,
            backend=generated.backend,
            model=generated.model,
            ai_generated=generated.ai_generated,
            gen_key=job.gen_key,
            out_key=processed.out_key,
            image_id=job.id,
            original_key=generated.original_key,
            cached=generated.reused,
            cost_usd=0.0 if generated.reused else generated.cost_usd,
            usage=dict(generated.usage),
            seed=request.seed,
            theme=request.theme,
            size=job.size_name,
            quality=request.quality,
            metadata=dict(metadata or {}),
        )
        return image, processed.object_key

    def _job(
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
    ) -> ImageJob:
        """The call as a one-image spec, expanded like the flows expand theirs."""
        brand_config = self.config.brand
        if not isinstance(size, str | Mapping):
            width, height = size
            size = {"width": width, "height": height}
        image: dict[str, Any] = {
            "id": image_id or _slug(prompt),
            "prompt": prompt,
            "size": dict(size) if isinstance(size, Mapping) else size,
            "quality": str(quality),
            "theme": str(theme or brand_config.theme),
            "brand_colors": list(brand_config.colors if brand is None else brand),
            "formats": [format],
            "finance_context": (
                brand_config.finance_context if finance_context is None else finance_context
            ),
            "constraints": list(brand_config.constraints if constraints is None else constraints),
            "seed": seed,
            "model": list(model) if isinstance(model, list | tuple) else model,
            "metadata": dict(metadata or {}),
        }
        groups = self.config.backend_configs()  # the chosen one may name a default model
        if image["model"] is None and any(group.model for group in groups.values()):
            chosen = groups.get(resolve_backend_name(backend, self.settings))
            image["model"] = chosen.model if chosen is not None else None
        spec = {
            "name": "api",
            "backend": backend,
            "storage": self._target.model_dump(),
            "images": [image],
        }
        try:
            job_spec = parse_spec(spec, source="MediaClient")
            return expand_spec(job_spec, self.settings)[0]
        except SpecError as exc:
            # Name the argument, not the inner spec's field path.
            problems = [
                p.replace("images[0].", "").replace("MediaClient: ", "") for p in exc.problems
            ]
            raise SpecError("invalid image arguments", problems) from exc

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
        data, fmt, width, height = _encoded(image, format)
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
            generated or _Blob(data, fmt, width, height, digest),
            key,
            _meta(metadata),
            public,
            immutable=content_addressed,
            skip_existing=content_addressed,
        )

    def _publish(
        self,
        image: GeneratedImage | _Blob,
        key: str,
        metadata: dict[str, str],
        public: bool | None,
        *,
        immutable: bool,
        skip_existing: bool,
    ) -> Published:
        bucket = self.bucket
        public = self.bucket_config.public if public is None else public
        exists = skip_existing and bucket.exists(key)
        if not exists:
            bucket.put(
                key,
                image.data,
                content_type=CONTENT_TYPES[image.format],
                cache_control=cache_control_for(immutable=immutable, public=public),
                public=public,
                metadata=metadata,
            )
        with self._lock:
            if exists:
                self.stats.upload_skips += 1
            else:
                self.stats.uploads += 1
        return Published(
            url=bucket.url(key),
            key=key,
            size=len(image.data),
            sha256=image.sha256,
            content_type=CONTENT_TYPES[image.format],
            format=image.format,
            width=image.width,
            height=image.height,
            public=public,
            uploaded=not exists,
            metadata=metadata,
            image=image if isinstance(image, GeneratedImage) else None,
        )

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
        if "://" not in key_or_url:
            return key_or_url.lstrip("/")
        parts = urlsplit(key_or_url)
        plain = unquote(f"{parts.scheme}://{parts.netloc}{parts.path}")
        for base in self._url_bases():
            if plain.startswith(base) and len(plain) > len(base):
                return plain[len(base) :]
        raise SpecError(
            f"{key_or_url!r} is not a URL of this client's bucket "
            f"({self.bucket_config.provider}:{self.bucket_config.bucket}): expected it to start "
            f"with {self._url_bases()[0]!r}; pass the object key instead"
        )

    def _url_bases(self) -> list[str]:
        config, probe = self.bucket_config, "k"
        plain_url = getattr(self.bucket, "plain_url", self.bucket.url)
        bases = [plain_url(probe)[: -len(probe)]]
        if config.provider != "local":
            bases.append(f"s3://{config.bucket}/")
            region = config.region or "us-east-1"
            bases += [
                f"https://{config.bucket}.s3.{region}.amazonaws.com/",
                f"https://{config.bucket}.s3.amazonaws.com/",
                f"https://s3.{region}.amazonaws.com/{config.bucket}/",
            ]
            if config.endpoint_url:
                bases.append(f"{config.endpoint_url.rstrip('/')}/{config.bucket}/")
        return bases

    # -- specs -----------------------------------------------------------------

    def run_spec(
        self, spec: Any, *, concurrency: int | None = None, runner: str | None = None
    ) -> Manifest:
        """Run a whole spec (a path, YAML text, a mapping or a JobSpec) through the
        Prefect flow in this process and return its manifest.

        ``runner``: the flow's task runner (``thread`` or ``dask``; see flows/run.py).
        The run uses this client's configuration (key, backend; and its storage for
        a spec that names none); its own Run, with the spec's budget and limits.
        Dask workers read their own environment. For long batches in a web app,
        trigger a deployment instead (``docs/examples/deployment_trigger.py``).
        """
        try:
            from flows.run import run_flow  # Prefect is imported only here
        except ImportError as exc:  # pragma: no cover - flows ship with mediagen
            raise ConfigurationError("run_spec needs the mediagen flows package") from exc
        if isinstance(spec, os.PathLike):
            spec = os.fspath(spec)
        options = {"runner": runner} if runner else {}
        return run_flow(spec, concurrency, settings=self._spec_settings(), **options)

    def _spec_settings(self) -> Settings:
        """This client's settings, with its storage where a spec names none."""
        storage = self.config.storage
        return self.settings.model_copy(
            update={
                "storage_provider": storage.provider,
                "storage_bucket": storage.bucket,
                "storage_region": storage.region,
                "storage_endpoint_url": storage.endpoint_url,
            }
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


_flights: dict[str, tuple[threading.Lock, int]] = {}
_flights_lock = threading.Lock()


@contextlib.contextmanager
def _single_flight(key: str) -> Iterator[None]:
    with _flights_lock:
        lock, users = _flights.get(key, (threading.Lock(), 0))
        _flights[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _flights_lock:
            lock, users = _flights[key]
            if users == 1:
                del _flights[key]
            else:
                _flights[key] = (lock, users - 1)


def _take_file(
    job: ImageJob, generated: Generated, processed: Processed, ctx: RunContext, run: Run
) -> tuple[Processed, bytes]:
    """Take the processed file's bytes out of the scratch folder.

    Scratch files are named by out_key, so an identical call running at the same
    time (another thread or process) may take ours first: processing is
    deterministic, so we simply do it again.
    """
    for attempt in range(5):
        if attempt:
            processed = process(job, generated, ctx, run)[0]
        path = Path(processed.path)
        data = scratch.read_verified(path, processed.sha256)  # only what processing wrote
        if data is None:
            continue
        path.unlink(missing_ok=True)
        return processed, data
    raise ProcessingError(f"image {job.id!r}: its processed file kept disappearing from scratch")


@dataclass(frozen=True)
class _Blob:
    data: bytes
    format: str
    width: int
    height: int
    sha256: str


def _slug(prompt: str) -> str:
    """A readable image id from the prompt: its first words, as a slug."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    slug = "-".join(words)[:40].strip("-")
    return slug or "image"


def _meta(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """S3 user metadata: short ASCII names and ASCII values (HTTP headers)."""
    out: dict[str, str] = {}
    problems = []
    for name, value in (metadata or {}).items():
        text = str(value)
        if not _META_KEY.match(str(name)):
            problems.append(f"metadata[{name!r}]: names are letters, digits, '-' and '_' (max 64)")
        elif not text.isascii() or "\n" in text or len(text) > 1024:
            problems.append(
                f"metadata[{name!r}]: values must be one line of ASCII text (≤ 1024 chars); "
                "URL-quote other text first"
            )
        else:
            out[str(name)] = text
    if problems:
        raise SpecError("invalid upload metadata", problems)
    return out


def _encoded(image: ImageInput, fmt: str | None) -> tuple[bytes, str, int, int]:
    """(bytes, format, width, height) of any accepted input, re-encoded to ``fmt`` if asked."""
    from PIL import Image, UnidentifiedImageError

    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower()) if fmt else None
    if fmt is not None and fmt not in EXTENSIONS:
        raise SpecError(f"format {fmt!r}: use png, jpeg, webp or avif")
    if isinstance(image, GeneratedImage):
        if fmt in (None, image.format):
            return image.data, image.format, image.width, image.height
        data = image.data
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, str | os.PathLike):
        data = Path(image).read_bytes()
    elif isinstance(image, Image.Image):
        return _encode_pil(image, fmt or "png")
    else:
        raise SpecError(
            f"upload_image takes a GeneratedImage, bytes, a Pillow image or a path, "
            f"not {type(image).__name__}"
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            found = (opened.format or "").lower()
            if fmt in (None, found) and found in EXTENSIONS:
                return data, found, opened.width, opened.height
            opened.load()
            return _encode_pil(opened, fmt or "png")
    except (UnidentifiedImageError, OSError) as exc:
        raise ProcessingError(
            f"upload_image: the data is not an image Pillow can read ({exc}); "
            "pass PNG, JPEG, WebP or AVIF bytes"
        ) from exc


def _encode_pil(image: Image.Image, fmt: str) -> tuple[bytes, str, int, int]:
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": 85} if fmt != "png" else {"optimize": True}
    image.save(buffer, fmt.upper(), **options)
    return buffer.getvalue(), fmt, image.width, image.height


__all__ = ["ClientStats", "MediaClient"]
