#!/usr/bin/env bash
# Lint and type-check: install autotrace with its dev extra into .venv (scripts/venv.sh, as scripts/test.sh
# does), then run ruff over the package and its tests and mypy over the package. Exits non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=local,dev
source scripts/venv.sh

status=0
echo "== ruff"
.venv/bin/ruff check . || status=1

# mypy cannot follow the editable install's package-dir mapping (transforms/ is autotrace.transforms,
# runners/ is autotrace.runners), so it reads the package from a tree of links laid out as installed;
# its paths are mapped back to the repository's in the report.
echo "== mypy"
tree=.mypy_cache/tree
rm -rf "$tree" && mkdir -p "$tree/autotrace"
for entry in autotrace/*; do
    ln -s "$PWD/$entry" "$tree/autotrace/${entry#autotrace/}"
done
ln -s "$PWD/transforms" "$tree/autotrace/transforms"
ln -s "$PWD/runners" "$tree/autotrace/runners"
(cd "$tree" && "$OLDPWD/.venv/bin/mypy" --config-file "$OLDPWD/pyproject.toml" --cache-dir "$OLDPWD/.mypy_cache" \
    --python-executable "$OLDPWD/.venv/bin/python" -p autotrace) \
    | sed -e 's#^autotrace/transforms/#transforms/#' -e 's#^autotrace/runners/#runners/#' \
    || status=1
exit "$status"
