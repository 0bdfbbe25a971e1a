#!/usr/bin/env bash
# Set-up command 2: install autotrace with its test dependencies into .venv (scripts/venv.sh) and run the
# default test suite. Arguments go to pytest (e.g. -m slow for the real-model and real-suite tests).
# The tests run on every core (pytest-xdist), a whole test file to a worker so that a module's shared
# fixtures are set up once, the longest files first (tests/conftest.py orders them; xdist's own reorder,
# by the number of tests in a file, would leave a long file of one test to run alone at the end); -n 0
# runs them in this process, one after another. One worker more than the cores: many tests wait on the
# processes and servers they start, and a third worker on two cores fills those waits
# (docs/decisions/test-install.md).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=local,dev
source scripts/venv.sh
WORKERS=$(( $(.venv/bin/python -c 'import os; print(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)') + 1 ))
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile --no-loadscope-reorder "$@"
