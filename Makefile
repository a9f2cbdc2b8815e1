# spendlens: `make demo` builds everything on generated data; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/datasets
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: bench-smoke browser lifetimes-env spark-env test-spark install demo test lint dbt-test-generated dbt-test-cdnow dbt-test-superstore pytest docs clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,bench]'
	touch $@

demo: install
	$(BIN)/spendlens generate --lines 200000 --out data/raw
	$(BIN)/spendlens build --data data/raw
	$(BIN)/spendlens export --format parquet --out exports
	$(BIN)/spendlens report --out reports/spendlens_report.html
	$(BIN)/spendlens report --top-at-risk 10 --out reports/accounts
	@echo "demo done: target/spendlens.duckdb, exports/, reports/spendlens_report.html, reports/accounts/index.html"

# sqlfluff's dbt templater compiles the models, and compiling reads the input files' columns:
# point it at the small fixture so every file is linted on a fresh clone.
lint: install
	$(BIN)/ruff check spendlens tests scripts dbt_rules
	mkdir -p target/lint
	SPENDLENS_RAW_PATH=tests/fixtures/tiny SPENDLENS_DB=target/lint/spendlens.duckdb DBT_TARGET_PATH=target/lint \
		$(BIN)/sqlfluff lint models macros tests/dbt analyses
	# the house style of the dbt project (dbt_rules/house_style.py, config in pyproject.toml)
	SPENDLENS_RAW_PATH=tests/fixtures/tiny SPENDLENS_DB=target/lint/spendlens.duckdb DBT_TARGET_PATH=target/lint \
		$(BIN)/dbt parse --quiet
	$(BIN)/dbt-score lint --manifest target/lint/manifest.json

# dbt build (models + data tests + unit tests) on each data set, each in its own DuckDB file.
dbt-test-generated: install
	$(BIN)/spendlens generate --lines 50000 --out target/ci/generated/raw
	SPENDLENS_DB=target/ci/generated/spendlens.duckdb $(BIN)/spendlens build --data target/ci/generated/raw

dbt-test-cdnow: install
	$(BIN)/spendlens import cdnow $(SHARED)/cdnow/CDNOW_master.txt --out target/ci/cdnow/raw
	SPENDLENS_DB=target/ci/cdnow/spendlens.duckdb $(BIN)/spendlens build --data target/ci/cdnow/raw

dbt-test-superstore: install
	$(BIN)/spendlens import superstore $(SHARED)/superstore/superstore.csv --out target/ci/superstore/raw
	SPENDLENS_DB=target/ci/superstore/spendlens.duckdb $(BIN)/spendlens build --data target/ci/superstore/raw

# lifetimes (test-only, old numpy/pandas) lives in its own venv for the CLV cross-check.
lifetimes-env:
	bash scripts/lifetimes_env.sh

# dbt-spark + local pyspark (session mode) in its own venv for the portability check.
spark-env:
	bash scripts/spark_env.sh

# The same models on Spark: build CDNOW, Superstore and a small generated set on DuckDB and on
# Spark, compare every mart row by row (docs/portability.md). Needs Java 17.
test-spark: install spark-env
	SHARED=$(SHARED) VENV=$(VENV) bash scripts/test_spark.sh

# headless Chromium (Debian package) for the report tests
browser:
	bash scripts/install_chromium.sh

pytest: install lifetimes-env browser
	$(BIN)/pytest -q

# benchmark smoke check: ratios printed, nothing timed is asserted (docs/benchmarks.md)
bench-smoke: install
	$(BIN)/spendlens bench --lines 1000000 --customers 10000 --products 1000 --workdir target/bench-smoke

test: lint dbt-test-generated dbt-test-cdnow dbt-test-superstore bench-smoke pytest

docs: install
	$(BIN)/dbt docs generate

clean:
	rm -rf target logs exports exports.versions reports data .venv-lifetimes .venv-spark
