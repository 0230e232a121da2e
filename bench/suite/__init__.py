"""Sections of the benchmark suite run by ``python -m bench.run``."""
