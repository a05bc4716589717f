"""timefence side-by-side benchmark harness (see benchmarks/README.md)."""
