"""Prefect flows of mediagen. The library (``mediagen``) never imports Prefect."""

from flows.generate_media import generate_media

__all__ = ["generate_media"]
