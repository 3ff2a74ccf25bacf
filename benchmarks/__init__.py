"""Benchmarks: measurements, not tests (nothing here asserts a time). A package so that tests import it
ahead of any installed distribution that ships a top-level `benchmarks` (pysbd does)."""
