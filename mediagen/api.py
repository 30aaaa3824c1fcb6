"""Python API for application code: the same core as the flows, without Prefect."""

from __future__ import annotations

from pathlib import Path

from mediagen.imaging import EXTENSIONS, ProcessedImage, Provenance, digital_source_type
from mediagen.imaging import process_image as encode
from mediagen.jobs import expand_spec
from mediagen.pipeline import GENERATOR, backend_for
from mediagen.presets import Quality, Theme
from mediagen.settings import get_settings
from mediagen.spec import parse_spec

_FORMAT_BY_EXT = {ext: fmt for fmt, ext in EXTENSIONS.items()} | {"jpeg": "jpeg"}


def generate_to_file(
    prompt: str,
    out: str | Path,
    *,
    size: str = "standard",
    theme: Theme | str = Theme.MODERN,
    quality: Quality | str = Quality.STANDARD,
    backend: str | None = None,
) -> ProcessedImage:
    """Generate one image and write it to ``out`` (format from the extension)."""
    out = Path(out)
    fmt = _FORMAT_BY_EXT.get(out.suffix.lower().lstrip("."))
    if fmt is None:
        from mediagen.errors import SpecError

        raise SpecError(f"{out}: unknown image extension; use .png, .jpg, .webp or .avif")
    spec = parse_spec(
        {
            "name": "generate",
            "backend": backend,
            "images": [
                {
                    "id": "image",
                    "prompt": prompt,
                    "size": size,
                    "theme": str(theme),
                    "quality": str(quality),
                    "formats": [fmt],
                }
            ],
        },
        source="command line",
    )
    job = expand_spec(spec, get_settings())[0]
    result = backend_for(job.backend).generate(job.request)
    provenance = Provenance(
        digital_source_type=digital_source_type(result.ai_generated),
        prompt=job.prompt,
        model=result.model,
        backend=result.backend,
        generator=GENERATOR,
        image_id=job.id,
    )
    image = encode(result.data, job.outputs[0].spec, provenance)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(image.data)
    tmp.replace(out)
    return image
