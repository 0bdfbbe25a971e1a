"""Benchmarks: autotrace against Trace (trace-opt) on the same local model; run ``python -m benchmarks``."""
