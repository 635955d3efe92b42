"""Test doubles shared by the test suites, the benchmarks and the tools: one importable place.

Nothing here is shipped in a Lambda zip.
"""
