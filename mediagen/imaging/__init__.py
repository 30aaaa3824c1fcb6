"""Pixels: decoding, checking, cropping, encoding, renditions, colours and placeholders."""
