"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = ("Zero-Downtime Deploys", "  --leading and trailing--  ", "C++ & C#", "version 2.0.1", "UPPER lower",
         "a_b_c", "x", "!!!", "new\nline  and   spaces")
