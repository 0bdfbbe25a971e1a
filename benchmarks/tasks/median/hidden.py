"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = ([1, 2], [9, 3, 7, 1], [-5, -1, -3], [4, 4, 4, 4], [100], [2.5, 1.0, 4.0, 3.0], [8, 6, 7, 5, 3, 0, 9],
         [1, 1000], [3, 3, 1, 2])
