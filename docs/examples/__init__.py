"""Integration examples of the Python API: real code the tests import and run.

- ``celery_tasks``: a Celery task that generates and uploads one image;
- ``fastapi_app``: FastAPI handlers (async generate-and-upload, delete, batch trigger);
- ``deployment_trigger``: hand a long batch to a Prefect deployment instead.
"""
