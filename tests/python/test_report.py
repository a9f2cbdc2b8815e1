"""`spendlens report`: the HTML file opened in headless Chromium (scripts/install_chromium.sh).

The report of the generated data set (shared session build) must render every chart with no
console error and no request leaving the file; its figures must hold the numbers of the marts
(recomputed here with pandas from the mart rows); hostile names from data must show as text and
never become markup; missing or empty marts give notes, and a missing build one clear error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from spendlens.errors import SpendlensError
from spendlens.report import write_report
from spendlens.report_browser import CHARTS_RENDERED, Chromium, find_chromium

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The chart containers each mart feeds (classification and recommendation charts have one
# container per type or reason, matched by prefix).
CHARTS_BY_MART = {
    "kpi_persona_tiles": ["persona-shares"],
    "customer_rfm": ["rfm-grid"],
    "rfm_persona_movements": ["persona-movements"],
    "customer_spend_profile": ["spend-distributions"],
    "customer_classifications": ["classification-"],
    "customer_classification_history": ["risk-over-time"],
    "customer_value": ["clv-distribution", "clv-p-alive"],
    "segment_summary": ["clv-revenue-interval"],
    "clv_backtest": ["clv-backtest"],
    "customer_product_recommendations": ["recommendations-"],
    "customer_cohorts": ["cohort-retention", "cohort-revenue"],
    "data_quality_issues": ["data-quality"],
}
HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"><b>&amp;'


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        pytest.fail("Chromium is not installed: run scripts/install_chromium.sh (needs root and apt)")
    with Chromium(width=1280, height=900) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def generated(projects, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(report, database) of the generated data set."""
    db = projects.db("generated")
    out = tmp_path_factory.mktemp("report") / "spendlens_report.html"
    write_report(out, db=db)
    return out, db


@pytest.fixture(scope="module")
def rendered(generated: tuple[Path, Path], browser: Chromium):
    """The generated report opened in Chromium: the load check, screenshot written."""
    report, _ = generated
    check = browser.open(report, CHARTS_RENDERED)
    shot = browser.screenshot(report.with_suffix(".png"))
    return check, shot


def _marts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
        return {n: con.execute(f"select count(*) from marts.{n}").fetchone()[0] for n in names}


def test_report_renders_every_chart_without_console_errors_or_network(generated, rendered, browser):
    check, _ = rendered
    assert check.console_errors == []
    assert check.exceptions == []
    assert check.failed_requests == []
    assert check.external_requests == [], "the report must not load anything from the network"
    charts = browser.evaluate("""[...document.querySelectorAll('[data-chart]')].map(d => [
        d.dataset.chart, d.querySelectorAll('.js-plotly-plot .main-svg').length])""")
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert charts, "no chart at all"
    assert "could not be drawn" not in generated[0].read_text(encoding="utf-8")
    assert [key for key, svgs in charts if svgs == 0] == [], "chart containers plotly did not draw"
    drawn = [key for key, _ in charts]
    # Every mart with rows in the build has its charts drawn (not a note).
    marts = _marts(generated[1])
    for mart, prefixes in CHARTS_BY_MART.items():
        if mart in {"customer_value", "segment_summary", "clv_backtest"}:
            continue  # the generated set is small: the CLV model may be ineligible (a note then)
        if marts.get(mart):
            for prefix in prefixes:
                assert any(key.startswith(prefix) for key in drawn), f"{prefix} missing although {mart} has rows"
        else:
            for prefix in prefixes:
                assert not any(key.startswith(prefix) for key in drawn)
                assert any(key.startswith(prefix.rstrip("-")) for key in notes), f"no note for missing {mart}"
    assert len([k for k in drawn if k.startswith("classification-")]) == 6


def test_report_screenshot_is_a_full_page_png(rendered):
    _, shot = rendered
    data = shot.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1280
    assert height > 2500, "the screenshot should hold the whole report"


def test_report_is_one_self_contained_file_with_plotly_inlined_once(generated):
    text = generated[0].read_text(encoding="utf-8")
    assert text.count("* plotly.js v") == 1, "plotly.js must be inlined exactly once"
    # Outside plotly.js itself (whose code mentions URLs), nothing may point outside the file.
    start = text.index('<script type="text/javascript">/**')
    own = text[:start] + text[text.index("</script>", start):]
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", own), "external resource"
    assert "<link" not in own and "@import" not in own
    assert text.count("Plotly.newPlot(") == text.count('data-chart="')
    assert len(text.encode()) < 8_000_000


def test_rfm_grid_cells_count_the_customers_of_each_score_pair(generated, rendered, browser):
    marts = _marts(generated[1])
    if not marts.get("customer_rfm"):
        pytest.skip("customer_rfm is not in this build yet")
    with duckdb.connect(str(generated[1]), read_only=True) as con:
        frame = con.execute("select r_score, fm_score, monetary from marts.customer_rfm").df()
    expected = frame.groupby(["r_score", "fm_score"]).size()
    data = browser.evaluate("""(() => { const t = document.getElementById('chart-rfm-grid').data;
        return {x: t[0].x, y: t[0].y, customers: t[0].z, revenue: t[1].z}; })()""")
    for i, r in enumerate(data["y"]):
        for j, fm in enumerate(data["x"]):
            assert (data["customers"][i][j] or 0) == expected.get((r, fm), 0), (r, fm)
    revenue = frame.groupby(["r_score", "fm_score"])["monetary"].sum()
    for (r, fm), value in revenue.items():
        shown = data["revenue"][data["y"].index(r)][data["x"].index(fm)]
        assert shown == pytest.approx(value, rel=1e-9)


def test_classification_bars_add_up_to_the_customers_of_each_segment(generated, rendered, browser):
    with duckdb.connect(str(generated[1]), read_only=True) as con:
        frame = con.execute("select classification_type, segment, is_eligible, band_label "
                            "from marts.customer_classifications").df()
    for kind, group in frame.groupby("classification_type"):
        traces = browser.evaluate(f"""document.getElementById('chart-classification-{kind.replace("_", "-")}')
            .data.map(t => [t.name, t.x, t.y])""")
        shown: dict[tuple[str, str], int] = {}
        for name, xs, ys in traces:
            for x, y in zip(xs, ys, strict=True):
                shown[(name, x)] = shown.get((name, x), 0) + y
        group = group.assign(band=group["band_label"].where(group["is_eligible"], "not banded"))
        expected = group.groupby(["band", "segment"]).size()
        assert {k: v for k, v in shown.items() if v} == dict(expected.items()), kind


def test_data_quality_bars_count_the_rows_set_aside_by_reason(generated, rendered, browser):
    with duckdb.connect(str(generated[1]), read_only=True) as con:
        frame = con.execute("select reason, is_row_kept from marts.data_quality_issues").df()
    assert len(frame) > 0, "the generated data set has bad rows"
    traces = browser.evaluate("""document.getElementById('chart-data-quality').data
        .filter(t => t.type === 'bar').map(t => [t.y, t.x])""")
    shown: dict[str, int] = {}
    for ys, xs in traces:
        for y, x in zip(ys, xs, strict=True):
            shown[y] = shown.get(y, 0) + x
    shown_as = frame["reason"].where(~frame["is_row_kept"], frame["reason"] + " (row kept)")
    assert {k: v for k, v in shown.items() if v} == shown_as.value_counts().to_dict()
    assert frame["is_row_kept"].any(), "the generated data set has rows kept with a bad optional field"
    title = browser.evaluate("document.querySelector('#data-quality h2').textContent")
    assert f"{int((~frame['is_row_kept']).sum()):,} input rows set aside" in title
    assert f"{int(frame['is_row_kept'].sum()):,} kept with a field nulled" in title


def test_kpi_tiles_show_the_mart_values(generated, rendered, browser):
    marts = _marts(generated[1])
    if not marts.get("kpi_tiles"):
        pytest.skip("kpi_tiles is not in this build yet")
    with duckdb.connect(str(generated[1]), read_only=True) as con:
        tiles = con.execute("select period_days, tile, value, pct_change from marts.kpi_tiles").fetchall()
    shown = browser.evaluate("""[...document.querySelectorAll('.tiles')].flatMap(g =>
        [...g.querySelectorAll('.tile')].map(t => [Number(g.dataset.periodDays), t.dataset.tile,
            t.querySelector('.value').textContent, t.querySelector('.change').textContent]))""")
    assert len(shown) == len(tiles)
    by_key = {(p, t): (v, c) for p, t, v, c in shown}
    for period, tile, value, change in tiles:
        text, change_text = by_key[(period, tile)]
        if tile in {"total_orders", "customers", "one_time_buyers", "repeat_customers"}:
            assert text == f"{value:,.0f}"
        if change is None:
            assert change_text == "n/a"
        else:
            assert f"{change:+.1f}%" in change_text


def test_cohort_charts_show_the_retention_and_revenue_of_the_mart(generated, rendered, browser):
    with duckdb.connect(str(generated[1]), read_only=True) as con:
        frame = con.execute("""select cohort_month, months_since_first_order, cohort_size, retention_pct,
            cumulative_revenue_per_customer from marts.customer_cohorts""").df()
    assert len(frame) > 0
    latest = sorted(frame["cohort_month"].unique())[-36:]
    frame = frame[frame["cohort_month"].isin(latest)]
    heat = browser.evaluate("""(() => { const t = document.getElementById('chart-cohort-retention').data[0];
        return {x: t.x, y: t.y, z: t.z}; })()""")
    assert len(heat["y"]) == len(latest)
    shown = {(y, x): v for y, row in zip(heat["y"], heat["z"], strict=True)
             for x, v in zip(heat["x"], row, strict=True) if v is not None}
    expected = {(f"{m:%Y-%m-%d} ({n:,})", k): v for m, k, n, v in frame[
        ["cohort_month", "months_since_first_order", "cohort_size", "retention_pct"]].itertuples(index=False)}
    assert shown.keys() == expected.keys()
    for key, value in expected.items():
        assert shown[key] == pytest.approx(value, rel=1e-9), key
    lines = browser.evaluate("document.getElementById('chart-cohort-revenue').data.map(t => [t.name, t.y])")
    assert len(lines) == len(latest)
    by_name = dict((name, ys) for name, ys in lines)
    for (month, size), group in frame.groupby(["cohort_month", "cohort_size"]):
        ys = by_name[f"{month:%Y-%m-%d} ({size:,})"]
        assert ys == pytest.approx(list(group.sort_values("months_since_first_order")[
            "cumulative_revenue_per_customer"]), rel=1e-9)


# -- CLV: models against the baselines, calibration, intervals, P(alive) ---------------------------

# CDNOW: the three purchase models all fitted; Superstore: every model at its no-dropout limit.
CLV_SETS = ["cdnow", "superstore"]
CLV_BUCKETS = ["0", "1", "2", "3", "4", "5", "6", "7+"]
# How the comparison table shows each metric, and which value of a column is best.
TABLE_TEXT = {
    "holdout_predicted_orders": lambda v: f"{v:,.0f}",
    "holdout_orders_error_pct": lambda v: f"{v:+.1f}%",
    "holdout_spend_error_pct": lambda v: f"{v:+.1f}%",
    "mae_orders": lambda v: f"{v:.3f}",
    "rmse_orders": lambda v: f"{v:.3f}",
    "spearman_orders": lambda v: f"{v:.3f}",
    "top_decile_capture": lambda v: f"{100 * v:.1f}%",
    "normalized_gini": lambda v: f"{v:.3f}",
    "bic": lambda v: f"{v:,.1f}",
}
BEST = {"holdout_orders_error_pct": lambda v: abs(v), "holdout_spend_error_pct": lambda v: abs(v),
        "mae_orders": lambda v: v, "rmse_orders": lambda v: v, "bic": lambda v: v,
        "spearman_orders": lambda v: -v, "top_decile_capture": lambda v: -v, "normalized_gini": lambda v: -v}
RECENCY_STEPS = (30, 60, 90, 180, 365, 730)


@pytest.fixture(scope="module")
def clv_report(projects, tmp_path_factory):
    """clv_report(name) -> (report, database) of a data set whose CLV models are fitted."""
    made: dict[str, tuple[Path, Path]] = {}

    def _make(name: str) -> tuple[Path, Path]:
        if name not in made:
            db = projects.db(name)
            out = tmp_path_factory.mktemp(f"report_{name}") / "spendlens_report.html"
            write_report(out, db=db)
            made[name] = (out, db)
        return made[name]

    return _make


def _open_clv(clv_report, browser: Chromium, name: str) -> tuple[Path, Path]:
    report, db = clv_report(name)
    check = browser.open(report, CHARTS_RENDERED)
    assert check.problems == []
    return report, db


def _query(db: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).df()


def _trace_data(browser: Chromium, key: str) -> list[dict[str, Any]]:
    return browser.evaluate(f"""document.getElementById('chart-{key}').data.map(t => ({{meta: t.meta,
        type: t.type, name: t.name, x: t.x, y: t.y, z: t.z, customdata: t.customdata,
        visible: t.visible === undefined ? true : t.visible}}))""")


@pytest.mark.parametrize("name", CLV_SETS)
def test_clv_model_comparison_table_shows_every_model_and_baseline_of_the_mart(name, clv_report, browser):
    report, db = _open_clv(clv_report, browser, name)
    drawn = browser.evaluate("[...document.querySelectorAll('#clv [data-chart]')].map(d => d.dataset.chart)")
    assert drawn == ["clv-distribution", "clv-revenue-interval", "clv-backtest", "clv-p-alive"]
    assert "could not be drawn" not in report.read_text(encoding="utf-8")
    mart = _query(db, "select model, metric, value, is_chosen, model_status from marts.clv_model_comparison")
    shown = browser.evaluate("""[...document.querySelectorAll(
        '[data-table="clv-model-comparison"] tbody tr')].map(tr => ({model: tr.dataset.model,
        chosen: tr.classList.contains('chosen'), status: tr.querySelector('td.status').textContent,
        cells: [...tr.querySelectorAll('td[data-metric]')].map(td => [td.dataset.metric,
            td.dataset.value === undefined ? null : td.dataset.value, td.textContent,
            td.classList.contains('best')])}))""")
    assert [r["model"] for r in shown] == ["bgnbd", "mbgnbd", "pareto_nbd", "baseline_calibration_rate",
                                           "baseline_last_period"]
    assert set(mart["model"]) == {r["model"] for r in shown}
    assert sum(r["chosen"] for r in shown) == 1
    values = mart.set_index(["model", "metric"])["value"]
    for row in shown:
        own = mart[mart["model"] == row["model"]]
        assert row["chosen"] == bool(own["is_chosen"].iloc[0])
        status = own["model_status"].iloc[0]
        assert row["status"] == ("naive baseline" if status == "baseline" else status)
        assert [c[0] for c in row["cells"]] == list(TABLE_TEXT)
        for metric, value, text, _ in row["cells"]:
            expected = values[(row["model"], metric)]
            if pd.isna(expected):
                assert value is None and text in {"n/a", "—"}, (row["model"], metric)
            else:
                assert float(value) == expected, (row["model"], metric)  # repr: exact
                assert text == TABLE_TEXT[metric](expected)
    for metric, key in BEST.items():
        scored = {m: values[(m, metric)] for m in mart["model"].unique() if not pd.isna(values[(m, metric)])}
        top = min(key(v) for v in scored.values())
        best = {m for m, v in scored.items() if math.isclose(key(v), top, rel_tol=1e-12)}
        marked = {r["model"] for r in shown for c in r["cells"] if c[0] == metric and c[3]}
        assert marked == (best if len(scored) > 1 else set()), metric


@pytest.mark.parametrize("name", CLV_SETS)
def test_clv_calibration_chart_draws_each_model_from_its_own_backtest_rows(name, clv_report, browser):
    _, db = _open_clv(clv_report, browser, name)
    backtest = _query(db, "select * from marts.clv_backtest where bucket <> 'total'")
    traces = {t["meta"]: t for t in _trace_data(browser, "clv-backtest")}
    with_predictions = {m for m, rows in backtest.groupby("model")
                        if rows["predicted_orders_per_customer"].notna().all()}
    assert set(traces) == {"actual", *with_predictions}
    if name == "cdnow":
        assert len(with_predictions) == 5, "three purchase models and two baselines"
    else:
        assert with_predictions == {"bgnbd", "baseline_calibration_rate", "baseline_last_period"}
    for model, rows in backtest.groupby("model"):
        rows = rows.set_index("bucket").loc[CLV_BUCKETS]
        # every model is backtested on the same customers: one actual series
        assert traces["actual"]["x"] == CLV_BUCKETS
        assert traces["actual"]["y"] == pytest.approx(list(rows["actual_orders_per_customer"]), rel=1e-12)
        if model in with_predictions:
            trace = traces[model]
            assert trace["x"] == CLV_BUCKETS
            assert trace["y"] == pytest.approx(list(rows["predicted_orders_per_customer"]), rel=1e-12), model
            assert trace["name"].endswith("(chosen)") == bool(rows["is_chosen"].iloc[0])
            if rows["model_kind"].iloc[0] == "purchase model":
                assert trace["visible"] is True


@pytest.mark.parametrize("name", CLV_SETS)
def test_clv_revenue_interval_shows_the_segment_summary_estimates_and_endpoints(name, clv_report, browser):
    _, db = _open_clv(clv_report, browser, name)
    summary = _query(db, """select dimension, predicted_revenue_next_horizon as predicted,
        predicted_revenue_low as low, predicted_revenue_high as high
        from marts.segment_summary where predicted_revenue_next_horizon is not null""")
    traces = _trace_data(browser, "clv-revenue-interval")
    bars = [t for t in traces if t["type"] == "bar"]
    interval = next(t for t in traces if t["meta"] == "interval")
    shown: dict[str, list[tuple[float, float, float]]] = {}
    ends = {}
    for bar in bars:
        for x, y, custom in zip(bar["x"], bar["y"], bar["customdata"], strict=True):
            shown.setdefault(bar["meta"], []).append((x, custom[0], custom[1]))
            ends[y] = (custom[0], custom[1])
    # the whiskers run from low to high of the same row
    for i in range(0, len(interval["x"]), 3):
        assert interval["y"][i] == interval["y"][i + 1] and interval["x"][i + 2] is None
        assert (interval["x"][i], interval["x"][i + 1]) == ends[interval["y"][i]]
    assert len(interval["x"]) == 3 * len(ends)
    for dimension, rows in summary.groupby("dimension"):
        if dimension != "all" and len(rows) == 1:
            assert dimension not in shown  # one value repeats the 'all' row
            continue
        expected = sorted(rows[["predicted", "low", "high"]].itertuples(index=False, name=None))
        flat = [v for row in sorted(shown[dimension]) for v in row]
        assert flat == pytest.approx([v for row in expected for v in row], rel=1e-12), dimension
    everyone = summary[summary["dimension"] == "all"].iloc[0]
    assert everyone["low"] <= everyone["predicted"] <= everyone["high"]
    if name == "cdnow":
        assert "segment" not in shown  # CDNOW customers have no segment


@pytest.mark.parametrize("name", CLV_SETS)
def test_clv_p_alive_map_is_the_mean_p_alive_by_frequency_and_recency(name, clv_report, browser):
    _, db = _open_clv(clv_report, browser, name)
    customers = _query(db, """select frequency, t_days - recency_days as days, p_alive
        from marts.customer_value where p_alive is not null""")
    top = int(customers["days"].max())
    step = next(s for s in RECENCY_STEPS if top // s + 1 <= 8)
    customers["f"] = customers["frequency"].clip(upper=7)
    customers["r"] = customers["days"] // step
    expected = customers.groupby(["r", "f"])["p_alive"].agg(["mean", "size"])
    heat = _trace_data(browser, "clv-p-alive")[0]
    assert heat["x"] == CLV_BUCKETS
    assert heat["y"] == [f"{r * step:,}–{(r + 1) * step - 1:,}" for r in range(top // step + 1)]
    for r, (z_row, n_row) in enumerate(zip(heat["z"], heat["customdata"], strict=True)):
        for f, (z, n) in enumerate(zip(z_row, n_row, strict=True)):
            if (r, f) in expected.index:
                assert z == pytest.approx(expected.loc[(r, f), "mean"], rel=1e-9, abs=1e-12)
                assert n == expected.loc[(r, f), "size"]
            else:
                assert z is None and n == 0
    assert sum(sum(row) for row in heat["customdata"]) == len(customers)
    if name == "cdnow":  # MBG/NBD or Pareto/NBD: one-time buyers can be gone, P(alive) < 1
        assert customers.loc[customers["frequency"] == 0, "p_alive"].max() < 1


def test_clv_section_explains_why_churn_risk_is_0_when_no_dropout_is_detected(clv_report, browser):
    _, db = _open_clv(clv_report, browser, "superstore")
    scored = _query(db, "select model_status, churn_risk from marts.customer_value")
    assert (scored["model_status"] == "fitted (no dropout detected: churn risk 0)").all()
    assert (scored["churn_risk"] == 0).all()
    callout = browser.evaluate("document.querySelector('#clv [data-callout=\"clv-no-dropout\"]').textContent")
    assert f"No dropout detected: churn risk is 0 for all {len(scored):,} customers." in callout
    assert "likelihood is highest at its no-dropout limit" in callout
    fits = _query(db, "select model, min(status) as status from marts.clv_model_parameters "
                      "where model <> 'gamma_gamma' group by model")
    assert len(fits) == 3
    for status in fits["status"]:
        assert status in callout
    title = browser.evaluate("document.getElementById('chart-clv-p-alive').layout.title.text")
    assert f"P(alive) = 1 for all {len(scored):,} customers: no dropout detected" in title
    subtitle = browser.evaluate("document.getElementById('chart-clv-backtest').layout.title.text")
    assert "no prediction (see the table): MBG/NBD, Pareto/NBD" in subtitle
    _open_clv(clv_report, browser, "cdnow")  # models that see dropout: no such note
    assert browser.evaluate("document.querySelector('[data-callout]') === null")


# -- hostile names, missing and empty marts, no build ----------------------------------------------

def _hostile_db(path: Path, empty: bool = False) -> Path:
    """A database with some marts whose text columns hold markup (or no rows at all)."""
    h = HOSTILE.replace("'", "''")
    limit = "limit 0" if empty else ""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema intermediate")
        con.execute(f"""create table intermediate.int_order_lines_validated as
            select 'o' || i as order_id, 'c' || i as customer_id, 'p1' as product_id, '{h}' as currency,
                1.0 as rate_to_reporting, null::varchar as dq_reason
            from range(4) as t(i) {limit}""")
        con.execute(f"""create table marts.data_quality_issues as
            select 'order_lines' as source_file, 'k' as record_key, '{h}' as reason, false as is_row_kept
            from range(3) {limit}""")
        con.execute(f"""create table marts.customer_rfm as
            select 'c' || i as customer_id, 1 + i % 5 as r_score, 1 + (i // 5) % 5 as fm_score,
                10.0 * i as monetary, '{h}' as rfm_segment, date '2024-06-30' as as_of_date
            from range(40) as t(i) {limit}""")
        con.execute(f"""create table marts.customer_classifications as
            select 'c' || i as customer_id, '{h}' as segment, kind as classification_type,
                i::double as metric_value, 1 as band_order, '{h}' as band_label,
                'red"><script>window.__pwned=3</script>' as band_color, true as is_eligible,
                date '2024-06-30' as as_of_date, 100.0 as revenue
            from range(5) as t(i), (values ('risk_score'), ('revenue_rank')) as k(kind) {limit}""")
        con.execute(f"""create table marts.customer_classification_history as
            select date '2024-05-31' as month_end_date, customer_id, classification_type, metric_value
            from marts.customer_classifications {limit}""")
        con.execute(f"""create table marts.customer_product_recommendations as
            select 'c1' as customer_id, 'p' || i as product_id, 1 as rank, '{h}' as reason, 1.0 as score,
                '{h}' || i as product_name, '{h}' as category
            from range(3) as t(i) {limit}""")
        con.execute(f"""create table marts.kpi_tiles as
            select '{h}' as period_name, 30 as period_days, date '2024-06-01' as period_start,
                date '2024-06-30' as period_end,
                date '2024-05-02' as comparison_start, date '2024-05-31' as comparison_end,
                '{h}' as tile, 1 as tile_order, 5.0 as value, 4.0 as comparison_value, 25.0 as pct_change
            {limit}""")
        con.execute(f"""create table marts.customer_spend_profile as
            select 'c' || i as customer_id, '{h}' as segment, 'category' as item_level, '{h}' as window_name,
                date '2023-07-01' as window_start, date '2024-06-30' as window_end,
                (i * 10.0 - 50) as spend_change_pct, (i * 20.0) as share_of_wallet_pct, 1.0 as total_spend
            from range(10) as t(i) {limit}""")
        con.execute(f"""create table marts.customer_value as
            select 'c' || i as customer_id, 10.0 * i as predicted_clv, '{h}' as predicted_spend_tier,
                case when i % 2 = 0 then 'fitted (no dropout detected: churn risk 0)' else '{h}' end
                    as model_status,
                1.0 as p_alive, i % 9 as frequency, 10 * i as recency_days, 20 * i + 5 as t_days
            from range(40) as t(i) {limit}""")
        con.execute(f"""create table marts.clv_model_parameters as
            select '{h}' as model, 'r' as parameter, 1.0 as value, '{h}' as status, true as is_chosen {limit}""")
        con.execute(f"""create table marts.segment_summary as
            select dimension, dimension_value || i as dimension_value, 10 as customers, 10 as scored_customers,
                100.0 * (i + 1) as predicted_revenue_next_horizon, 90.0 * (i + 1) as predicted_revenue_low,
                110.0 * (i + 1) as predicted_revenue_high, 365 as horizon_days
            from (values ('all', 'all'), ('segment', '{h}'), ('{h}', '{h}')) as d(dimension, dimension_value),
                range(2) as t(i)
            where dimension <> 'all' or i = 0 {limit}""")
        con.execute(f"""create table marts.clv_backtest as
            select '{h}' as model, 'purchase model' as model_kind, true as is_chosen, bucket, bucket_order,
                10 as customers, 5 as actual_orders, 4.0 as predicted_orders, -20.0 as error_pct,
                0.5 as actual_orders_per_customer, 0.4 as predicted_orders_per_customer,
                date '2024-01-31' as calibration_end_date, date '2024-06-30' as holdout_end_date,
                '{h}' as model_status
            from (values ('0', 0), ('{h}', 1), ('total', 8)) as b(bucket, bucket_order) {limit}""")
        con.execute(f"""create table marts.clv_model_comparison as
            select '{h}' as model, 'purchase model' as model_kind, metric, '{h}' as metric_label, 1.5 as value,
                true as is_chosen, '{h}' as model_status, date '2024-01-31' as calibration_end_date,
                date '2024-06-30' as holdout_end_date, 151 as holdout_days
            from (values ('mae_orders'), ('bic'), ('holdout_actual_orders')) as t(metric) {limit}""")
        con.execute(f"""create table marts.rfm_persona_movements as
            select date '2023-06-30' as from_date, date '2024-06-30' as to_date, '{h}' as from_persona,
                'Loyal' as to_persona, 3 as customers, 10.0 as revenue, true as is_to_as_of {limit}""")
    return path


def test_hostile_names_show_as_text_and_never_run(tmp_path, browser):
    db = _hostile_db(tmp_path / "hostile.duckdb")
    out = write_report(tmp_path / "hostile.html", db=db)
    text = out.read_text(encoding="utf-8")
    assert "window.__pwned=1</script>" not in text and "<img src=x" not in text
    check = browser.open(out, CHARTS_RENDERED)
    assert check.problems == []
    assert "could not be drawn" not in text
    assert browser.evaluate("typeof window.__pwned") == "undefined"
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    scripts = browser.evaluate("document.querySelectorAll('script').length")
    assert scripts == 1 + text.count('data-chart="'), "only plotly.js and one script per chart"
    assert browser.evaluate("document.querySelectorAll('[data-chart] .main-svg').length") > 0
    # The names are shown as they are, in the page and inside the charts.
    assert HOSTILE in browser.evaluate("document.querySelector('.tile .name').textContent")
    assert HOSTILE in browser.evaluate("document.getElementById('chart-data-quality').textContent")
    assert HOSTILE in browser.evaluate("document.querySelector('#spend-distributions h2').textContent")
    assert HOSTILE in browser.evaluate("document.querySelector('header').textContent")  # the currency
    assert HOSTILE in browser.evaluate("document.getElementById('chart-rfm-grid').textContent")
    table = browser.evaluate("""(() => { const t = document.querySelector('[data-table="clv-model-comparison"]');
        return [t.textContent, t.querySelector('tbody tr').dataset.model,
                t.querySelector('th[data-metric="mae_orders"]').title]; })()""")
    assert HOSTILE in table[0] and table[1] == HOSTILE and table[2] == HOSTILE
    assert HOSTILE in browser.evaluate("document.querySelector('[data-callout=\"clv-no-dropout\"]').textContent")
    assert HOSTILE in browser.evaluate("document.getElementById('chart-clv-backtest').textContent")
    assert HOSTILE[:29] in browser.evaluate("document.getElementById('chart-clv-revenue-interval').textContent")
    charts = browser.evaluate("[...document.querySelectorAll('#clv [data-chart]')].map(d => d.dataset.chart)")
    assert charts == ["clv-distribution", "clv-revenue-interval", "clv-backtest", "clv-p-alive"]
    # Marts that are not in the database give notes.
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert {"cohort-retention", "cohort-revenue"} <= set(notes)


def test_empty_marts_give_notes_not_errors(tmp_path, browser):
    db = _hostile_db(tmp_path / "empty.duckdb", empty=True)
    out = write_report(tmp_path / "empty.html", db=db)
    text = out.read_text(encoding="utf-8")
    assert 'data-chart="' not in text
    check = browser.open(out)
    assert check.problems == []
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert "could not be drawn" not in text
    assert set(notes) == {"kpi-tiles", "persona-shares", "rfm-grid", "persona-movements", "spend-distributions",
                          "classification-bands", "risk-over-time", "clv-distribution", "clv-revenue-interval",
                          "clv-model-comparison", "clv-backtest", "clv-p-alive", "cohort-retention",
                          "cohort-revenue", "recommendations", "data-quality"}
    assert 'data-callout="' not in text and 'data-table="' not in text


def test_report_without_a_build_says_to_run_build(tmp_path):
    with pytest.raises(SpendlensError, match="run `spendlens build` first"):
        write_report(tmp_path / "r.html", db=tmp_path / "missing.duckdb")
    with duckdb.connect(str(tmp_path / "bare.duckdb")):
        pass
    with pytest.raises(SpendlensError, match="no marts"):
        write_report(tmp_path / "r.html", db=tmp_path / "bare.duckdb")
    assert not (tmp_path / "r.html").exists()
