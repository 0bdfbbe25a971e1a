"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = (([1, 2], 2), ([1, 2], 1), ([4, 8, 15, 16, 23, 42], 42), ([4, 8, 15, 16, 23, 42], 4), ([3, 6, 9], 7),
         ([7], 3), ([-9, -4, 0, 2], 0), ([1, 3, 5, 7, 9, 11, 13, 15], 15), ([2, 4, 6], 1))
