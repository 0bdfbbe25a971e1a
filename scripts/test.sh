#!/usr/bin/env bash
# Set-up command 2: install autotrace with its test dependencies into .venv (idempotent) and run the
# default test suite. Arguments go to pytest (e.g. -m slow for the real-model and real-suite tests).
# The tests run on every core (pytest-xdist), a whole test file to a worker so that a module's shared
# fixtures are set up once; -n 0 runs them in this process, one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv 2>/dev/null || true
[ -x .venv/bin/python ] || { echo "test: python3 -m venv failed" >&2; exit 2; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
exec .venv/bin/python -m pytest -n auto --dist loadfile "$@"
