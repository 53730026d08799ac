"""Benchmarks that drive a real records-service server process; see docs/benchmarks.md."""
