"""Buckets on fsspec: local folders and S3-compatible endpoints, credentials, leases."""
