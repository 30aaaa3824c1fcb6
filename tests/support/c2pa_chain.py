"""The throwaway C2PA chain (mediagen.testing.c2pa_chain) and a backend whose model signs
what it returns, as Google's newer image models do."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.testing.c2pa_chain import Chain as Chain
from mediagen.testing.c2pa_chain import make_chain as make_chain
from mediagen.testing.c2pa_chain import signer_env as signer_env
from tests.support.backends import CountingBackend


class VendorSigningBackend(CountingBackend):
    """The offline renderer's image, signed by a 'model vendor' chain (created,
    trainedAlgorithmicMedia): an original that carries its own C2PA manifest."""

    name = "vendor-signing"
    chain_folder: ClassVar[Path | None] = None  # set by the test: where the vendor chain is

    def generate(self, request: GenerationRequest) -> GenerationResult:
        from mediagen.imaging import c2pa_signer, credentials
        from mediagen.imaging.codec import ProcessedImage
        from mediagen.settings import Settings

        plain = super().generate(request)
        assert self.chain_folder is not None
        chain = make_chain(self.chain_folder, name="model vendor")
        config = c2pa_signer.signer_from_settings(
            Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_key=chain.key)
        )
        assert config is not None
        signed = credentials.sign(
            ProcessedImage(plain.data, 0, 0, "png", plain.mime_type, ""),
            credentials.Credentials("trainedAlgorithmicMedia", "vendor-image-3", self.name, ""),
            credentials.Processing(cropped=False, resized=False, transcoded=False),
            config,
        )
        return GenerationResult(signed.data, plain.mime_type, self.name, "vendor-image-3", True)
