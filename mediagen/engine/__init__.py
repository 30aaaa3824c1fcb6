"""Doing it, without Prefect: the run's guards, the stages of an image, retries and rate limits."""
