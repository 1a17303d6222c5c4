"""Benchmarks behind ``smalltown bench``: they print figures; docs/benchmarks.md keeps them."""
