"""Scripts that run inside trace-opt's own virtualenv (``.bench/trace-venv``); they import ``opto``,
never autotrace, and talk to the harness through JSON files."""
