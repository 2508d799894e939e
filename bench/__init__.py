"""Benchmark scripts (``python -m bench.<name>``) and their helpers; see bench/README.md."""
