#!/usr/bin/env bash
# Set-up command 1: install autotrace and the embedded local model into .venv (idempotent), then
# optimize two examples on the local model, offline, with no API key, and show their patches:
# examples/fit_constants (numeric constants: the sensitivity probes' estimate is evaluated first and
# may settle it without an LLM call) and examples/fix_bug (a function the model has to rewrite).
# Extra arguments go to both `autotrace optimize` runs (e.g. --steps 12).
# Exit code: 0 both reached their target, 1 one ran out of steps first, 2 or more an error.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv 2>/dev/null || true
[ -x .venv/bin/python ] || { echo "demo: python3 -m venv failed" >&2; exit 2; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local]' || exit 2
.venv/bin/autotrace model install || exit 3
unset OPENAI_API_KEY OPENAI_BASE_URL AUTOTRACE_MODEL
autotrace=$PWD/.venv/bin/autotrace
worst=0
run() {  # run EXAMPLE ARGS...: one optimization in examples/EXAMPLE; stop the demo on an error
    local example=$1; shift
    echo "== examples/$example: autotrace optimize $*" >&2
    (cd "examples/$example" && "$autotrace" optimize "$@")
    local rc=$?
    [ "$rc" -ge 2 ] && exit "$rc"
    [ "$rc" -gt "$worst" ] && worst=$rc
    return 0
}
run fit_constants main.py --feedback judge.py --model local --steps 10 --target -0.5 "$@"
run fix_bug stats.py --feedback judge.py --model local --steps 10 --target 1 "$@"
exit "$worst"
