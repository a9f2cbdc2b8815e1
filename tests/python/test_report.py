"""`spendlens report`: the HTML file opened in headless Chromium (scripts/install_chromium.sh).

The report of the generated data set (shared session build) must render every chart with no
console error and no request leaving the file; its figures must hold the numbers of the marts
(recomputed here with pandas from the mart rows); hostile names from data must show as text and
never become markup; missing or empty marts give notes, and a missing build one clear error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
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
    "customer_value": ["clv-distribution"],
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
        if mart == "customer_value" or mart == "clv_backtest":
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
    # Marts that are not in the database give notes.
    notes = browser.evaluate("[...document.querySelectorAll('[data-note]')].map(d => d.dataset.note)")
    assert {"clv-distribution", "clv-backtest"} <= set(notes)


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
                          "classification-bands", "risk-over-time", "clv-distribution", "clv-backtest",
                          "cohort-retention", "cohort-revenue", "recommendations", "data-quality"}


def test_report_without_a_build_says_to_run_build(tmp_path):
    with pytest.raises(SpendlensError, match="run `spendlens build` first"):
        write_report(tmp_path / "r.html", db=tmp_path / "missing.duckdb")
    with duckdb.connect(str(tmp_path / "bare.duckdb")):
        pass
    with pytest.raises(SpendlensError, match="no marts"):
        write_report(tmp_path / "r.html", db=tmp_path / "bare.duckdb")
    assert not (tmp_path / "r.html").exists()
