#!/usr/bin/env bash
# Line coverage of autotrace/, runners/ and transforms/ by the default suite, the processes it starts
# included (the `autotrace optimize` commands, fork servers, workers and pytest runs: coverage.py's
# subprocess, _exit and execv patches). Usage: scripts/coverage.sh [CHECKOUT] [PYTEST ARGS...]: CHECKOUT
# (default: this one) must have its .venv (scripts/test.sh makes it); the same command measures any
# commit, so a before and an after are measured alike. Prints the report; the data stay in the folder named.
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
shift || true
out=$(mktemp -d /tmp/autotrace-coverage.XXXXXX)
cat > "$out/coveragerc" <<EOF
[run]
source =
    $root/autotrace
    $root/runners
    $root/transforms
data_file = $out/.coverage
parallel = true
patch =
    subprocess
    _exit
    execv

[report]
precision = 1
EOF
cd "$root"
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider -n auto --dist loadfile --no-loadscope-reorder --cov --cov-config="$out/coveragerc" \
    --cov-report= "$@" || status=$?
.venv/bin/python -m coverage combine --quiet --rcfile="$out/coveragerc" 2>/dev/null || true
.venv/bin/python -m coverage report --rcfile="$out/coveragerc" | tail -1
.venv/bin/python -m coverage json --quiet --rcfile="$out/coveragerc" -o "$out/coverage.json"
echo "coverage data and report: $out (pytest exit status $status)"
