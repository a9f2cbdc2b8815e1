#!/usr/bin/env bash
# `make test-spark`: build every SQL model on DuckDB and on Spark (dbt-spark session mode, local
# pyspark) from the same raw files, then compare the marts row by row
# (scripts/compare_engines.py). Data sets: CDNOW, Superstore and a small generated set with bad
# rows. Each data set gets its own DuckDB file, Spark warehouse and metastore under
# target/spark-test/<name>/. On the generated set the data tests run on Spark as well.
# docs/portability.md explains the rules and what is skipped.
#
#   scripts/test_spark.sh                       # all three data sets
#   SPARK_TEST_SETS="superstore" SPARK_DATA_TESTS_ON=superstore scripts/test_spark.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
SPARK_VENV="${SPARK_VENV:-.venv-spark}"
SHARED="${SHARED:-../shared/datasets}"
WORK="${SPARK_TEST_DIR:-target/spark-test}"
SETS="${SPARK_TEST_SETS:-cdnow superstore generated}"
SPARK_DATA_TESTS_ON="${SPARK_DATA_TESTS_ON:-generated}"
export DBT_PROFILES_DIR="$PWD"
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$PWD/$SPARK_VENV/bin/python"

seconds() { date +%s; }
started=$(seconds)
cases=()

for name in $SETS; do
    dir="$WORK/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    raw="$dir/raw"
    case "$name" in
        cdnow) "$VENV/bin/spendlens" import cdnow "$SHARED/cdnow/CDNOW_master.txt" --out "$raw" ;;
        superstore) "$VENV/bin/spendlens" import superstore "$SHARED/superstore/superstore.csv" --out "$raw" ;;
        generated) "$VENV/bin/spendlens" generate --lines 20000 --out "$raw" ;;
        *) echo "test_spark.sh: unknown data set $name" >&2; exit 2 ;;
    esac
    # cdnow runs the default settings; superstore a 4-4-5 calendar; generated (bad rows on
    # purpose, as in make dbt-test-generated) a fiscal year from April, rolling week and month
    # windows, a to-date quarter and tag matching, so each engine-specific path runs somewhere.
    case "$name" in
        superstore) settings="business_calendar: {type: '445', fiscal_year_start: '01-01'}" ;;
        generated) settings="business_calendar: {type: standard, fiscal_year_start: '04-01'},
            discovery_match_tags: true, discovery_match_tag_groups: [brand],
            spend_windows: [{name: last_8_weeks, periods: 8, unit: week, prior_periods: 8, anchor: rolling},
                            {name: last_6_months, periods: 6, unit: month, prior_periods: 6, anchor: rolling},
                            {name: quarter_to_date, periods: 1, unit: quarter, prior_periods: 1, anchor: to_date}]" ;;
        *) settings="" ;;
    esac
    vars="{raw_path: '$raw', data_quality_max_issue_pct: 10${settings:+, $settings}}"

    t0=$(seconds)
    SPENDLENS_DB="$dir/duckdb.duckdb" SPENDLENS_TEMP_DIR="$dir/duckdb_tmp" DBT_TARGET_PATH="$dir/dbt-duckdb" \
        "$VENV/bin/dbt" build --resource-type seed --resource-type model --vars "$vars" \
        --log-path "$dir/logs" > "$dir/dbt-duckdb.log" 2>&1 \
        || { tail -40 "$dir/dbt-duckdb.log"; echo "test_spark.sh: DuckDB build of $name failed" >&2; exit 1; }
    t1=$(seconds)
    # Data tests run on Spark for one set too (unit tests stay on DuckDB): the tests are SQL too.
    if [ "$name" = "$SPARK_DATA_TESTS_ON" ]; then
        what=(--exclude "test_type:unit")
    else
        what=(--resource-type seed --resource-type model)
    fi
    # every mart: `spendlens build --target spark` = dbt build of all but the CLV step, the CLV
    # fit and scores on the driver (same Python functions as DuckDB's dbt Python models), then
    # dbt build of the CLV models and what reads them (spendlens/spark_build.py)
    SPENDLENS_SPARK_DIR="$dir/spark" DBT_TARGET_PATH="$dir/dbt-spark" PYTHONPATH="$PWD" \
        "$SPARK_VENV/bin/python" -m spendlens build --target spark --vars "$vars" \
        --dbt-args "${what[*]} --log-path $dir/logs" > "$dir/dbt-spark.log" 2>&1 \
        || { tail -60 "$dir/dbt-spark.log"; echo "test_spark.sh: Spark build of $name failed" >&2; exit 1; }
    t2=$(seconds)
    echo "test-spark $name: DuckDB build $((t1 - t0)) s, Spark build $((t2 - t1)) s" \
         "(Spark: $(grep -o 'PASS=[0-9]* WARN=[0-9]* ERROR=[0-9]*' "$dir/dbt-spark.log" | tr '\n' ' ')" \
         "$(grep -o 'spark build: dbt build (all.*' "$dir/dbt-spark.log" | tail -1))"
    cases+=(--case "$name" "$dir/duckdb.duckdb" "$dir/spark/warehouse" "$dir/dbt-spark/manifest.json")
done

"$SPARK_VENV/bin/python" scripts/compare_engines.py "${cases[@]}"
echo "test-spark: $(( $(seconds) - started )) s in all"
