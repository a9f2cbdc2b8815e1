"""Account sheets (`spendlens report --customer ...`, issue 25).

On the Superstore build: the sheets of three customers chosen by query (one declining, one at
risk, one new) hold, in the headline and in every talking point, the numbers of the marts
(recomputed here with SQL and pandas); --top-at-risk follows the documented ordering; the pages
and the index open in headless Chromium with no console error. On hand-made inputs: each
talking-point rule fires when its condition holds and stays quiet when it does not; spend spans,
file names and the --customers-from file; hostile names stay text; unknown ids fail clearly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from spendlens import cli
from spendlens.account_sheet_charts import monthly_spend
from spendlens.account_sheets import file_names, read_ids, write_account_sheets
from spendlens.errors import SpendlensError
from spendlens.report_browser import CHARTS_RENDERED, Chromium, find_chromium
from spendlens.spend_spans import Span, pieces
from spendlens.talking_points import (
    Recommendation,
    RiskFacts,
    Settings,
    SpendRow,
    TalkingPoint,
    cross_sell,
    low_share_of_wallet,
    negative_margins,
    overdue,
    pick,
    spend_drops,
    talking_points,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>&amp;'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- reading the pages back -------------------------------------------------------------------------

class SheetParser(HTMLParser):
    """Collects the headline fields (data-field: raw value and shown text), the talking points
    (data-rule, data-numbers, text), the figure JSON and the links of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, tuple[str | None, str]] = {}
        self.points: list[dict[str, Any]] = []
        self.figures: dict[str, dict] = {}
        self.links: list[str] = []
        self._open: list[tuple[str, str, dict]] = []  # (tag, kind, attrs) of elements being read
        self._text: dict[int, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        kind = ("field" if "data-field" in a else "point" if "data-rule" in a
                else "figure" if tag == "script" and (a.get("id") or "").startswith("figure-") else "")
        self._open.append((tag, kind, a))
        self._text[len(self._open)] = []

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            return
        depth = len(self._open)
        open_tag, kind, a = self._open.pop()
        text = "".join(self._text.pop(depth, []))
        if self._open:
            self._text.setdefault(depth - 1, []).append(text)
        if kind == "field":
            self.fields[a["data-field"] or ""] = (a.get("data-value"), text)
        elif kind == "point":
            self.points.append({"rule": a["data-rule"], "numbers": json.loads(a["data-numbers"] or "{}"),
                                "text": text})
        elif kind == "figure":
            self.figures[(a.get("id") or "")[len("figure-"):]] = json.loads(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.setdefault(len(self._open), []).append(data)


def parse(path: Path) -> SheetParser:
    parser = SheetParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict[str, Any]:
    found = all_rows(con, sql, params)
    assert len(found) == 1, (sql, params, found)
    return found[0]


def all_rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def project_vars() -> dict[str, Any]:
    """The thresholds as written in dbt_project.yml (read here without spendlens)."""
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


# -- the Superstore sheets ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def superstore(projects) -> Path:
    return projects.db("superstore")


@pytest.fixture(scope="module")
def con(connect) -> duckdb.DuckDBPyConnection:
    return connect("superstore")


def expected_top_at_risk(con: duckdb.DuckDBPyConnection, n: int, share: float) -> list[str]:
    """The documented ordering, in pandas: the top `share` by value (total CLV, else historic CLV,
    else net spend), then churn risk, risk score and value descending (missing last), then id."""
    frame = con.execute("select customer_id, churn_risk, risk_score, total_clv, historic_clv, net_spend_amount "
                        "from marts.customers_360").df()
    frame["value"] = frame["total_clv"].fillna(frame["historic_clv"]).fillna(frame["net_spend_amount"]).fillna(0)
    frame = frame.sort_values(["value", "customer_id"], ascending=[False, True])
    pool = frame.head(max(1, math.ceil(len(frame) * share)))
    pool = pool.assign(churn=pool["churn_risk"].fillna(-math.inf), risk=pool["risk_score"].fillna(-math.inf))
    ordered = pool.sort_values(["churn", "risk", "value", "customer_id"], ascending=[False, False, False, True])
    return ordered["customer_id"].head(n).tolist()


@pytest.fixture(scope="module")
def chosen(con) -> dict[str, str]:
    """Three customers chosen by query: declining (the biggest category spend drop in the change
    window among customers whose 12-month spend fell), at risk (first of the top-at-risk
    ordering), new (the latest first order)."""
    v = project_vars()
    declining = one(con, """
        select p.customer_id
        from marts.customer_spend_profile as p
        inner join marts.customers_360 as c on p.customer_id = c.customer_id
        where p.item_level = ? and p.window_name = ? and p.spend_change_pct <= -? and p.prior_total_spend >= ?
            and c.spend_change_pct_last_12_months < 0
        order by p.prior_total_spend - p.total_spend desc, p.customer_id
        limit 1
    """, [v["account_sheet_item_level"], v["account_sheet_change_window"], v["account_sheet_drop_pct"],
          v["account_sheet_drop_min_prior_spend"]])["customer_id"]
    at_risk = expected_top_at_risk(con, 1, v["account_sheet_top_at_risk_value_share"])[0]
    new = one(con, "select customer_id from marts.customers_360 where first_order_date is not null "
                   "order by first_order_date desc, customer_id limit 1")["customer_id"]
    assert len({declining, at_risk, new}) == 3, "three different customers"
    return {"declining": declining, "at_risk": at_risk, "new": new}


@pytest.fixture(scope="module")
def sheets(superstore, chosen, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("accounts")
    paths = write_account_sheets(out, customers=list(chosen.values()), db=superstore)
    return dict(zip(chosen, paths, strict=True))


@pytest.fixture(scope="module")
def currency(con) -> str:
    """The currency code the sheets print (found as the main report finds it; '' if it cannot be)."""
    try:
        found = con.execute("""
            select currency from intermediate.int_order_lines_validated
            where dq_reason is null and rate_to_reporting = 1 and currency is not null
            group by currency order by count(*) desc, currency limit 1""").fetchone()
    except duckdb.Error:
        return ""
    return found[0] if found else ""


def cash(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}".strip()


def test_sheets_and_index_are_small_safe_files_sharing_one_plotly(sheets, chosen):
    folder = next(iter(sheets.values())).parent
    for role, path in sheets.items():
        assert path.name == f"{chosen[role]}.html"
        text = path.read_text(encoding="utf-8")
        assert len(text.encode()) < 1_000_000, f"{path.name} is {len(text.encode()):,} bytes"
        assert "* plotly.js v" not in text, "plotly.js is shared, not inlined"
        assert '<script src="plotly.min.js"' in text
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", text), "external resource"
    assert (folder / "plotly.min.js").read_text(encoding="utf-8").count("* plotly.js v") == 1
    index = parse(folder / "index.html")
    assert index.links == [sheets[role].name for role in chosen]


HEADLINE_TEXT = {
    # field: how the value must read (recomputed here)
    "predicted_clv": cash,
    "churn_risk": lambda v, cur: f"{100 * v:.0f}%",
    "p_alive": lambda v, cur: f"{v:.2f}",
    "risk_score": lambda v, cur: f"{v:.1f}",
    "target_attainment_pct": lambda v, cur: f"{v:.0f}%",
    "net_spend_amount": cash,
    "spend_last_12_months": cash,
    "spend_prior_12_months": lambda v, cur: f"{v:,.0f}",
    "order_count": lambda v, cur: f"{v:,}",
    "recency_days": lambda v, cur: f"{v:,} days ago",
}
HEADLINE_FIELDS = ["customer_id", "segment", "account_manager", "persona", "rfm_segment", "rfm_cell",
                   "predicted_spend_tier", "predicted_clv", "churn_risk", "p_alive", "expected_next_order_date",
                   "target_attainment_pct", "risk_score", "risk_score_band", "net_spend_amount", "order_count",
                   "first_order_date", "spend_last_12_months", "spend_prior_12_months", "last_order_date",
                   "recency_days", "clv_model_status"]


@pytest.mark.parametrize("role", ["declining", "at_risk", "new"])
def test_headline_numbers_equal_the_marts(sheets, chosen, con, currency, role):
    customer = chosen[role]
    page = parse(sheets[role])
    row = one(con, "select * from marts.customers_360 where customer_id = ?", [customer])
    value = one(con, "select * from marts.customer_value where customer_id = ?", [customer])
    expected = {f: row[f] for f in HEADLINE_FIELDS}
    expected["avg_days_between_orders"] = value["avg_days_between_orders"]
    for interval in ("predicted_clv_low", "predicted_clv_high"):  # issue 20: always published
        expected[interval] = value[interval]
    if row["target_amount_to_date"] is not None:
        expected.update(target_amount_to_date=row["target_amount_to_date"],
                        actual_amount_to_date=row["actual_amount_to_date"])
    for name, mart_value in expected.items():
        assert name in page.fields, f"{name} missing from the headline of {customer}"
        raw, text = page.fields[name]
        if name == "customer_id":
            assert text == customer
            continue
        if mart_value is None or (isinstance(mart_value, float) and math.isnan(mart_value)):
            assert raw == "", (name, raw)
            assert text in {"n/a", "none", "no target"}, (name, text)
            continue
        shown = json.loads(raw)
        if isinstance(mart_value, date | datetime):
            assert shown == day(mart_value).isoformat(), name
            assert text == day(mart_value).isoformat(), name
        elif isinstance(mart_value, str):
            assert shown == mart_value and text == mart_value, name
        else:
            assert shown == mart_value, (name, shown, mart_value)  # exactly the mart's number
            if name in HEADLINE_TEXT:
                assert text == HEADLINE_TEXT[name](mart_value, currency), (name, text)
    if row["target_amount_to_date"] is None:
        assert page.fields["target_attainment_pct"][1] == "no target"
    assert ("predicted_clv_low" in value) == ("predicted_clv_low" in page.fields)


def expected_points(con: duckdb.DuckDBPyConnection, customer: str) -> dict[str, list[dict[str, Any]]]:
    """Every talking point each rule should make for the customer, from the marts and the
    thresholds of dbt_project.yml, strongest first (the rules' documented orders)."""
    v = project_vars()
    level = v["account_sheet_item_level"]
    profile = con.execute("select * from marts.customer_spend_profile where customer_id = ? and item_level = ?",
                          [customer, level]).df()
    found: dict[str, list[dict[str, Any]]] = {}
    drop = profile[(profile.window_name == v["account_sheet_change_window"])
                   & (profile.spend_change_pct <= -v["account_sheet_drop_pct"])
                   & (profile.prior_total_spend >= v["account_sheet_drop_min_prior_spend"])]
    drop = drop.assign(strength=drop.prior_total_spend - drop.total_spend).sort_values(
        ["strength", "item_id"], ascending=[False, True])
    found["spend_drop"] = drop.to_dict("records")
    window = profile[profile.window_name == v["account_sheet_wallet_window"]]
    own = 100 * window.total_spend / window.total_spend.sum() if len(window) else window.total_spend
    wallet = window.assign(own_share=own)
    wallet = wallet[(wallet.total_spend > 0) & (wallet.share_of_wallet_pct <= v["account_sheet_wallet_low_pct"])
                    & (wallet.segment_share_pct >= v["account_sheet_wallet_min_segment_share_pct"])]
    wallet = wallet.assign(strength=wallet.segment_share_pct - wallet.own_share).sort_values(
        ["strength", "item_id"], ascending=[False, True])
    found["low_share_of_wallet"] = wallet.to_dict("records")
    margin = profile[(profile.window_name == v["account_sheet_margin_window"])
                     & (profile.margin_pct <= v["account_sheet_margin_max_pct"])
                     & (profile.total_spend >= v["account_sheet_margin_min_spend"])]
    margin = margin.assign(strength=-margin.margin_pct * margin.total_spend).sort_values(
        ["strength", "item_id"], ascending=[False, True])
    found["negative_margin"] = margin.to_dict("records")
    risk = one(con, "select * from marts.customer_classifications where customer_id = ? "
                    "and classification_type = 'risk_score'", [customer])
    found["overdue"] = [risk] if (risk["metric_value"] or 0) >= v["account_sheet_overdue_min_risk"] else []
    recs = con.execute("select * from marts.customer_product_recommendations where customer_id = ? "
                       "and reason = 'also_bought' and score >= ? order by score desc, product_id",
                       [customer, v["account_sheet_cross_sell_min_customers"]]).df()
    found["cross_sell"] = recs.to_dict("records")
    return found


@pytest.mark.parametrize("role", ["declining", "at_risk", "new"])
def test_talking_points_cite_the_numbers_of_the_marts(sheets, chosen, con, currency, role):
    customer = chosen[role]
    page = parse(sheets[role])
    v = project_vars()
    expected = expected_points(con, customer)
    shown = page.points
    assert len(shown) <= v["account_sheet_max_talking_points"]
    for rule, candidates in expected.items():
        made = [p for p in shown if p["rule"] == rule]
        assert len(made) <= v["account_sheet_max_points_per_rule"]
        if candidates:  # the best of every rule that fires is always shown (five rules, five points)
            assert made, f"{rule} should fire for {customer}"
    for point in shown:
        n, text = point["numbers"], point["text"]
        candidates = expected[point["rule"]]
        if point["rule"] == "overdue":
            risk = candidates[0]
            days = (day(risk["as_of_date"]) - day(risk["last_order_date"])).days
            assert n["risk_score"] == risk["metric_value"] and n["band_label"] == risk["band_label"]
            assert n["days_since_last_order"] == days
            assert n["usual_gap_days"] == pytest.approx(days / risk["metric_value"], rel=1e-12)
            assert text.startswith(f"No order for {risk['metric_value']:.1f}x their usual gap: "
                                   f"risk band '{risk['band_label']}'")
            assert f"({days:,} days since the last order on {day(risk['last_order_date']):%Y-%m-%d}" in text
            continue
        if point["rule"] == "cross_sell":
            match = [r for r in candidates if r["product_id"] == n["product_id"]]
            assert match, point
            assert n["score"] == match[0]["score"] and n["reason_basis"] == match[0]["reason_basis"]
            assert text.endswith(f": never bought ({match[0]['score']:,.0f} customers bought both)")
            assert match[0]["product_name"] in text
            continue
        match = [r for r in candidates if r["item_id"] == n["item_id"]]
        assert match, f"{point} is not a firing of its rule"
        row = match[0]
        if point["rule"] == "spend_drop":
            assert (n["spend_change_pct"], n["total_spend"], n["prior_total_spend"]) == (
                row["spend_change_pct"], row["total_spend"], row["prior_total_spend"])
            assert text.startswith(f"Spend on {row['item_id']} fell ")
            assert f"({cash(row['total_spend'], currency)} vs {row['prior_total_spend']:,.0f}" in text
        elif point["rule"] == "low_share_of_wallet":
            assert n["share_of_wallet_pct"] == row["share_of_wallet_pct"]
            assert n["segment_share_pct"] == row["segment_share_pct"]
            assert n["own_share_pct"] == pytest.approx(row["own_share"], rel=1e-9)
            assert text.startswith(f"Buys {row['item_id']} at ")
        elif point["rule"] == "negative_margin":
            assert (n["margin_pct"], n["total_spend"]) == (row["margin_pct"], row["total_spend"])
            assert f"({cash(row['total_spend'], currency)} of spend)" in text
    # each rule's shown points are its strongest
    for rule in ("spend_drop", "low_share_of_wallet", "negative_margin"):
        made = [p["numbers"]["item_id"] for p in shown if p["rule"] == rule]
        assert made == [r["item_id"] for r in expected[rule]][:len(made)]


def test_the_chosen_customers_get_the_points_of_their_situation(sheets, chosen, con):
    kinds = {role: {p["rule"] for p in parse(path).points} for role, path in sheets.items()}
    assert "spend_drop" in kinds["declining"]
    risk = one(con, "select risk_score from marts.customers_360 where customer_id = ?", [chosen["at_risk"]])
    if risk["risk_score"] >= project_vars()["account_sheet_overdue_min_risk"]:
        assert "overdue" in kinds["at_risk"]


def test_spend_over_time_bars_and_line_add_up_to_the_marts(sheets, chosen, con):
    customer = chosen["declining"]
    figure = parse(sheets["declining"]).figures["spend-over-time"]
    v = project_vars()
    window = one(con, "select window_start, window_end, prior_window_start, prior_window_end "
                      "from marts.customer_spend_profile where window_name = ? limit 1",
                 [v["account_sheet_change_window"]])
    # the bars are customer_monthly_spend, one per item and business month
    monthly_rows = con.execute(
        "select item_id, month_start, month_end, spend_amount from marts.customer_monthly_spend "
        "where customer_id = ? and item_level = ?", [customer, v["account_sheet_item_level"]]).df()
    bars = {t["name"]: t for t in figure["data"] if t["type"] == "bar"}
    assert set(bars) == set(monthly_rows["item_id"])
    for _, r in monthly_rows.iterrows():
        bar = bars[r["item_id"]]
        spans = [c.split(":")[0] for c in bar["customdata"]]
        i = spans.index(f"{day(r['month_start']):%Y-%m-%d} to {day(r['month_end']):%Y-%m-%d}")
        assert bar["y"][i] == pytest.approx(r["spend_amount"], abs=1e-9)
    # over the change window the bars add up to the spend profile's window totals (two marts)
    rows = con.execute("select item_id, total_spend, prior_total_spend from marts.customer_spend_profile "
                       "where customer_id = ? and item_level = ? and window_name = ?",
                       [customer, v["account_sheet_item_level"], v["account_sheet_change_window"]]).df()
    for _, r in rows.iterrows():
        for start, end, total in ((window["window_start"], window["window_end"], r["total_spend"]),
                                  (window["prior_window_start"], window["prior_window_end"],
                                   r["prior_total_spend"])):
            inside = monthly_rows[(monthly_rows["item_id"] == r["item_id"])
                                  & (monthly_rows["month_start"].map(day) >= day(start))
                                  & (monthly_rows["month_end"].map(day) <= day(end))]
            assert inside["spend_amount"].sum() == pytest.approx(total, abs=1e-6)
    # The line is the monthly total from customer_rfm_history; over the window it adds up to the
    # spend profile's window total (two marts, one number).
    history = all_rows(con, "select month_end_date, monetary from marts.customer_rfm_history "
                            "where customer_id = ? order by month_end_date", [customer])
    now = one(con, "select as_of_date as month_end_date, monetary from marts.customer_rfm where customer_id = ?",
              [customer])
    if day(now["month_end_date"]) > day(history[-1]["month_end_date"]):
        history.append(now)
    monthly = monthly_spend([{**h, "month_end_date": day(h["month_end_date"])} for h in history])
    in_window = sum(m["spend"] for m in monthly
                    if day(window["window_start"]) <= m["start"] and m["end"] <= day(window["window_end"]))
    all_items = one(con, "select sum(total_spend) as s from marts.customer_spend_profile where customer_id = ? "
                         "and item_level = 'category' and window_name = ?",
                    [customer, v["account_sheet_change_window"]])["s"] or 0.0
    assert in_window == pytest.approx(all_items, abs=1e-6)
    line = next(t for t in figure["data"] if t["type"] == "scatter")
    first = min(day(d) for d in monthly_rows["month_start"])
    assert sum(line["y"]) == pytest.approx(sum(m["spend"] for m in monthly if m["end"] >= first), abs=1e-6)


def test_monthly_spend_mart_equals_pandas_from_the_lines(con):
    """customer_monthly_spend recomputed from the usable order lines (not the daily aggregate);
    Superstore uses the standard calendar, so business months are calendar months."""
    lines = con.execute("select customer_id, category, ordered_date, spend_amount, cost_amount "
                        "from intermediate.int_order_lines_validated where dq_reason is null").df()
    lines["month_start"] = pd.to_datetime(lines["ordered_date"]).dt.to_period("M").dt.start_time
    lines["costed"] = np.where(lines["cost_amount"].notna(), lines["spend_amount"], 0.0)
    expected = lines.groupby(["customer_id", "category", "month_start"]).agg(
        spend=("spend_amount", "sum"), cost=("cost_amount", "sum"), costed=("costed", "sum")).reset_index()
    mart = con.execute("select customer_id, item_id as category, month_start, spend_amount, margin_amount "
                       "from marts.customer_monthly_spend where item_level = 'category'").df()
    mart["month_start"] = pd.to_datetime(mart["month_start"])
    joined = expected.merge(mart, on=["customer_id", "category", "month_start"], how="outer", indicator=True)
    assert (joined["_merge"] == "both").all()
    np.testing.assert_allclose(joined["spend_amount"], joined["spend"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(joined["margin_amount"], joined["costed"] - joined["cost"], rtol=1e-9, atol=1e-6)


def test_top_at_risk_follows_the_documented_ordering(superstore, con, tmp_path):
    share = project_vars()["account_sheet_top_at_risk_value_share"]
    expected = expected_top_at_risk(con, 10, share)
    paths = write_account_sheets(tmp_path / "top", top=10, db=superstore)
    assert [p.stem for p in paths] == expected
    assert parse(tmp_path / "top" / "index.html").links == [p.name for p in paths]


# -- browser ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        pytest.fail("Chromium is not installed: run scripts/install_chromium.sh (needs root and apt)")
    with Chromium(width=1280, height=900) as chromium:
        yield chromium


def test_sheet_and_index_open_in_chromium_without_errors(sheets, browser, tmp_path):
    for path in sheets.values():
        check = browser.open(path, CHARTS_RENDERED)
        assert check.problems == [], path.name
        drawn = browser.evaluate("""[...document.querySelectorAll('[data-chart]')].map(d =>
            [d.dataset.chart, d.querySelectorAll('.js-plotly-plot .main-svg').length])""")
        assert drawn and all(svgs > 0 for _, svgs in drawn), drawn
    shot = browser.screenshot(tmp_path / "sheet.png")
    assert shot.read_bytes()[:8] == PNG_SIGNATURE
    check = browser.open(next(iter(sheets.values())).parent / "index.html")
    assert check.problems == []
    assert browser.evaluate("document.querySelectorAll('tbody tr a').length") == len(sheets)


def test_a_sheet_without_plotly_beside_it_says_so(sheets, browser, tmp_path):
    alone = tmp_path / "alone.html"
    alone.write_text(sheets["declining"].read_text(encoding="utf-8"), encoding="utf-8")
    check = browser.open(alone)
    assert check.exceptions == []
    notes = browser.evaluate("[...document.querySelectorAll('[data-chart] .note')].map(n => n.textContent)")
    assert notes and all("plotly.min.js" in n for n in notes)


def _hostile_db(path: Path) -> Path:
    """A database with the marts of one customer whose every text is markup (no customer_value,
    no recommendations: those sections give notes)."""
    h = HOSTILE.replace("'", "''")
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"""create table marts.customers_360 as select 'no-orders' as customer_id,
            '{h}' as customer_name union all by name select '{h}/../x' as customer_id,
            '{h}' as customer_name, '{h}' as segment, '{h}' as account_manager, '{h}' as persona,
            '{h}' as rfm_segment, '{h}' as rfm_cell, '{h}' as predicted_spend_tier, 12.5 as predicted_clv,
            0.25 as churn_risk, 5.0 as risk_score, '{h}' as risk_score_band, 100.0 as net_spend_amount,
            3 as order_count, null::double as target_attainment_pct, null::double as target_amount_to_date,
            10.0 as total_clv""")
        con.execute(f"""create table marts.customer_spend_profile as
            select '{h}/../x' as customer_id, 'category' as item_level, '{h}' || i as item_id, w.name as window_name,
                w.s as window_start, w.e as window_end, w.ps as prior_window_start, w.pe as prior_window_end,
                100.0 + 10.0 * i as total_spend, 500.0 as prior_total_spend, -80.0 as spend_change_pct,
                -20.0 as margin_pct, 10.0 as share_of_wallet_pct, 40.0 as segment_share_pct, '{h}' as segment
            from range(3) as t(i), (values
                ('last_3_months', date '2024-04-01', date '2024-06-30', date '2024-01-01', date '2024-03-31'),
                ('last_12_months', date '2023-07-01', date '2024-06-30', date '2022-07-01', date '2023-06-30'))
                as w(name, s, e, ps, pe)""")
        con.execute(f"""create table marts.customer_classifications as select '{h}/../x' as customer_id,
            'risk_score' as classification_type, 5.0 as metric_value, '{h}' as band_label,
            'red"><script>window.__pwned=3</script>' as band_color, date '2024-01-01' as last_order_date,
            date '2024-06-30' as as_of_date""")
        con.execute(f"""create table marts.customer_classification_history as select '{h}/../x' as customer_id,
            'risk_score' as classification_type, date '2024-05-31' as month_end_date, 4.0 as metric_value,
            '{h}' as band_label, '{h}' as band_color""")
        con.execute(f"""create table marts.customer_rfm_history as select '{h}/../x' as customer_id,
            d as month_end_date, 50.0 as monetary, 2 as frequency, '{h}' || (d > date '2024-04-30') as persona,
            '{h}' as rfm_segment, '{h}' as rfm_cell
            from (values (date '2024-03-31'), (date '2024-04-30'), (date '2024-05-31')) as t(d)""")
    return path


def test_hostile_names_stay_text_and_missing_marts_give_notes(tmp_path, browser):
    db = _hostile_db(tmp_path / "hostile.duckdb")
    customer = f"{HOSTILE}/../x"
    paths = write_account_sheets(tmp_path / "out", customers=[customer], db=db)
    assert len(paths) == 1 and paths[0].parent == tmp_path / "out"
    assert re.fullmatch(r"[A-Za-z0-9_-]+-[0-9a-f]{10}\.html", paths[0].name)
    text = paths[0].read_text(encoding="utf-8")
    assert "window.__pwned=1</script>" not in text and "<img src=x" not in text
    check = browser.open(paths[0], CHARTS_RENDERED)
    assert check.problems == []
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate("document.querySelectorAll('script').length") == 2 + text.count('data-chart="')
    assert HOSTILE in browser.evaluate("document.querySelector('header h1').textContent")
    assert HOSTILE in browser.evaluate("document.querySelector('.points').textContent")
    assert HOSTILE in browser.evaluate("document.getElementById('chart-spend-over-time').textContent")
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert "recommendations" in notes
    assert "interval: not in this build" in text or "n/a" in text
    page = parse(paths[0])
    assert {p["rule"] for p in page.points} == {"overdue", "spend_drop", "negative_margin", "low_share_of_wallet"}
    check = browser.open(tmp_path / "out" / "index.html")
    assert check.problems == [] and browser.evaluate("typeof window.__pwned") == "undefined"
    assert HOSTILE in browser.evaluate("document.querySelector('tbody').textContent")
    # A customer with no order at all: every section is a note or says so, nothing fails.
    empty = write_account_sheets(tmp_path / "out", customers=["no-orders"], db=db)[0]
    assert browser.open(empty).problems == []
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert {"talking-points", "spend-over-time", "risk-over-time", "persona-over-time", "recommendations"} <= set(notes)


# -- command line ------------------------------------------------------------------------------------

def test_unknown_customer_id_exits_non_zero_with_a_clear_message(superstore, con, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPENDLENS_DB", str(superstore))
    known = one(con, "select min(customer_id) as c from marts.customers_360")["c"]
    out = tmp_path / "out"
    assert cli.main(["report", "--customer", known, "--customer", known + "x", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"unknown customer id {known + 'x'!r}" in err and f"did you mean {known!r}" in err
    assert "Nothing was written" in err and not out.exists()
    assert cli.main(["report", "--customer", known, "--out", str(tmp_path / "sheet.html")]) == 1
    assert "must be a folder" in capsys.readouterr().err
    assert cli.main(["report", "--top-at-risk", "0", "--out", str(out)]) == 1
    assert "positive number" in capsys.readouterr().err
    empty = tmp_path / "ids.txt"
    empty.write_text("# nobody\n\n", encoding="utf-8")
    assert cli.main(["report", "--customers-from", str(empty), "--out", str(out)]) == 1
    assert "lists no customer id" in capsys.readouterr().err
    assert cli.main(["report", "--customer", known, "--vars", "{account_sheet_drop_pct: many}",
                     "--out", str(out)]) == 1
    assert "account_sheet_drop_pct must be a number" in capsys.readouterr().err
    assert cli.main(["report", "--customer", known, "--vars", "{account_sheet_change_window: last_3_month}",
                     "--out", str(out)]) == 1
    assert "not a spend window of this build (last_3_months" in capsys.readouterr().err
    assert not out.exists()


def test_customers_from_a_csv_file_writes_sheets_in_file_order(superstore, con, tmp_path, monkeypatch):
    monkeypatch.setenv("SPENDLENS_DB", str(superstore))
    ids = [r[0] for r in con.execute("select customer_id from marts.customers_360 order by customer_id desc "
                                     "limit 2").fetchall()]
    listing = tmp_path / "ids.csv"
    listing.write_text("name,customer_id\nb," + ids[0] + "\na," + ids[1] + "\n", encoding="utf-8")
    assert cli.main(["report", "--customers-from", str(listing), "--out", str(tmp_path / "out")]) == 0
    assert parse(tmp_path / "out" / "index.html").links == [f"{i}.html" for i in ids]


def test_plain_report_rejects_sheet_vars(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SPENDLENS_DB", str(tmp_path / "none.duckdb"))
    assert cli.main(["report", "--vars", "{account_sheet_drop_pct: 20}"]) == 1
    assert "--vars sets account-sheet options" in capsys.readouterr().err


# -- hand-made inputs: the rules -----------------------------------------------------------------------

W3 = ("last_3_months", date(2024, 4, 1), date(2024, 6, 30))
W12 = ("last_12_months", date(2023, 7, 1), date(2024, 6, 30))


def row(item: str = "Fasteners", window: tuple = W3, total: float = 1240.0, prior: float = 2150.0,
        change: float | None = -42.3, margin: float | None = 20.0, wallet: float | None = 100.0,
        segment_share: float | None = 20.0, level: str = "category") -> SpendRow:
    return SpendRow(level, item, window[0], window[1], window[2], total, prior, change, margin, wallet,
                    segment_share, "Retail")


DEFAULTS = Settings()


def test_spend_drop_fires_at_its_threshold_and_stays_quiet_otherwise():
    points = spend_drops([row()], DEFAULTS, "USD")
    assert [p.text for p in points] == [
        "Spend on Fasteners fell 42% in the last 3 months (USD 1,240 vs 2,150 the span before)"]
    assert points[0].numbers == {"item_id": "Fasteners", "window_name": "last_3_months", "spend_change_pct": -42.3,
                                 "total_spend": 1240.0, "prior_total_spend": 2150.0}
    assert spend_drops([row(change=-30.0)], DEFAULTS)  # at the threshold
    assert spend_drops([row(prior=100.0, total=10.0, change=-90.0)], DEFAULTS)
    for quiet in (row(change=-29.9), row(change=None), row(change=15.0), row(prior=99.99, total=0.0, change=-100.0),
                  row(window=W12), row(level="product")):
        assert spend_drops([quiet], DEFAULTS) == [], quiet
    # strongest = most spend lost
    two = spend_drops([row("A", total=100, prior=300, change=-66.7), row("B", total=0, prior=500, change=-100)],
                      DEFAULTS)
    assert [p.numbers["item_id"] for p in two] == ["B", "A"]
    assert spend_drops([row(change=-20.0)], Settings(drop_pct=20)) != []


def test_low_share_of_wallet_fires_for_bought_items_the_segment_cares_about():
    low = row("Office Supplies", window=W12, total=500, wallet=31.0, segment_share=40.0)
    points = low_share_of_wallet([low], DEFAULTS, "USD")
    assert [p.text for p in points] == [
        "Buys Office Supplies at 31% of the segment's typical share of wallet "
        "(12% of their spend vs 40% across Retail, last 12 months)"]
    assert points[0].numbers["own_share_pct"] == pytest.approx(12.4)
    assert low_share_of_wallet([row(window=W12, wallet=50.0, segment_share=10.0)], DEFAULTS)  # both edges
    for quiet in (row(window=W12, wallet=50.1), row(window=W12, wallet=None), row(window=W12, segment_share=9.9,
                  wallet=10), row(window=W12, total=0.0, wallet=0.0), row(window=W3, wallet=10.0),
                  row(window=W12, wallet=10.0, level="bundle")):
        assert low_share_of_wallet([quiet], DEFAULTS) == [], quiet


def test_negative_margin_fires_on_losses_with_enough_spend():
    points = negative_margins([row("Tables", window=W12, total=1500.0, margin=-8.0)], DEFAULTS, "USD")
    assert [p.text for p in points] == ["Margin on Tables is -8.0% over the last 12 months (USD 1,500 of spend)"]
    assert negative_margins([row(window=W12, margin=0.0, total=100.0)], DEFAULTS)  # both edges
    assert negative_margins([row(window=W12, margin=-42.0)], DEFAULTS)[0].text.startswith("Margin on Fasteners is -42%")
    for quiet in (row(window=W12, margin=0.5), row(window=W12, margin=None), row(window=W12, margin=-10, total=99.0),
                  row(window=W3, margin=-10.0)):
        assert negative_margins([quiet], DEFAULTS) == [], quiet
    assert negative_margins([row(window=W12, margin=5.0)], Settings(margin_max_pct=10)) != []


def test_overdue_fires_from_the_risk_score():
    risk = RiskFacts(2.4, "requires review", date(2024, 1, 1), date(2024, 6, 30))
    points = overdue(risk, DEFAULTS)
    assert [p.text for p in points] == [
        "No order for 2.4x their usual gap: risk band 'requires review' (181 days since the last order on "
        "2024-01-01, usual gap 75 days)"]
    assert points[0].numbers["days_since_last_order"] == 181
    bare = overdue(RiskFacts(2.0, "x", None, None), DEFAULTS)
    assert [p.text for p in bare] == ["No order for 2.0x their usual gap: risk band 'x'"]
    for quiet in (RiskFacts(1.99, "on track", date(2024, 1, 1), date(2024, 6, 30)), RiskFacts(None, None, None, None),
                  None):
        assert overdue(quiet, DEFAULTS) == []


def test_cross_sell_fires_for_also_bought_products_enough_customers_bought_together():
    rec = Recommendation("also_bought", 1, "P-PAPER", "Paper", "Office Supplies", 3.0, "P-BINDERS", "Binders")
    points = cross_sell([rec], DEFAULTS)
    assert [p.text for p in points] == [
        "Customers who buy Binders also buy Paper: never bought (3 customers bought both)"]
    assert cross_sell([Recommendation("also_bought", 1, "P", None, None, 2.0, "A")], DEFAULTS)[0].text.startswith(
        "Customers who buy A also buy P:")
    for quiet in (Recommendation("also_bought", 1, "P", "Paper", None, 1.0, "A"),
                  Recommendation("popular_in_segment", 1, "P", "Paper", None, 9999.0, "Retail")):
        assert cross_sell([quiet], DEFAULTS) == []


def test_pick_takes_the_best_of_each_rule_first_and_caps_the_points():
    def points(rule: str, n: int) -> list[TalkingPoint]:
        return [TalkingPoint(rule, f"{rule} {i}", strength=n - i) for i in range(n)]

    candidates = {"cross_sell": points("cross_sell", 4), "overdue": points("overdue", 1),
                  "spend_drop": points("spend_drop", 3)}
    assert [p.text for p in pick(candidates, 5)] == ["overdue 0", "spend_drop 0", "cross_sell 0", "spend_drop 1",
                                                     "cross_sell 1"]
    assert [p.text for p in pick(candidates, 10, per_rule=2)] == [
        "overdue 0", "spend_drop 0", "cross_sell 0", "spend_drop 1", "cross_sell 1"]
    assert pick({}, 5) == [] and pick(candidates, 0) == []
    quiet = talking_points([row(change=5.0)], RiskFacts(0.5, "on track", None, None), [], DEFAULTS)
    assert quiet == []


def test_settings_come_from_vars_and_bad_values_name_the_var():
    assert Settings.from_vars({}) == Settings()
    assert Settings.from_vars({k: val for k, val in project_vars().items() if k.startswith("account_sheet_")}) == \
        Settings(), "the defaults in code and in dbt_project.yml agree"
    assert Settings.from_vars({"account_sheet_drop_pct": 20, "account_sheet_change_window": "fiscal_ytd",
                               "other": 1}).drop_pct == 20.0
    for bad in ({"account_sheet_drop_pct": "many"}, {"account_sheet_max_talking_points": 2.5},
                {"account_sheet_change_window": ""}, {"account_sheet_top_at_risk_value_share": 0},
                {"account_sheet_overdue_min_risk": True}, {"account_sheet_item_level": "sku"}):
        with pytest.raises(SpendlensError, match="account_sheet_"):
            Settings.from_vars(bad)


# -- hand-made inputs: spans, file names, id files ------------------------------------------------------

def test_spend_spans_split_the_default_windows_into_disjoint_pieces():
    spans = [Span(("l12", "window"), date(2016, 12, 1), date(2017, 11, 30)),
             Span(("l12", "prior"), date(2015, 12, 1), date(2016, 11, 30)),
             Span(("ytd", "window"), date(2017, 1, 1), date(2017, 12, 30)),
             Span(("ytd", "prior"), date(2016, 1, 1), date(2016, 12, 30)),
             Span(("l3", "window"), date(2017, 9, 1), date(2017, 11, 30)),
             Span(("l3", "prior"), date(2017, 6, 1), date(2017, 8, 31))]
    found = pieces(spans)
    assert [(p.start, p.end, p.months) for p in found] == [
        (date(2015, 12, 1), date(2016, 11, 30), 12), (date(2016, 12, 1), date(2017, 5, 31), 6),
        (date(2017, 6, 1), date(2017, 8, 31), 3), (date(2017, 9, 1), date(2017, 11, 30), 3)]
    totals = {("l12", "window"): 1200.0, ("l12", "prior"): 600.0, ("l3", "window"): 300.0, ("l3", "prior"): 100.0}
    assert [p.spend(totals) for p in found] == pytest.approx([600.0, 800.0, 100.0, 300.0])
    # two windows that do not touch leave the gap out; one window alone is one piece each
    apart = pieces([Span(("a", "window"), date(2024, 1, 1), date(2024, 1, 31)),
                    Span(("a", "prior"), date(2023, 11, 1), date(2023, 11, 30))])
    assert [(p.start, p.end) for p in apart] == [(date(2023, 11, 1), date(2023, 11, 30)),
                                                 (date(2024, 1, 1), date(2024, 1, 31))]
    assert pieces([]) == []


def test_monthly_spend_differences_the_running_net_spend():
    history = [{"month_end_date": date(2024, 1, 31), "monetary": 100.0},
               {"month_end_date": date(2024, 2, 29), "monetary": 100.0},
               {"month_end_date": date(2024, 3, 31), "monetary": 80.0},
               {"month_end_date": date(2024, 4, 15), "monetary": 130.0, "is_as_of": True}]
    assert [(m["start"], m["end"], m["spend"]) for m in monthly_spend(history)] == [
        (date(2024, 1, 1), date(2024, 1, 31), 100.0), (date(2024, 2, 1), date(2024, 2, 29), 0.0),
        (date(2024, 3, 1), date(2024, 3, 31), -20.0), (date(2024, 4, 1), date(2024, 4, 15), 50.0)]


def test_file_names_are_safe_and_distinct_for_any_id():
    ids = ["AG-10525", "../../etc/passwd", "a/b", "a_b", "index", "CON", "con.txt", "plotly", "Zoë", "", " ",
           "x" * 300, "AB-1", "ab-1", "a.b", ".hidden", "-dash", "a\x00b", "\ud800"]
    names = file_names(ids)
    assert names["AG-10525"] == "AG-10525.html" and names["a_b"] == "a_b.html" and names["a.b"] == "a.b.html"
    assert names["AB-1"] == "AB-1.html" and names["ab-1"] != "ab-1.html"
    lowered = [n.lower() for n in names.values()]
    assert len(set(lowered)) == len(ids), "distinct even on a case-insensitive file system"
    for customer_id, name in names.items():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.html", name), (customer_id, name)
        assert ".." not in name and "/" not in name
        assert name.split(".")[0].lower() not in {"index", "plotly", "con"}


def test_ids_file_reads_lines_or_a_customer_id_column(tmp_path):
    plain = tmp_path / "ids.txt"
    plain.write_text("# for Monday\nA-1\n\n  B 2  \nA-1\n", encoding="utf-8")
    assert read_ids(plain) == ["A-1", "B 2", "A-1"]
    table = tmp_path / "ids.csv"
    table.write_text('\ufeffName,Customer_ID\n"Smith, J",C-3\nDoe,\n', encoding="utf-8")
    assert read_ids(table) == ["C-3"]
    with pytest.raises(SpendlensError, match="cannot read --customers-from"):
        read_ids(tmp_path / "missing.txt")

