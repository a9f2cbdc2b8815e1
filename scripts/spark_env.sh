#!/usr/bin/env bash
# Create (or refresh) .venv-spark: a Python 3.11 venv with dbt-spark[session] and a local
# pyspark 3.5 (pinned in requirements-spark.txt, resolved set in constraints-spark.txt), plus
# duckdb/pandas/pyarrow for scripts/compare_engines.py. Only `make test-spark` uses it; the
# main .venv never imports pyspark. Needs Java 17 (`java` on PATH or JAVA_HOME).
# Idempotent: does nothing when the venv matches the requirements and constraints.
#
#   scripts/spark_env.sh                  # creates ./.venv-spark
#   SPARK_VENV=/some/dir PYTHON=python3.11 scripts/spark_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${SPARK_VENV:-.venv-spark}"
REQ=requirements-spark.txt
CONSTRAINTS=constraints-spark.txt
STAMP="$VENV/.installed-requirements"

if [ -x "$VENV/bin/dbt" ] && [ -f "$STAMP" ] && cat "$REQ" "$CONSTRAINTS" | cmp -s - "$STAMP"; then
    exit 0
fi

# The pinned set is resolved and tested on CPython 3.11 (as .venv-lifetimes).
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "spark_env.sh: need Python 3.11 for $REQ, got $("$PYTHON" --version 2>&1) ($PYTHON);" \
         "set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if ! java -version >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    echo "spark_env.sh: pyspark needs Java 17 (install openjdk-17-jre-headless or set JAVA_HOME)" >&2
    exit 1
fi

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --quiet --disable-pip-version-check -r "$REQ" -c "$CONSTRAINTS"
"$VENV/bin/python" -c 'import pyspark; assert pyspark.__version__.startswith("3.5."), pyspark.__version__'
cat "$REQ" "$CONSTRAINTS" > "$STAMP"
echo "spark_env.sh: $VENV ready (dbt-spark session mode, pyspark $("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)'))"
