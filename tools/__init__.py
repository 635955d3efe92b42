"""The project's own tooling: one package per tool, small modules per concern, a thin CLI each.

Run a tool as ``python -m tools.<name> ...`` from the repository root (the Makefile does).
Tools take paths, ports and clients as parameters and read no environment at import time.
"""
