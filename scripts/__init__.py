"""Benchmarks, evaluations and tools; a package so they can share `evalkit`."""
