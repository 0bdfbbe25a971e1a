"""Inputs the optimizer never sees: the benchmark runs the run's final function on them afterwards."""

CASES = ("the catcher in the rye", "one hundred years of solitude", "the sound and the fury", "east of eden",
         "a farewell to arms", "where the wild things are", "the grapes of wrath", "something to believe in",
         "an end")
