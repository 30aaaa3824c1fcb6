"""The Python API for application code: :class:`MediaClient`."""
