"""The paper's experiments (numeric graphs, Battleship, traffic) run side by side: autotrace, trace-opt, baselines."""
