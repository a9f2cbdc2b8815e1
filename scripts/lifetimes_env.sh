#!/usr/bin/env bash
# Create (or refresh) .venv-lifetimes: a Python 3.11 venv with lifetimes 0.11.3 and the
# old numpy/scipy/pandas it needs, pinned in requirements-lifetimes.txt. Only the lifetimes
# cross-check in tests/python/test_clv_model.py uses it (via a subprocess); spendlens itself
# never imports lifetimes. Idempotent: does nothing when the venv matches the requirements.
#
#   scripts/lifetimes_env.sh              # creates ./.venv-lifetimes
#   LIFETIMES_VENV=/some/dir PYTHON=python3.11 scripts/lifetimes_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${LIFETIMES_VENV:-.venv-lifetimes}"
REQ=requirements-lifetimes.txt
STAMP="$VENV/.installed-requirements"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; then
    exit 0
fi

# pandas 1.5.3 and scipy 1.11.4 ship wheels for CPython <= 3.11 (scipy up to 3.12).
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "lifetimes_env.sh: need Python 3.11 for $REQ, got $("$PYTHON" --version 2>&1) ($PYTHON);" \
         "set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
"$VENV/bin/python" -c 'import lifetimes; assert lifetimes.__version__ == "0.11.3", lifetimes.__version__'
cp "$REQ" "$STAMP"
echo "lifetimes_env.sh: $VENV ready (lifetimes 0.11.3)"
