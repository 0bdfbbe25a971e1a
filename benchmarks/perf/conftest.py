"""The performance suite's marker: ``wall`` for a benchmark whose work runs in child processes."""


def pytest_configure(config):
    config.addinivalue_line("markers", "wall: runs child processes: timed by the wall clock, shown, never failing")
