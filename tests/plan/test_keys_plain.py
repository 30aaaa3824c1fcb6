"""Keys hash ``keys.plain(request)``: it must give exactly what ``dataclasses.asdict`` gave.

The keys are caches in users' buckets: a different hash for the same request would
pay for every image again. ``plain`` replaced ``asdict`` for speed (planning 10,000
images, bench/noop.py); any request, any output, must keep its key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hypothesis import given
from hypothesis import strategies as st

from mediagen.backends.base import GenerationRequest
from mediagen.imaging.codec import OutputSpec
from mediagen.plan import keys

text = st.text(max_size=40)
hexes = st.lists(st.from_regex(r"#[0-9A-F]{6}", fullmatch=True), max_size=4).map(tuple)


def _old_gen_key(backend: str, request: GenerationRequest) -> str:
    params = asdict(request)
    params.pop("image_id")
    params.pop("fallback_models")
    params.pop("delivery")  # how it is asked (issue 16), not what
    params.pop("references")  # none here; their hashes enter only when there are some
    return keys.canonical_hash({"backend": backend, "variant": 0, **params})


@given(
    prompt=text, width=st.integers(1, 8192), height=st.integers(1, 8192), theme=text,
    palette=hexes, brand=hexes, seed=st.none() | st.integers(0, 2**31),
    model=st.none() | text, image_id=text, fallbacks=st.lists(text, max_size=2).map(tuple),
)  # fmt: skip
def test_gen_key_is_the_one_asdict_gave(
    prompt: str, width: int, height: int, theme: str, palette: tuple[str, ...],
    brand: tuple[str, ...], seed: int | None, model: str | None, image_id: str,
    fallbacks: tuple[str, ...],
) -> None:  # fmt: skip
    request = GenerationRequest(
        prompt=prompt, width=width, height=height, quality="standard", backend_image_size="1K",
        theme=theme, palette=palette, brand_colors=brand, seed=seed, model=model,
        image_id=image_id, fallback_models=fallbacks,
    )  # fmt: skip
    assert keys.gen_key_for("offline", request) == _old_gen_key("offline", request)


@given(st.integers(1, 8192), st.integers(1, 8192), st.sampled_from(["png", "webp", "avif"]),
       st.integers(1, 100))  # fmt: skip
def test_out_key_is_the_one_asdict_gave(width: int, height: int, fmt: str, quality: int) -> None:
    output = OutputSpec(width, height, fmt, quality)
    old = keys.canonical_hash({"gen": "g", "v": keys.PROCESSING_VERSION, **asdict(output)})
    assert keys.out_key_for("g", output) == old


@dataclass(frozen=True)
class _Inner:
    name: str
    sides: tuple[int, ...]


@dataclass(frozen=True)
class _Outer:
    inner: _Inner
    items: list[_Inner]
    table: dict[str, tuple[str, ...]]


def test_nested_dataclasses_lists_and_dicts_hash_as_asdict_did() -> None:
    # A field added to GenerationRequest later may nest (references, crops): same JSON.
    value = _Outer(_Inner("a", (1, 2)), [_Inner("b", ())], {"k": ("x", "y")})
    assert keys.canonical_hash(keys.plain(value)) == keys.canonical_hash(asdict(value))
