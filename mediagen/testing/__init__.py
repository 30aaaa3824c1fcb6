"""Test helpers for mediagen and its users (need the ``dev`` extra: moto, boto3)."""
