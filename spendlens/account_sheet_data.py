"""What an account sheet shows, read from the published marts (read-only connection).

`run_facts` reads what every sheet of a run shares (as-of date, currency, the spend windows, the
risk bands); `load_sheets` reads the rows of many customers at once, one query per mart (a
`customer_id in (...)` filter), so a run of N sheets scans each mart once. A mart that is not
in the build leaves its section with a note. `top_at_risk` picks customers for
`--top-at-risk N`; the ordering is documented in docs/report.md (section "Account sheets").
"""

from __future__ import annotations

import difflib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from spendlens.errors import SpendlensError
from spendlens.report_charts import mart_exists, rows
from spendlens.spend_spans import Span
from spendlens.talking_points import (
    Recommendation,
    RiskFacts,
    Settings,
    SpendRow,
    TalkingPoint,
    talking_points,
)


@dataclass
class RunFacts:
    """Shared by every sheet of one run."""

    db: Path
    settings: Settings
    as_of_date: date | None
    currency: str
    windows: list[dict[str, Any]]  # window_name, window_start, window_end, prior_window_start, prior_window_end
    risk_bands: dict[str, list[dict[str, Any]]]  # segment ('*' = all) -> bands by band_order
    built_at: datetime | None = None

    @property
    def spans(self) -> list[Span]:
        spans = []
        for w in self.windows:
            spans.append(Span((w["window_name"], "window"), w["window_start"], w["window_end"]))
            spans.append(Span((w["window_name"], "prior"), w["prior_window_start"], w["prior_window_end"]))
        return spans

    def bands_for(self, segment: str | None) -> list[dict[str, Any]]:
        return self.risk_bands.get(segment or "*") or self.risk_bands.get("*", [])


@dataclass
class SheetData:
    """One customer's rows from the marts, and the talking points made from them."""

    customer_id: str
    headline: dict[str, Any]  # the customers_360 row
    value: dict[str, Any] = field(default_factory=dict)  # the customer_value row (interval columns)
    spend_rows: list[SpendRow] = field(default_factory=list)
    risk: RiskFacts | None = None
    risk_history: list[dict[str, Any]] = field(default_factory=list)  # month-ends, then the as-of point
    rfm_history: list[dict[str, Any]] = field(default_factory=list)  # month-ends, then the as-of row
    # customer_monthly_spend rows at the sheet's item level: item_id, month_start, month_end, spend_amount
    monthly_spend: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    product_names: dict[str, str] = field(default_factory=dict)
    points: list[TalkingPoint] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # marts not in this build


REQUIRED_MART = "customers_360"


def run_facts(con: duckdb.DuckDBPyConnection, db: Path, settings: Settings,
              reporting_currency: str | None = None) -> RunFacts:
    if not mart_exists(con, REQUIRED_MART):
        raise SpendlensError(f"{db} has no marts.{REQUIRED_MART}: run `spendlens build` first")
    as_of = None
    for mart in ("customer_rfm", "customer_classifications"):
        if mart_exists(con, mart):
            found = rows(con, f"select max(as_of_date) as as_of_date from marts.{mart}")
            if found and found[0]["as_of_date"]:
                as_of = _as_date(found[0]["as_of_date"])
                break
    windows: list[dict[str, Any]] = []
    if mart_exists(con, "customer_spend_profile"):
        windows = [{k: _as_date(v) if k != "window_name" else v for k, v in w.items()} for w in rows(con, """
            select window_name, min(window_start) as window_start, max(window_end) as window_end,
                min(prior_window_start) as prior_window_start, max(prior_window_end) as prior_window_end
            from marts.customer_spend_profile
            group by window_name
            order by max(window_end) - min(window_start), window_name
        """)]
    try:
        band_rows = rows(con, """
            select segment, band_order, upper_bound, label, color
            from seeds.classification_bands
            where classification_type = 'risk_score'
            order by segment, band_order
        """)
    except duckdb.Error:
        band_rows = []
    bands: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for band in band_rows:
        bands[band["segment"]].append(band)
    return RunFacts(db=db, settings=settings, as_of_date=as_of, currency=_currency(con, reporting_currency),
                    windows=windows, risk_bands=dict(bands),
                    built_at=datetime.fromtimestamp(db.stat().st_mtime) if db.is_file() else None)


def _currency(con: duckdb.DuckDBPyConnection, configured: str | None) -> str:
    """The reporting currency code as the main report finds it (the most common currency among
    lines converted at rate 1), else the reporting_currency var, else ''. The marts hold amounts,
    not the code."""
    try:
        found = con.execute("""
            select currency from intermediate.int_order_lines_validated
            where dq_reason is null and rate_to_reporting = 1 and currency is not null
            group by currency order by count(*) desc, currency limit 1
        """).fetchone()
    except duckdb.Error:
        found = None
    if found:
        return str(found[0])
    return str(configured) if configured else ""


# -- choosing customers ---------------------------------------------------------------------------

def check_known(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    """Raises a SpendlensError naming every id that is not in customers_360 (with close matches)."""
    found = {r[0] for r in con.execute(
        f"select customer_id from marts.{REQUIRED_MART} where customer_id in (select unnest(?::varchar[]))",
        [ids]).fetchall()}
    unknown = [i for i in ids if i not in found]
    if not unknown:
        return
    every = [r[0] for r in con.execute(f"select customer_id from marts.{REQUIRED_MART}").fetchall()
             if r[0] is not None]
    described = []
    for customer_id in unknown[:10]:
        close = difflib.get_close_matches(customer_id, every, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        described.append(f"{customer_id!r}{hint}")
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    raise SpendlensError(
        f"unknown customer id{'s' if len(unknown) > 1 else ''} {', '.join(described)}{more}: "
        f"ids are the customer_id values of marts.{REQUIRED_MART} ({len(every):,} customers in this build); "
        "check the id, or `--top-at-risk N` to pick customers. Nothing was written.")


def top_at_risk(con: duckdb.DuckDBPyConnection, n: int, value_share: float) -> list[str]:
    """The N most valuable customers with the highest churn risk.

    Valuable: the top `value_share` of customers by value = total_clv (historic + predicted
    CLV), else historic_clv, else net_spend_amount (at least one customer). Among them: churn
    risk descending, then risk score descending (so the order stays useful when the CLV model
    gives every customer the same churn risk), then value descending, then customer_id.
    Customers without a churn risk or risk score come after those with one."""
    found = con.execute(f"""
        with valued as (
            select customer_id, churn_risk, risk_score,
                coalesce(total_clv, historic_clv, net_spend_amount, 0) as customer_value
            from marts.{REQUIRED_MART}
        ),
        ranked as (
            select *,
                row_number() over (order by customer_value desc, customer_id) as value_rank,
                count(*) over () as customers
            from valued
        )
        select customer_id
        from ranked
        where value_rank <= greatest(1, ceil(customers * ?))
        order by churn_risk desc nulls last, risk_score desc nulls last, customer_value desc, customer_id
        limit ?
    """, [value_share, n]).fetchall()
    return [r[0] for r in found]


# -- one query per mart for all the customers of a run --------------------------------------------

def load_sheets(con: duckdb.DuckDBPyConnection, ids: list[str], facts: RunFacts) -> list[SheetData]:
    by_id = {r["customer_id"]: SheetData(r["customer_id"], r) for r in _for_ids(
        con, f"select * from marts.{REQUIRED_MART} where {{ids}}", ids)}
    sheets = [by_id[i] for i in ids]
    missing = {m for m in ("customer_value", "customer_spend_profile", "customer_classifications",
                           "customer_classification_history", "customer_rfm", "customer_rfm_history",
                           "customer_product_recommendations", "customer_monthly_spend")
               if not mart_exists(con, m)}
    for sheet in sheets:
        sheet.missing = set(missing)
    if "customer_value" not in missing:
        for r in _for_ids(con, "select * from marts.customer_value where {ids}", ids):
            by_id[r["customer_id"]].value = r
    if "customer_spend_profile" not in missing:
        for r in _for_ids(con, """
                select customer_id, item_level, item_id, window_name, window_start, window_end, total_spend,
                    prior_total_spend, spend_change_pct, margin_pct, share_of_wallet_pct, segment_share_pct, segment
                from marts.customer_spend_profile where {ids}
                order by customer_id, item_level, item_id, window_name""", ids):
            by_id[r.pop("customer_id")].spend_rows.append(SpendRow(
                **{k: _as_date(v) if k in ("window_start", "window_end") else v for k, v in r.items()}))
    if "customer_monthly_spend" not in missing:
        for r in _for_ids(con, f"""
                select customer_id, item_id, month_start, month_end, spend_amount
                from marts.customer_monthly_spend
                where item_level = {_sql_text(facts.settings.item_level)} and {{ids}}
                order by customer_id, month_start, item_id""", ids):
            by_id[r.pop("customer_id")].monthly_spend.append(
                {**r, "month_start": _as_date(r["month_start"]), "month_end": _as_date(r["month_end"])})
    _load_risk(con, ids, by_id, missing, facts)
    _load_rfm(con, ids, by_id, missing)
    if "customer_product_recommendations" not in missing:
        _load_recommendations(con, ids, by_id)
    for sheet in sheets:
        sheet.points = talking_points(sheet.spend_rows, sheet.risk, sheet.recommendations, facts.settings,
                                      facts.currency)
    return sheets


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _load_risk(con: duckdb.DuckDBPyConnection, ids: list[str], by_id: dict[str, SheetData], missing: set[str],
               facts: RunFacts) -> None:
    if "customer_classification_history" not in missing:
        for r in _for_ids(con, """
                select customer_id, month_end_date, metric_value, band_label, band_color
                from marts.customer_classification_history
                where classification_type = 'risk_score' and metric_value is not null and {ids}
                order by customer_id, month_end_date""", ids):
            by_id[r.pop("customer_id")].risk_history.append({**r, "month_end_date": _as_date(r["month_end_date"])})
    if "customer_classifications" not in missing:
        for r in _for_ids(con, """
                select customer_id, metric_value, band_label, band_color, last_order_date, as_of_date
                from marts.customer_classifications
                where classification_type = 'risk_score' and {ids}""", ids):
            sheet = by_id[r["customer_id"]]
            as_of = _as_date(r["as_of_date"]) or facts.as_of_date
            sheet.risk = RiskFacts(r["metric_value"], r["band_label"], _as_date(r["last_order_date"]), as_of)
            history = sheet.risk_history
            if r["metric_value"] is not None and as_of and (not history or history[-1]["month_end_date"] < as_of):
                history.append({"month_end_date": as_of, "metric_value": r["metric_value"],
                                "band_label": r["band_label"], "band_color": r["band_color"], "is_as_of": True})


def _load_rfm(con: duckdb.DuckDBPyConnection, ids: list[str], by_id: dict[str, SheetData], missing: set[str]) -> None:
    if "customer_rfm_history" not in missing:
        for r in _for_ids(con, """
                select customer_id, month_end_date, monetary, frequency, persona, rfm_segment, rfm_cell
                from marts.customer_rfm_history where {ids}
                order by customer_id, month_end_date""", ids):
            by_id[r.pop("customer_id")].rfm_history.append({**r, "month_end_date": _as_date(r["month_end_date"])})
    if "customer_rfm" not in missing:
        for r in _for_ids(con, """
                select customer_id, as_of_date as month_end_date, monetary, frequency, persona, rfm_segment, rfm_cell
                from marts.customer_rfm where {ids}""", ids):
            history = by_id[r.pop("customer_id")].rfm_history
            r["month_end_date"] = _as_date(r["month_end_date"])
            if r["month_end_date"] and (not history or history[-1]["month_end_date"] < r["month_end_date"]):
                history.append({**r, "is_as_of": True})


def _load_recommendations(con: duckdb.DuckDBPyConnection, ids: list[str], by_id: dict[str, SheetData]) -> None:
    columns = {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'customer_product_recommendations'").fetchall()}
    optional = ", ".join(c if c in columns else f"null as {c}" for c in ("reason_basis", "product_name", "category"))
    recs = _for_ids(con, f"""
        select customer_id, reason, rank, product_id, score, {optional}
        from marts.customer_product_recommendations where {{ids}}
        order by customer_id, reason, rank""", ids)
    # Names of anchor products and of the products in the customers' spend profiles: the mart
    # names every product it recommends to anyone.
    wanted = sorted({r["reason_basis"] for r in recs if r["reason"] == "also_bought" and r["reason_basis"]}
                    | {row.item_id for i in ids for row in by_id[i].spend_rows if row.item_level == "product"})
    names: dict[str, str] = {}
    if wanted and "product_name" in columns:
        names = {r[0]: r[1] for r in con.execute("""
            select product_id, min(product_name) from marts.customer_product_recommendations
            where product_id in (select unnest(?::varchar[])) and product_name is not null
            group by product_id""", [wanted]).fetchall()}
    for r in recs:
        basis = r["reason_basis"]
        sheet = by_id[r["customer_id"]]
        sheet.recommendations.append(Recommendation(
            reason=r["reason"], rank=int(r["rank"]), product_id=r["product_id"], product_name=r["product_name"],
            category=r["category"], score=float(r["score"]), reason_basis=basis,
            basis_name=names.get(basis) if r["reason"] == "also_bought" and basis else None))
    for customer_id in ids:
        sheet = by_id[customer_id]
        sheet.product_names = {row.item_id: names[row.item_id] for row in sheet.spend_rows
                               if row.item_level == "product" and row.item_id in names}


def _for_ids(con: duckdb.DuckDBPyConnection, sql: str, ids: list[str]) -> list[dict[str, Any]]:
    return rows(con, sql.replace("{ids}", "customer_id in (select unnest(?::varchar[]))"), [ids])


def _as_date(value: Any) -> Any:
    """DuckDB gives dates as date or datetime (timestamps): always a date."""
    if isinstance(value, datetime):
        return value.date()
    return value


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
