#!/usr/bin/env bash
# Set-up command 1: install autotrace and the embedded local model into .venv (idempotent), then
# optimize examples/fit_constants on the local model, offline, with no API key, and show the patch.
# Extra arguments go to `autotrace optimize` (e.g. --steps 12).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv 2>/dev/null || true
[ -x .venv/bin/python ] || { echo "demo: python3 -m venv failed" >&2; exit 2; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local]'
.venv/bin/autotrace model install
cd examples/fit_constants
unset OPENAI_API_KEY OPENAI_BASE_URL AUTOTRACE_MODEL
exec ../../.venv/bin/autotrace optimize main.py --feedback judge.py --model local --steps 10 --target -0.5 "$@"
