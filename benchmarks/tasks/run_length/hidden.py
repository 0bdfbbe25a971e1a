"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = ("bookkeeper", "q", "aaaaaaaaaaaa", "abab", "!!??", "Aa", "tt t", "", "9999")
