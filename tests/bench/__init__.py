"""``make bench``: measured figures for docs/benchmarks.md (see tests/bench/__main__.py)."""
