"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = ("25h", "7s", "0s", "1h1m1s", "12m", "100m", "4h20m", "59m59s", "2h2s")
