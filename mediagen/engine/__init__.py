"""Doing it, without Prefect: one :class:`~mediagen.engine.run.Run` per run (its guards,
budget, rate limits, clients and events), the stages of an image, and the one chain
that runs them (:mod:`mediagen.engine.orchestrate`)."""
