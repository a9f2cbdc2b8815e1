"""The CLV step of a Spark build, run on the driver between two dbt steps.

dbt-spark runs Python models only on Databricks, so on Spark `spendlens build --target spark`
does what the two dbt Python models do on DuckDB, with the same functions:

1. read `int_customers_summarised_for_clv` (one row per customer and fit period, computed in
   SQL on the engine) and `int_clv_fit_periods_checked` from the Spark catalog;
2. fit (spendlens.clv_fitting.fit_periods, on a seeded sample above var clv_fit_max_customers)
   and score every customer (spendlens.clv_scoring.score_periods) in Python on the driver;
3. write both results as Parquet tables `clv_driver.clv_models_fitted` and
   `clv_driver.clv_customers_scored`, which the Spark stand-ins of the two models read.

The Spark session: inside `spark-submit` or a notebook on a cluster, the active session
(`SparkSession.getActiveSession()`, or the builder's `getOrCreate()` with the cluster's own
configuration when SPENDLENS_SPARK_USE_ACTIVE=1); otherwise a local session configured like the
`spark` target of profiles.yml (SPENDLENS_SPARK_DIR, SPENDLENS_SPARK_MASTER, ...), which shares
the warehouse and Derby metastore that dbt-spark's session mode used. docs/portability.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spendlens.clv_fitting import fit_periods
from spendlens.clv_scoring import score_periods

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DRIVER_SCHEMA = "clv_driver"
INTERMEDIATE_SCHEMA = "intermediate"
#: The vars the step reads, with the defaults of dbt_project.yml.
DEFAULTS: dict[str, Any] = {
    "clv_purchase_model": "auto",
    "clv_interval_draws": 200,
    "clv_interval_seed": 20261207,
    "clv_fit_max_customers": None,
    "clv_horizon_days": 365,
    "clv_discount_rate_annual": 0.10,
    "clv_driver_schema": DRIVER_SCHEMA,
}


def local_session() -> SparkSession:
    """A local Spark session configured like profiles.yml's `spark` target (session mode)."""
    from pyspark.sql import SparkSession

    spark_dir = Path(os.environ.get("SPENDLENS_SPARK_DIR", "target/spark")).resolve()
    env = os.environ.get
    builder = (
        SparkSession.builder.appName("spendlens-clv-driver")
        .master(env("SPENDLENS_SPARK_MASTER", "local[2]"))
        .config("spark.driver.memory", env("SPENDLENS_SPARK_DRIVER_MEMORY", "3g"))
        .config("spark.sql.shuffle.partitions", env("SPENDLENS_SPARK_SHUFFLE_PARTITIONS", "4"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.hive.manageFilesourcePartitions", "false")
        .config("spark.sql.warehouse.dir", f"{spark_dir}/warehouse")
        .config("spark.local.dir", f"{spark_dir}/tmp")
        .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={spark_dir}/metastore_db;create=true")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={spark_dir}")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .enableHiveSupport()
    )
    return builder.getOrCreate()


def session() -> SparkSession:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if os.environ.get("SPENDLENS_SPARK_USE_ACTIVE") == "1":
        return SparkSession.builder.getOrCreate()
    return local_session()


def settings(values: dict[str, Any] | None) -> dict[str, Any]:
    """DEFAULTS overridden by dbt_project.yml's vars, then by the build's --vars."""
    import yaml

    from spendlens.project import PROJECT_DIR

    merged = dict(DEFAULTS)
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text()) or {}
    merged.update({k: v for k, v in (project.get("vars") or {}).items() if k in DEFAULTS})
    merged.update({k: v for k, v in (values or {}).items() if k in DEFAULTS})
    return merged


def run(spark: SparkSession, values: dict[str, Any] | None = None) -> dict[str, int]:
    """Fit and score on the driver and write the two tables; returns their row counts."""
    import pandas as pd

    conf = settings(values)
    summary = spark.table(f"{INTERMEDIATE_SCHEMA}.int_customers_summarised_for_clv").toPandas()
    checks = spark.table(f"{INTERMEDIATE_SCHEMA}.int_clv_fit_periods_checked").toPandas()
    max_customers = conf["clv_fit_max_customers"]
    fits = fit_periods(summary, checks, requested=str(conf["clv_purchase_model"] or "auto"),
                       n_draws=int(conf["clv_interval_draws"]), seed=int(conf["clv_interval_seed"]),
                       max_customers=int(max_customers) if max_customers not in (None, "") else None)
    scores = score_periods(summary, fits, checks, horizon=float(conf["clv_horizon_days"]),
                           discount_rate=float(conf["clv_discount_rate_annual"]))
    schema = str(conf["clv_driver_schema"])
    spark.sql(f"create database if not exists {schema}")
    fits_frame = fits.astype({"value": "float64", "std_error": "float64"})
    _write(spark, spark.createDataFrame(fits_frame, schema=_fits_schema()), f"{schema}.clv_models_fitted")
    scores_frame: pd.DataFrame = scores.to_pandas()
    _write(spark, spark.createDataFrame(scores_frame, schema=_scores_schema()),
           f"{schema}.clv_customers_scored")
    return {"clv_models_fitted": len(fits_frame), "clv_customers_scored": len(scores_frame)}


def _write(spark: SparkSession, frame: Any, table: str) -> None:
    spark.sql(f"drop table if exists {table}")
    frame.write.format("parquet").saveAsTable(table)


def _fits_schema() -> Any:
    from pyspark.sql import types as T

    return T.StructType([
        T.StructField("fit_period", T.StringType()), T.StructField("model", T.StringType()),
        T.StructField("draw", T.LongType()), T.StructField("parameter", T.StringType()),
        T.StructField("value", T.DoubleType()), T.StructField("std_error", T.DoubleType()),
        T.StructField("time_unit", T.StringType()), T.StructField("status", T.StringType()),
        T.StructField("message", T.StringType()), T.StructField("is_chosen", T.BooleanType()),
    ])


def _scores_schema() -> Any:
    from pyspark.sql import types as T

    text = ("fit_period", "model", "customer_id", "model_status")
    numbers = ("p_alive", "predicted_orders", "predicted_aov", "predicted_clv",
               "predicted_clv_discounted", "predicted_clv_low", "predicted_clv_high")
    fields = [T.StructField(name, T.StringType()) for name in text[:3]]
    fields += [T.StructField(name, T.DoubleType()) for name in numbers]
    fields += [T.StructField("model_status", T.StringType()),
               T.StructField("predicted_clv_draws", T.ArrayType(T.DoubleType()))]
    return T.StructType(fields)


def main(argv: list[str] | None = None) -> int:
    """`python -m spendlens.clv_driver [--vars YAML]`: the driver step alone."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(prog="python -m spendlens.clv_driver", description=__doc__)
    parser.add_argument("--vars", default=None, help="the build's dbt --vars (YAML mapping)")
    args = parser.parse_args(argv)
    values = yaml.safe_load(args.vars) if args.vars else {}
    counts = run(session(), values)
    print("clv driver: wrote " + ", ".join(f"{DRIVER_SCHEMA}.{k} ({v:,} rows)" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
