"""Process-wide settings from the environment (and an optional ``.env``).

Secrets live here, never in a spec: a spec is a shareable file that ends up in
Git, flow parameters and the Prefect UI. Secret values are ``SecretStr`` so a
``repr`` or log line never shows them.

This module knows no provider: a backend's own settings (its key, endpoint,
timeouts, prices) are a pydantic-settings model the backend declares
(``Backend.settings_model``). :meth:`Settings.backend_settings` builds it on
first use, from the environment and ``.env`` like these settings, with the
values given in code (:meth:`Settings.with_backend_options`, e.g. a
``MediaClient``'s own key) on top, so two clients with different keys share
nothing and never touch the process environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from mediagen.errors import ConfigurationError
from mediagen.spec import limits
from mediagen.spec.limits import SpecCaps
from mediagen.spec.rate_limits import RateLimit
from mediagen.spec.storage_target import Provider

# A list setting: a JSON list, or names separated by commas ("a,b").
NameList = Annotated[list[str], NoDecode]
B = TypeVar("B", bound=BaseSettings)
_DEFAULT_ENV_FILE: Any = object()  # "as the model's config says" (``.env``)


class Settings(SpecCaps):
    """Settings read from ``MEDIAGEN_*`` variables (and the usual vendor names)."""

    model_config = SettingsConfigDict(
        env_prefix="MEDIAGEN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    backend: str = Field(
        "auto",
        description="Backend when a spec names none: 'auto' picks the first installed backend "
        "that has its credentials, else the offline renderer.",
    )
    bucket_dir: Path = Field(
        Path("media-bucket"),
        description="Folder that stands in for a bucket with the 'local' provider.",
    )
    work_dir: Path | None = Field(
        None,
        description="Scratch folder for processed files between tasks (default: system temp).",
    )
    concurrency: int = Field(8, ge=1, le=256, description="Default images in flight at once.")
    # -- caps on what a backend answers (see mediagen/imaging/answer_check.py, pixel_budget.py) ----
    max_image_pixels: int = Field(
        50_000_000,
        ge=1,
        description="Largest image (width x height) accepted from a backend or the bucket; "
        "larger answers are refused before any pixel is decoded.",
    )
    max_answer_bytes: int = Field(
        64 * 2**20, ge=1, description="Largest image answer (bytes) accepted from a backend."
    )
    pixel_budget: int = Field(
        100_000_000,
        ge=1,
        description="Decoded pixels in flight per process: each image counts its original's "
        "pixels plus its largest output's; images wait for room (one larger alone runs alone).",
    )
    task_retries: int = Field(4, ge=0, le=20, description="Retries of a transient failure.")
    images_per_task: int = Field(
        0,
        ge=0,
        le=10_000,
        description="Images per Prefect task run (0: one each up to 20 images, then about "
        "20 task runs). Each image's stages run inside its task run.",
    )
    image_events: Literal["problems", "all", "none"] = Field(
        "problems",
        description="Prefect events as images end: for the images not published (failed, "
        "blocked, skipped, pending: what an automation acts on), for every image, or none. "
        "Every image's event costs ~5 ms of CPU between the run and its API.",
    )
    retry_base_delay: float = Field(
        1.0, ge=0, description="First retry delay in seconds; doubles each retry, plus jitter."
    )

    runner: Literal["thread", "dask"] = Field(
        "thread", description="Where tasks run: threads in the flow's process, or a Dask cluster."
    )
    dask_address: str | None = Field(
        None, description="Scheduler address of an existing Dask cluster (tcp://host:8786)."
    )
    dask_workers: int = Field(
        2, ge=1, le=256, description="Worker processes of the local Dask cluster, without address."
    )

    rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="Per-model limits (JSON): {model or '*': {requests_per_minute, "
        "max_concurrency}}. A spec's rate_limits win.",
    )

    interrupt_grace: float = Field(
        5.0,
        ge=0,
        le=300,
        description="After Ctrl-C, SIGTERM or a cancel: seconds the images already at the "
        "backend get to finish before they are left pending (the CLI exits within ~4 s more).",
    )

    # -- storage (see mediagen/storage/destination.py and docs/storage.md) ---------------------
    # Where specs that name no location publish (provider, bucket, region, endpoint): merged
    # into the spec's StorageTarget by mediagen.storage.destination.resolve_target. A spec
    # that names a location always wins. Secrets stay here, never in the spec model.
    storage_provider: Provider | None = Field(
        None, description="Provider for specs that do not name one (default: local folder)."
    )
    storage_bucket: str | None = Field(None, description="Bucket for specs without storage.")
    storage_region: str | None = Field(None, description="Region for specs without storage.")
    storage_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint for specs without storage (MinIO, R2, ...)."
    )
    # -- what specs from other people may choose (see mediagen/plan/trust.py) -------------
    allowed_buckets: NameList = Field(
        default_factory=list,
        description="Buckets a spec from a deployment, `submit` or the API may name, besides "
        "MEDIAGEN_STORAGE_BUCKET ('*' = any).",
    )
    allowed_endpoints: NameList = Field(
        default_factory=list,
        description="S3 endpoints such a spec may name, besides MEDIAGEN_STORAGE_ENDPOINT_URL "
        "('*' = any).",
    )
    storage_credentials_block: str | None = Field(
        None,
        description="Prefect block holding storage credentials, as 'block-type/name' "
        "(e.g. 'secret/mediagen-s3'). Wins over the environment when set.",
    )
    storage_retries: int = Field(
        5, ge=1, le=20, description="Attempts per storage request (SlowDown, 5xx, resets)."
    )
    storage_retry_base_delay: float = Field(
        0.5, ge=0, description="First storage retry delay (s); doubles, with full jitter."
    )
    storage_timeout: float = Field(
        30.0, gt=0, description="Connect and read timeout of one storage request (s)."
    )
    summary_thumbnail_expiry: int | None = Field(
        None,
        ge=60,
        le=604800,  # SigV4's longest validity: 7 days
        description="Opt-in: show a private S3/Spaces bucket's thumbnails in the run's summary "
        "artifact through presigned URLs valid this many seconds (unset: no thumbnails).",
    )
    review_timeout: int = Field(
        86400,
        ge=60,
        le=604800,  # SigV4's longest validity: the candidates' links must outlive the wait
        description="pick: review: how long a paused run waits for a person (s); the review "
        "page's presigned links to the candidates are valid as long.",
    )
    aws_access_key_id: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AWS_ACCESS_KEY_ID", "MEDIAGEN_AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY", "MEDIAGEN_AWS_SECRET_ACCESS_KEY"),
    )
    aws_session_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("AWS_SESSION_TOKEN", "MEDIAGEN_AWS_SESSION_TOKEN")
    )
    do_spaces_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DO_SPACES_KEY", "MEDIAGEN_DO_SPACES_KEY")
    )
    do_spaces_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DO_SPACES_SECRET", "MEDIAGEN_DO_SPACES_SECRET")
    )

    # -- C2PA Content Credentials (see mediagen/imaging/c2pa_signer.py, docs/provenance.md) ---
    # Unset: nothing is signed (XMP only). The key's path is a path, never the key: the key
    # itself is read when signing and never logged, recorded or shown in an error.
    c2pa_cert: Path | None = Field(
        None, description="PEM certificate chain (signing certificate first) for C2PA signing."
    )
    c2pa_key: Path | None = Field(
        None, description="PEM private key of the C2PA signing certificate (or use C2PA_SIGNER)."
    )
    c2pa_alg: Literal["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "Ed25519"] = Field(
        "ES256", description="C2PA signature algorithm; must match the key."
    )
    c2pa_tsa_url: str | None = Field(
        None, description="RFC 3161 timestamp authority URL for C2PA signatures (optional)."
    )
    c2pa_signer: str | None = Field(
        None,
        description="'module:callable' that signs bytes (a key in a KMS) instead of C2PA_KEY; "
        "the certificate chain still comes from C2PA_CERT.",
    )

    # -- one run per spec (see mediagen/storage/lease.py) -----------------------------------
    if_running: Literal["wait", "refuse"] = Field(
        "wait",
        description="When another run of the same spec (bucket and prefix) holds its lease: "
        "'wait' for it to finish, or 'refuse' (mediagen run exits 2 naming the holder).",
    )
    lease_ttl: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Seconds a run's lease lives unless renewed (every third of it): how long "
        "a crashed run blocks its spec.",
    )
    lease_max_wait: float | None = Field(
        None, ge=0, description="Most seconds to wait for a spec's lease (default: no limit)."
    )

    # -- caps on what one spec may ask for: the fields of SpecCaps (mediagen/spec/limits.py) --
    plan_warn_disk_gb: float = Field(
        limits.PLAN_WARN_DISK_GB, gt=0, description="`plan` warns above this estimated output size."
    )
    plan_warn_cpu_hours: float = Field(
        limits.PLAN_WARN_CPU_HOURS, gt=0,
        description="`plan` warns above this estimated encoding time (one core).",
    )  # fmt: skip
    plan_warn_files: int = Field(
        limits.PLAN_WARN_FILES, ge=1, description="`plan` warns above this many output files."
    )

    @field_validator("allowed_buckets", "allowed_endpoints", mode="before")
    @classmethod
    def _name_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("storage_endpoint_url", "c2pa_tsa_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not limits.is_http_url(value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    # -- backends' own settings (see the module docstring) ------------------------------
    # The ``_env_file`` these settings were read with: backends read theirs the same way.
    _env_file: Any = PrivateAttr(default=_DEFAULT_ENV_FILE)
    _backend_options: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _backend_settings: dict[str, BaseSettings] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        env_file = values.get("_env_file", _DEFAULT_ENV_FILE)
        super().__init__(**values)
        self._env_file = env_file

    def with_backend_options(self, backend: str, options: Mapping[str, Any]) -> Settings:
        """A copy in which ``backend``'s own settings get ``options`` (they win over the env)."""
        copy = self.model_copy()
        copy._backend_options = {**self._backend_options, backend: dict(options)}
        copy._backend_settings = {}
        return copy

    def backend_settings(self, backend: str, model: type[B]) -> B:
        """``backend``'s own settings: the environment, with its options on top (built once).

        A malformed value raises :class:`ConfigurationError` naming the variable.
        """
        cached = self._backend_settings.get(backend)
        if isinstance(cached, model):
            return cached
        values = dict(self._backend_options.get(backend, {}))
        if self._env_file is not _DEFAULT_ENV_FILE:
            values["_env_file"] = self._env_file
        built = build(model, **values)
        self._backend_settings[backend] = built
        return built


def build(model: type[B], **values: Any) -> B:
    """``model(**values)`` (values in code win over the environment), or one-line
    :class:`ConfigurationError` naming the variable (the CLI exits 2), never a
    Pydantic traceback and never a secret's value."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise ConfigurationError(_one_line(exc, model)) from None
    except SettingsError as exc:  # a JSON setting that is not JSON (e.g. RATE_LIMITS)
        raise ConfigurationError(_settings_error(exc, model)) from None


def _variable(model: type[BaseSettings], field: str) -> str:
    """The variable a field is read from (the vendors' own names come first)."""
    info = model.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        names = [str(c) for c in alias.choices if str(c).isupper()]
        return " / ".join(names[:-1] or names)
    prefix = str(model.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _one_line(exc: ValidationError, model: type[BaseSettings]) -> str:
    """``MEDIAGEN_CONCURRENCY: expected a whole number, got 'abc'`` (never a secret's value)."""
    from mediagen.spec.diagnostics import error_message, field_path

    parts = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        inner = f" {field_path(tuple(error['loc'][1:]))}:" if len(error["loc"]) > 1 else ""
        info = model.model_fields.get(field)
        if info is not None and "SecretStr" in str(info.annotation):
            error = {**error, "input": "(hidden)"}
        parts.append(f"{_variable(model, field)}:{inner} {error_message(error)}")
    return "bad setting: " + "; ".join(dict.fromkeys(parts))


def get_settings() -> Settings:
    """Fresh settings from the current environment.

    A malformed value raises :class:`ConfigurationError` with one line naming the
    variable (the CLI exits 2), never a Pydantic traceback.
    """
    return build(Settings)


def _settings_error(exc: SettingsError, model: type[BaseSettings]) -> str:
    import re

    match = re.search(r'field "([a-z_]+)"', str(exc))
    field = match.group(1) if match else None
    where = _variable(model, field) if field else "a MEDIAGEN_* setting"
    return f"bad setting: {where}: not valid JSON"
