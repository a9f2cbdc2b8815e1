"""Purchase models (BG/NBD, MBG/NBD, Pareto/NBD) and Gamma-Gamma fitted by maximum likelihood
on int_customers_summarised_for_clv, once per fit period, with the parameter draws of the
intervals and the choice of the purchase model: one row per fit period x model x draw x
parameter. The code is spendlens.clv_fitting.fit_periods (its docstring has the rules;
docs/clv.md the formulas); on Spark the runner calls the same function on the driver and
models/intermediate/clv/spark/int_clv_models_fitted.sql reads its table.
"""

from __future__ import annotations

import pandas as pd

from spendlens.clv_fitting import fit_periods


def model(dbt, session) -> pd.DataFrame:
    dbt.config(materialized="table")
    # one plain dbt.config.get per setting: dbt finds them by reading this code (a call nested
    # in an expression such as `x or y` is not found, and then returns None)
    requested = dbt.config.get("clv_purchase_model")
    n_draws = dbt.config.get("clv_interval_draws")
    seed = dbt.config.get("clv_interval_seed")
    max_customers = dbt.config.get("clv_fit_max_customers")
    return fit_periods(
        dbt.ref("int_customers_summarised_for_clv").df(),
        dbt.ref("int_clv_fit_periods_checked").df(),
        requested=str(requested or "auto"),
        n_draws=int(n_draws),
        seed=int(seed),
        max_customers=int(max_customers) if max_customers not in (None, "", "None") else None,
    )
