# Sourced by scripts/test.sh and scripts/lint.sh: make .venv and install autotrace into it with the extras
# in $EXTRAS (editable). The install runs again only when pyproject.toml changed since the last one that
# succeeded (its hash is kept in .venv/.installed). uv installs when it can (a fresh install in seconds,
# not a minute: docs/decisions/test-install.md); pip does when uv cannot be had or fails. Both write the
# packages' bytecode at install, which Python reads even where it writes none (PYTHONDONTWRITEBYTECODE).
[ -x .venv/bin/python ] || python3 -m venv .venv 2>/dev/null || true
[ -x .venv/bin/python ] || { echo "$0: python3 -m venv failed" >&2; exit 2; }
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ "$(cat .venv/.installed 2>/dev/null)" != "$want" ]; then
    rm -f .venv/.installed
    if { [ -x .venv/bin/uv ] || .venv/bin/python -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; } \
        && .venv/bin/uv pip install --quiet --compile-bytecode --python .venv/bin/python -e ".[$EXTRAS]"; then
        :
    else
        echo "$0: uv could not install; installing with pip" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"
    fi
    echo "$want" > .venv/.installed
fi
