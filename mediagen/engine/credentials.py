"""The process stage's C2PA signing: an image's job and original in, signed outputs out.

Glue only (the manifest and the signature are :mod:`mediagen.imaging.credentials`'s):
it checks that the signer configured in this process is the one the job was planned
with (its identity is in every ``out_key``: signing with another would publish a file
under a key that does not describe it), decides once per image whether the original
is a parent ingredient (it carries its own C2PA manifest), and signs each output
before it is written to the scratch folder, so nothing is uploaded unsigned.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediagen.engine.context import Generated
from mediagen.errors import ProcessingError
from mediagen.imaging import credentials
from mediagen.imaging.c2pa_signer import SignerConfig, signer_from_settings
from mediagen.imaging.codec import ProcessedImage, digital_source_type
from mediagen.imaging.renditions import PreparedImage
from mediagen.plan.jobs import ImageJob
from mediagen.settings import Settings


@dataclass(frozen=True)
class ImageSigner:
    """Signs every output of one image."""

    config: SignerConfig
    credentials: credentials.Credentials
    parent: credentials.Parent | None

    @property
    def subject(self) -> str:
        return self.config.identity.subject

    def sign(self, image: ProcessedImage, prepared: PreparedImage) -> ProcessedImage:
        source = (prepared.image.width, prepared.image.height)
        processing = credentials.processing_of(source, prepared.box, (image.width, image.height))
        return credentials.sign(image, self.credentials, processing, self.config, self.parent)


def signer_for(
    job: ImageJob, generated: Generated, original: bytes, settings: Settings
) -> ImageSigner | None:
    """The image's signer (``None``: its outputs are not signed)."""
    if job.signing is None:
        return None
    config = signer_from_settings(settings)
    if config is None or config.identity.chain_sha256 != job.signing.chain_sha256:
        raise ProcessingError(
            f"image {job.id!r} was planned to be signed by another C2PA certificate than "
            "MEDIAGEN_C2PA_CERT here; plan and process with the same settings"
        )
    creds = credentials.Credentials(
        digital_source_type=digital_source_type(generated.ai_generated),
        model=generated.model,
        backend=generated.backend,
        image_id=job.id,
        prompt=job.prompt if job.signing.include_prompt else None,
    )
    return ImageSigner(config, creds, credentials.parent_of(original, generated.mime_type))


__all__ = ["ImageSigner", "signer_for"]
