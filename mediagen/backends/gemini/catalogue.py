"""The Gemini model catalogue: every model mediagen knows, as data, with where each fact came from.

One record per model id: kind (image or text), lifecycle (preview, GA,
deprecated, retired) with its shutdown date, the image sizes and aspect ratios
it takes (and whether it takes ``imageSize`` at all), the output tokens one
image costs at each size, and its prices per million tokens, standard and
batch/flex. The backend (sizes, ratios, defaults, 404s), pricing (cost and
estimates), spec validation (retired models are refused, deprecated ones warn)
and ``mediagen models`` all read this table; nothing else hard-codes a model
fact. A user corrects a price without a release through
``MEDIAGEN_GEMINI_PRICING`` (see :mod:`mediagen.backends.gemini.pricing`).

Lifecycle is judged against today's date: a model whose shutdown date has
passed counts as retired even if its record still says ``deprecated``, so the
table ages safely between releases.

Facts checked on :data:`CHECKED` with the ``search`` tool against:

- [deprecations] https://ai.google.dev/gemini-api/docs/deprecations (the
  newest stored version lists gemini-3.8-flash, released 2026-09-02, so it was
  read after that): gemini-3.1-flash-image and gemini-3-pro-image released
  2026-05-28, "No shutdown date announced"; gemini-3.1-flash-lite released
  2026-05-07, shutdown 2027-05-07; the -preview image ids shut down 2026-06-25
  (replacements: the GA ids); gemini-2.5-flash-image shutdown 2026-10-02.
- [changelog] https://ai.google.dev/gemini-api/docs/changelog: 2026-01-15
  gemini-2.5-flash-image-preview shut down; 2026-05-28 the GA image ids;
  2026-06-15 Imagen 4 shut down 2026-08-17; 2026-06-30
  gemini-3.1-flash-lite-image GA.
- [vertex-3.1-flash-image] docs.cloud.google.com .../models/gemini/3-1-flash-image
  (and the Agent Platform page): 747 tokens for 512, 1120 for 1K, 1680 for 2K,
  2520 for 4K.
- [pricing] ai.google.dev/gemini-api/docs/pricing as quoted by third parties
  (aifreeapi.com 2026-03-24, xairouter.com): 3-pro-image $2 in / $12 text /
  $120 image per 1M ($0.134 at 1K/2K, $0.24 at 4K); 3.1-flash-image $60 per 1M
  image tokens ($0.045 / 0.067 / 0.101 / 0.151); batch halves every price.
  The 3.1 Flash Image input/text rates differ between AI Studio and the docs
  ($0.50/$3.00 vs $0.25/$1.50): the higher pair is recorded, so costs are
  never under-stated.
- [flash-lite] vercel.com/ai-gateway/models/gemini-3.1-flash-lite, apiyi.com:
  $0.25 in / $1.50 out per 1M.
- [flex] ai.google.dev/gemini-api/docs/flex-inference and .../docs/optimization
  (read 2026-11-29): the Flex tier is ``service_tier: flex`` on ordinary calls, "a
  50% cost reduction compared to standard rates", latency "Minutes (1-15 min
  target)", best-effort (sheddable); Batch is also a 50% discount, up to 24 h. Each
  model page lists "Batch API" and "Flex inference" under its capabilities. The
  gemini-3.1-flash-lite-image page (ai.google.dev .../models/gemini-3.1-flash-lite-image)
  lists "Batch API: Supported" and no Flex inference: flex is refused for it (the
  issue says the same). No stored Google page for gemini-3.1-flash-image or
  gemini-3-pro-image showed the capability list, so their flex support is the
  issue's (issue 16) reading, not confirmed here: a 400 from Google for a flex call
  is a failed image, never a silent full-price retry.
- [flash-lite-image] docs.anyfast.ai, pixapi.ai, the changelog: 1K only,
  ``imageSize`` unsupported; $30 per 1M image tokens ($0.0336 an image) is the
  issue's figure, not found on a Google page here: correct it with
  MEDIAGEN_GEMINI_PRICING if your invoice says otherwise.

- [references] (searched 2026-11-29) no Google page in the stored corpus states the
  count; Google's model pages as mirrored by runware.ai (Nano Banana 2 = 3.1 Flash
  Image: "A single request accepts up to 14 reference images", 10 objects + 4
  characters), ngmc-docs and scenario-labs (3.1 Flash, 3.0 Pro and 3.1 Lite image
  all "referenceImages (up to 14)") and the issue agree on 14 for the three current
  image models. Tokens of one input image: Gemini 3's default media resolution
  for images is "high", 1120 tokens (ai.google.dev/gemini-api/docs/media-resolution,
  token table); a third-party measurement on Gemini 3.x found 1,065-1,101
  (huggingface.co/datasets/JOHNISKING/image-token-cost); a pricing mirror
  (inference.sh, 2026-05-29) lists Pro Image at "+$0.0011/input image", i.e. 560
  tokens at $2/1M. The dearer reading, 1120, is used for estimates; the actual
  cost is always the answer's promptTokenCount at the input price.

Resolved (2026-11-29): gemini-3.1-flash-image was **not** shut down on
2026-10-29. No Google page found says so: every stored version of the
deprecations page after 2026-05-28 lists it with "No shutdown date announced",
and the changelog has no deprecation notice for it. The 2026-10 shutdown that
is documented is gemini-2.5-flash-image's (2026-10-02); the -preview id
``gemini-3.1-flash-image-preview`` shut down 2026-06-25.

gemini-2.5-flash: sources disagree (deprecations page 2026-06-17; aiweekly
2026-10-16; a 2026-11-10 reading of the page, via dev.to, says 2026-12-01
with requests routed to gemini-3.5-flash-lite). The earliest Google date is
recorded: it is no default any more, whichever is right.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

logger = logging.getLogger("mediagen")

CHECKED = "2026-11-29"
"""When the facts below were last compared with Google's pages (see the module docstring)."""

Kind = Literal["image", "text"]
Status = Literal["preview", "ga", "deprecated", "retired"]

BASE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME_RATIOS = ("1:4", "4:1", "1:8", "8:1")  # 3.1 Flash Image only
SIZES = ("512", "1K", "2K", "4K")
# Reference images (spec ``references``), checked 2026-11-29 (see the module docstring,
# [references]): how many one request may carry, and the input tokens one costs.
INPUT_IMAGE_TOKENS = 1120
MAX_REFERENCE_IMAGES = 14


@dataclass(frozen=True)
class Prices:
    """USD per 1M tokens. Batch and Flex are each half the standard price on the Gemini API
    ([flex], [pricing]): every token class at the same factor."""

    input: float
    text_output: float  # text parts and thinking
    image_output: float = 0.0
    batch_factor: float = 0.5  # the Batch API
    flex_factor: float = 0.5  # service_tier="flex"


@dataclass(frozen=True)
class ModelInfo:
    """What mediagen knows about one Gemini model."""

    id: str
    kind: Kind
    status: Status
    released: str | None  # ISO date
    shutdown: str | None  # ISO date of the (announced, earliest) shutdown; None: none announced
    replacement: str | None
    prices: Prices
    # image models: output tokens of one image per size; the keys are the sizes it makes
    image_tokens: dict[str, int] = field(default_factory=dict)
    aspect_ratios: tuple[str, ...] = ()
    image_size_param: bool = True  # False: sending imageSize is a 400 (one fixed size)
    thinking_tokens: int = 0  # typical thinking tokens of one answer (estimates only)
    batch: bool = True  # takes the Batch API (Imagen does not)
    flex: bool = True  # takes service_tier="flex" (3.1 Flash-Lite Image does not: [flex])
    max_reference_images: int = MAX_REFERENCE_IMAGES  # input images per request (image models)
    source: str = ""
    checked: str = CHECKED

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(s for s in SIZES if s in self.image_tokens)

    def status_on(self, day: date | None = None) -> Status:
        """The status on ``day`` (default today): past its shutdown date means retired."""
        day = day or date.today()
        if self.shutdown and date.fromisoformat(self.shutdown) <= day:
            return "retired"
        return self.status

    def image_price(self, size: str, *, batch: bool = False) -> float:
        """USD of the image tokens of one image at ``size`` (the dearest size when unknown)."""
        tokens = self.image_tokens.get(size) or max(self.image_tokens.values(), default=0)
        factor = self.prices.batch_factor if batch else 1.0
        return tokens * self.prices.image_output * factor / 1e6


_FLASH_IMAGE_PRICES = Prices(input=0.50, text_output=3.00, image_output=60.0)
_PRO_IMAGE_PRICES = Prices(input=2.00, text_output=12.0, image_output=120.0)

MODELS: tuple[ModelInfo, ...] = (
    # -- image models, current --------------------------------------------------------
    ModelInfo(
        "gemini-3.1-flash-image", "image", "ga", "2026-05-28", None, None, _FLASH_IMAGE_PRICES,
        image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
        aspect_ratios=BASE_RATIOS + EXTREME_RATIOS, thinking_tokens=150,
        source="deprecations; changelog 2026-05-28; vertex-3.1-flash-image; pricing",
    ),
    ModelInfo(
        "gemini-3-pro-image", "image", "ga", "2026-05-28", None, None, _PRO_IMAGE_PRICES,
        image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
        aspect_ratios=BASE_RATIOS, thinking_tokens=225,
        source="deprecations; changelog 2026-05-28; pricing (225 thinking tokens seen on a call)",
    ),
    ModelInfo(
        "gemini-3.1-flash-lite-image", "image", "ga", "2026-06-30", None, None,
        Prices(input=0.25, text_output=1.50, image_output=30.0),
        image_tokens={"1K": 1120}, aspect_ratios=BASE_RATIOS, image_size_param=False,
        flex=False,
        source="changelog 2026-06-30; flash-lite-image (price: issue 13, unconfirmed); flex",
    ),
    # -- image models, shut down -------------------------------------------------------
    ModelInfo(
        "gemini-2.5-flash-image", "image", "deprecated", "2025-10-02", "2026-10-02",
        "gemini-3.1-flash-image", Prices(input=0.30, text_output=2.50, image_output=30.0),
        image_tokens={"1K": 1290}, aspect_ratios=BASE_RATIOS, image_size_param=False,
        source="deprecations",
    ),
    ModelInfo(
        "gemini-2.5-flash-image-preview", "image", "preview", "2025-08-26", "2026-01-15",
        "gemini-3.1-flash-image", Prices(input=0.30, text_output=2.50, image_output=30.0),
        image_tokens={"1K": 1290}, aspect_ratios=BASE_RATIOS, image_size_param=False,
        source="changelog 2026-01-15",
    ),
    ModelInfo(
        "gemini-3-pro-image-preview", "image", "preview", "2025-11-20", "2026-06-25",
        "gemini-3-pro-image", _PRO_IMAGE_PRICES,
        image_tokens={"1K": 1120, "2K": 1120, "4K": 2000}, aspect_ratios=BASE_RATIOS,
        source="deprecations; changelog 2026-05-28",
    ),
    ModelInfo(
        "gemini-3.1-flash-image-preview", "image", "preview", "2026-02-26", "2026-06-25",
        "gemini-3.1-flash-image", _FLASH_IMAGE_PRICES,
        image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
        aspect_ratios=BASE_RATIOS + EXTREME_RATIOS,
        source="deprecations; changelog 2026-05-28",
    ),
    ModelInfo(
        "imagen-3.0-generate-002", "image", "deprecated", "2025-02-06", "2025-11-10",
        "gemini-3.1-flash-image", Prices(input=0.0, text_output=0.0), batch=False, flex=False,
        source="deprecations",
    ),
    *(
        ModelInfo(
            name, "image", "deprecated", None, "2026-08-17", "gemini-3.1-flash-image",
            Prices(input=0.0, text_output=0.0), batch=False, flex=False,
            source="changelog 2026-06-15",
        )
        for name in (
            "imagen-4.0-generate-001", "imagen-4.0-ultra-generate-001",
            "imagen-4.0-fast-generate-001",
        )
    ),
    # -- text models (alt text) ---------------------------------------------------------
    ModelInfo(
        "gemini-3.1-flash-lite", "text", "ga", "2026-05-07", "2027-05-07", None,
        Prices(input=0.25, text_output=1.50), thinking_tokens=0,
        source="deprecations; changelog 2026-05-07; flash-lite",
    ),
    ModelInfo(
        "gemini-2.5-flash", "text", "deprecated", "2025-06-17", "2026-06-17",
        "gemini-3.1-flash-lite", Prices(input=0.30, text_output=2.50),
        source="deprecations (other sources: 2026-10-16, 2026-12-01)",
    ),
    ModelInfo(
        "gemini-2.5-flash-lite", "text", "deprecated", "2025-07-22", "2026-07-22",
        "gemini-3.1-flash-lite", Prices(input=0.10, text_output=0.40), source="deprecations",
    ),
)  # fmt: skip

DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
"""GA, no shutdown announced, every size (512 to 4K) and the widest ratios, half Pro's price."""
DEFAULT_TEXT_MODEL = "gemini-3.1-flash-lite"
"""GA until at least 2027-05-07, the cheapest current text model that reads images."""

_BY_ID = {m.id: m for m in MODELS}


def lookup(model: str) -> ModelInfo | None:
    """The record of ``model`` (a ``models/`` prefix is ignored), or None when unknown."""
    return _BY_ID.get(model.removeprefix("models/"))


def max_reference_images(model: str) -> int:
    """Reference images one request to ``model`` may carry (unknown models: the usual 14)."""
    info = lookup(model)
    return info.max_reference_images if info is not None else MAX_REFERENCE_IMAGES


def input_image_tokens(model: str) -> int:
    """Input tokens one reference image costs on ``model`` (estimates only)."""
    return INPUT_IMAGE_TOKENS


def is_imagen(model: str) -> bool:
    return model.removeprefix("models/").startswith("imagen")


@dataclass(frozen=True)
class Lifecycle:
    """What to say about a model named in a spec: nothing, a warning, or a refusal."""

    level: Literal["ok", "warning", "error"]
    message: str = ""


def lifecycle(model: str, day: date | None = None) -> Lifecycle:
    """Refuse retired models (and Imagen, any version), warn on deprecated ones."""
    info = lookup(model)
    if info is None:
        if is_imagen(model):
            return Lifecycle(
                "error",
                f"model {model!r}: Imagen is retired on the Gemini API (Imagen 4 shut down "
                f"2026-08-17) and unsupported; use {DEFAULT_IMAGE_MODEL!r}",
            )
        return Lifecycle("ok")
    status = info.status_on(day)
    instead = f"; use {info.replacement!r}" if info.replacement else ""
    if status == "retired":
        when = f" on {info.shutdown}" if info.shutdown else ""
        return Lifecycle("error", f"model {model!r} was shut down{when}{instead}")
    if status == "deprecated":
        when = f" on {info.shutdown}" if info.shutdown else " soon"
        return Lifecycle("warning", f"model {model!r} is deprecated and shuts down{when}{instead}")
    return Lifecycle("ok")


def delivery_problem(model: str, delivery: str) -> str | None:
    """Why ``model`` cannot be asked this way (``batch``/``flex``), or None.

    A model the catalogue does not know is let through: Google answers for it."""
    info = lookup(model)
    if info is None or delivery not in ("batch", "flex") or getattr(info, delivery):
        return None
    how = "the Batch API" if delivery == "batch" else 'the Flex tier (service_tier "flex")'
    others = [m.id for m in image_models() if getattr(m, delivery) and m.status_on() != "retired"]
    return f"model {model!r} does not take {how}: use delivery: sync" + (
        f", or a model that does ({', '.join(others)})" if others else ""
    )


def image_models() -> list[ModelInfo]:
    return [m for m in MODELS if m.kind == "image" and not m.id.startswith("imagen")]


_warned: set[str] = set()


def chain_problem(models: tuple[str, ...] | list[str]) -> str | None:
    """The first refusal for a spec's model chain (whatever the backend), warning once
    per process about each deprecated model: a spec checked on a laptop without a key
    must fail there the way it would fail in production."""
    for model in models:
        if not model:
            continue
        state = lifecycle(model)
        if state.level == "error":
            return state.message
        if state.level == "warning" and model not in _warned:
            _warned.add(model)
            logger.warning("%s", state.message)
    return None
