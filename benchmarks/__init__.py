"""The performance suite: ``pytest benchmarks/ --benchmark-only`` (see README.md)."""
