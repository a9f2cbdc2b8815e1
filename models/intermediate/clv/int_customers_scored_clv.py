"""Per customer x fit period x purchase model: P(alive), expected purchase days, expected spend
per purchase day, predicted and discounted CLV and (as-of) the 80% interval with its draws, from
the parameters of int_clv_models_fitted. The code is spendlens.clv_scoring.score_periods (its
docstring has the rules; docs/clv.md the formulas); on Spark the runner calls the same function
on the driver and models/intermediate/clv/spark/int_customers_scored_clv.sql reads its table.
"""

from __future__ import annotations

import pyarrow as pa

from spendlens.clv_scoring import score_periods


def model(dbt, session) -> pa.Table:
    dbt.config(materialized="table")
    horizon = dbt.config.get("clv_horizon_days")  # plain calls: dbt finds them in the code
    discount_rate = dbt.config.get("clv_discount_rate_annual")
    return score_periods(
        dbt.ref("int_customers_summarised_for_clv").df(),
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_fit_periods_checked").df(),
        horizon=float(horizon),
        discount_rate=float(discount_rate),
    )
