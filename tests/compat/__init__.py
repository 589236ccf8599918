"""Conformance tests: the official Polar SDKs against a live Kassa server."""
