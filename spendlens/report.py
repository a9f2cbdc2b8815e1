"""`spendlens report`: one self-contained HTML file with charts of the published marts.

The report reads the published DuckDB file (read-only), aggregates in SQL, and draws each chart
with plotly (the CLV model comparison is an HTML table). plotly's JavaScript is inlined once in
the page head, so the file opens without a network. Sections whose mart is not built yet, or is
empty, show a short note instead of a chart. Every value from data is escaped (see
spendlens/report_charts.py). What each chart shows and how to read it: docs/report.md.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.io as pio
import plotly.offline

from spendlens import report_charts as charts
from spendlens.errors import SpendlensError
from spendlens.publish import layout_from_env
from spendlens.report_charts import Chart, Context, Section, format_amount, rows

DEFAULT_OUT = Path("reports/spendlens_report.html")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}

# KPI tiles: display name, how to format the value, and which direction is good (+1 up, -1 down,
# 0 neither), for the colour of the % change.
KPI_TILES: dict[str, tuple[str, str, int]] = {
    "total_revenue": ("Total revenue", "money", 1),
    "average_order_value": ("Average order value", "money", 1),
    "customer_lifetime_value": ("Customer lifetime value", "money", 1),
    "total_orders": ("Total orders", "count", 1),
    "average_items_per_order": ("Average items per order", "decimal", 1),
    "average_days_between_orders": ("Average days between orders", "days", -1),
    "customers": ("Customers", "count", 1),
    "one_time_buyers": ("One-time buyers", "count", 0),
    "repeat_customers": ("Repeat customers", "count", 1),
    "new_customers": ("New customers", "count", 1),
}


def write_report(out: Path = DEFAULT_OUT, db: Path | None = None) -> Path:
    """Writes the report for the database `db` (default: the published build) to `out`."""
    db = db if db is not None else layout_from_env().published_db
    con = _connect(db)
    try:
        page = render(con, db)
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, out)  # a reader never sees half a report
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {db}")
    return out


def _connect(db: Path) -> duckdb.DuckDBPyConnection:
    if not db.is_file():
        raise SpendlensError(f"there is no build to report on ({db} does not exist): run `spendlens build` first")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise SpendlensError(f"cannot open {db} read-only: {exc}") from exc
    marts = con.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()
    if not marts or not marts[0]:
        con.close()
        raise SpendlensError(f"{db} holds no marts: run `spendlens build` first")
    return con


# -- the page -----------------------------------------------------------------------------------

def render(con: duckdb.DuckDBPyConnection, db: Path) -> str:
    """The whole HTML page as text."""
    facts = _facts(con, db)
    ctx = Context(con=con, as_of_date=facts.get("as_of_date"), currency=facts.get("currency") or "")
    sections: list[Section] = [
        _kpi_section(ctx),
        charts.rfm_grid(ctx),
        charts.persona_movements(ctx),
        charts.spend_distributions(ctx),
        charts.classification_bands(ctx),
        charts.risk_over_time(ctx),
        charts.clv(ctx),
        charts.cohorts(ctx),
        charts.recommendations(ctx),
        charts.data_quality(ctx, facts.get("usable_lines")),
    ]
    plotly_js = plotly.offline.get_plotlyjs()
    if "</script" in plotly_js.lower():  # would end the inline <script> early
        raise SpendlensError("this plotly version's JavaScript cannot be inlined safely; pin another plotly")
    body = "\n".join(_section_html(s) for s in sections)
    as_of = facts.get("as_of_date")
    title = "spendlens report" + (f" as of {as_of:%Y-%m-%d}" if isinstance(as_of, date) else "")
    return PAGE.format(
        title=html.escape(title), style=STYLE, plotly_js=plotly_js, header=_header_html(facts, title),
        nav=_nav_html(sections), body=body,
    )


def _section_html(section: Section) -> str:
    parts = [f'<section class="card" id="{section.key}">',
             f"<h2>{html.escape(section.title)}</h2>",
             f'<p class="how">{html.escape(section.how_to_read)}</p>']
    if section.html_body:
        parts.append(section.html_body)
    if section.charts:
        parts.append(f'<div class="grid cols-{section.columns}">')
        parts.extend(_chart_html(chart) for chart in section.charts)
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _chart_html(chart: Chart) -> str:
    wide = " wide" if chart.wide else ""
    if chart.html is not None:  # a table, escaped when it was made
        return f'<div class="table{wide}" data-table="{chart.key}">{chart.html}</div>'
    if chart.figure is None:
        return f'<div class="note{wide}" data-note="{chart.key}"><p>{html.escape(chart.note or "")}</p></div>'
    figure_html = pio.to_html(
        chart.figure, include_plotlyjs=False, full_html=False, div_id=f"chart-{chart.key}",
        config=PLOTLY_CONFIG, default_width="100%", default_height=f"{chart.height}px", validate=True)
    return f'<div class="chart{wide}" data-chart="{chart.key}">{figure_html}</div>'


def _nav_html(sections: list[Section]) -> str:
    links = " ".join(f'<a href="#{s.key}">{html.escape(_short_title(s))}</a>' for s in sections)
    return f"<nav>{links}</nav>"


def _short_title(section: Section) -> str:
    return {"kpi-tiles": "KPIs", "rfm-grid": "RFM grid", "persona-movements": "Personas",
            "spend-distributions": "Spend change", "classification-bands": "Classifications",
            "risk-over-time": "Risk over time", "clv": "CLV", "cohorts": "Cohorts",
            "recommendations": "Recommendations",
            "data-quality": "Data quality"}.get(section.key, section.title)


# -- header: as-of date, data set size, build time ----------------------------------------------

def _facts(con: duckdb.DuckDBPyConnection, db: Path) -> dict[str, Any]:
    facts: dict[str, Any] = {"database": db.resolve()}
    if facts["database"].is_relative_to(Path.cwd().resolve()):
        facts["database"] = facts["database"].relative_to(Path.cwd().resolve())
    built = datetime.fromtimestamp(db.stat().st_mtime, tz=UTC)
    facts["built_at"] = built
    facts.update(_first_row(
        con, "select as_of_date, first_order_date, last_order_date from intermediate.int_analysis_dates"))
    if not isinstance(facts.get("as_of_date"), date):
        for mart, column in (("customer_rfm", "as_of_date"), ("customer_classifications", "as_of_date"),
                             ("kpi_tiles", "period_end")):
            if charts.mart_exists(con, mart):
                found = _first_row(con, f"select max({column}) as as_of_date from marts.{mart}")
                if found.get("as_of_date"):
                    facts["as_of_date"] = found["as_of_date"]
                    break
    facts.update(_first_row(con, """
        select
            count(*) as lines_read,
            count(*) filter (where dq_reason is null) as usable_lines,
            count(distinct customer_id) filter (where dq_reason is null) as customers,
            count(distinct product_id) filter (where dq_reason is null) as products,
            count(distinct order_id) filter (where dq_reason is null) as orders
        from intermediate.int_order_lines_validated
    """))
    # The reporting currency: the currency most lines are in among lines converted at rate 1.
    facts.update(_first_row(con, """
        select currency
        from intermediate.int_order_lines_validated
        where dq_reason is null and rate_to_reporting = 1 and currency is not null
        group by currency
        order by count(*) desc, currency
        limit 1
    """))
    if charts.mart_exists(con, "data_quality_issues"):
        facts.update(_first_row(con, "select count(*) as rows_set_aside from marts.data_quality_issues"))
    return facts


def _first_row(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """The first row of a query as a dict; {} when the relation is missing (older builds)."""
    try:
        found = rows(con, sql)
    except duckdb.Error:
        return {}
    return found[0] if found else {}


def _header_html(facts: dict[str, Any], title: str) -> str:
    def fact(name: str, value: Any) -> str:
        return f"<div><dt>{html.escape(name)}</dt><dd>{value}</dd></div>"

    def count(key: str) -> str:
        value = facts.get(key)
        return f"{value:,}" if isinstance(value, int) else "n/a"

    def day(key: str) -> str:
        value = facts.get(key)
        return f"{value:%Y-%m-%d}" if isinstance(value, date) else "n/a"

    items = [
        fact("As of", day("as_of_date")),
        fact("History", f"{day('first_order_date')} to {day('last_order_date')}"),
        fact("Order lines", f"{count('usable_lines')} usable of {count('lines_read')} read"),
        fact("Customers · products · orders", f"{count('customers')} · {count('products')} · {count('orders')}"),
        fact("Rows set aside", count("rows_set_aside")),
        fact("Currency", _html(facts.get("currency")) if facts.get("currency") else "n/a"),
        fact("Built", f"{facts['built_at']:%Y-%m-%d %H:%M} UTC"),
        fact("Report written", f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC"),
    ]
    return (f"<header><h1>{html.escape(title)}</h1>"
            f'<p class="source">from {_html(facts["database"])}</p>'
            f'<dl class="facts">{"".join(items)}</dl></header>')


# -- KPI tiles ----------------------------------------------------------------------------------

def _kpi_section(ctx: Context) -> Section:
    section = Section(
        "kpi-tiles", "Key figures",
        "Each tile is the value for the period ending at the as-of date (or the custom period of "
        "kpi_period_start / kpi_period_end, shown first when set); the percentage compares it with "
        "its comparison period, by default the same length just before (green = better, red = "
        "worse, grey when neither direction is better).")
    section.charts.append(charts.persona_shares(ctx))
    if not charts.mart_exists(ctx.con, "kpi_tiles"):
        section.html_body = _note_html("kpi-tiles", charts._missing_note("kpi_tiles"))
        return section
    tiles = rows(ctx.con, """
        select period_name, period_days, period_start, period_end, comparison_start, comparison_end,
            tile, tile_order, value, comparison_value, pct_change
        from marts.kpi_tiles
        order by period_name = 'custom' desc, period_days desc, tile_order, tile
    """)
    if not tiles:
        section.html_body = _note_html("kpi-tiles", "kpi_tiles has no rows.")
        return section
    blocks = []
    for name in dict.fromkeys(t["period_name"] for t in tiles):  # custom period first, then longest
        group = [t for t in tiles if t["period_name"] == name]
        first = group[0]
        period = int(first["period_days"])
        span = f"{_day(first['period_start'])} to {_day(first['period_end'])}"
        before = f"{_day(first['comparison_start'])} to {_day(first['comparison_end'])}"
        caption = (f"Custom period ({span}) vs {before}" if name == "custom"
                   else f"Last {period:,} days ({span}) vs the {period:,} days before ({before})")
        tiles_html = "".join(_tile_html(t, ctx.currency) for t in group)
        blocks.append(f'<h3>{html.escape(caption)}</h3><div class="tiles" data-period-days="{period}" '
                      f'data-period-name="{_html(name)}">{tiles_html}</div>')
    section.html_body = "\n".join(blocks)
    return section


def _tile_html(tile: dict[str, Any], currency: str) -> str:
    name, kind, good = KPI_TILES.get(tile["tile"], (str(tile["tile"]), "decimal", 0))
    value = _format_tile(tile["value"], kind, currency)
    before = _format_tile(tile["comparison_value"], kind, currency)
    change = tile["pct_change"]
    if change is None or not math.isfinite(change):
        change_html = '<span class="change flat">n/a</span>'
    else:
        direction = (change > 0) - (change < 0)
        tone = "flat" if direction == 0 or good == 0 else ("good" if direction == good else "bad")
        arrow = {1: "▲", -1: "▼", 0: "■"}[direction]
        change_html = f'<span class="change {tone}">{arrow} {change:+.1f}%</span>'
    return (f'<div class="tile" data-tile="{_html(tile["tile"])}"><div class="name">{_html(name)}</div>'
            f'<div class="value">{value}</div>{change_html}<div class="before">was {before}</div></div>')


def _format_tile(value: float | None, kind: str, currency: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if kind == "money":
        unit = f'<span class="unit">{_html(currency)}</span>' if currency else ""
        return _html(format_amount(value)) + unit
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "days":
        return f'{value:,.1f}<span class="unit">days</span>'
    return f"{value:,.2f}"


def _day(value: Any) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else "?"


def _html(value: Any) -> str:
    """A data value as HTML text or attribute value."""
    return html.escape(str(value), quote=True)


def _note_html(key: str, text: str) -> str:
    return f'<div class="note" data-note="{key}"><p>{html.escape(text)}</p></div>'


# -- page template --------------------------------------------------------------------------------

STYLE = """
:root { --text: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f3f4f6; --card: #ffffff;
        --good: #15803d; --bad: #b91c1c; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 20px 40px; }
header { background: #111827; color: #f9fafb; padding: 20px 24px 16px; border-radius: 10px; }
header h1 { margin: 0 0 2px; font-size: 24px; font-weight: 650; }
header .source { margin: 0 0 12px; color: #9ca3af; font-size: 12px; word-break: break-all; }
.facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 10px 24px; margin: 0; }
.facts dt { color: #9ca3af; font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-size: 15px; font-variant-numeric: tabular-nums; }
nav { position: sticky; top: 0; z-index: 5; background: var(--bg); padding: 10px 0; display: flex;
      flex-wrap: wrap; gap: 6px; }
nav a { color: var(--accent); text-decoration: none; padding: 3px 10px; border: 1px solid #c7d2fe;
        border-radius: 999px; background: #fff; font-size: 13px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
        padding: 16px 20px 12px; margin: 0 0 16px; }
.card h2 { margin: 0 0 4px; font-size: 18px; font-weight: 650; }
.card h3 { margin: 14px 0 8px; font-size: 13px; font-weight: 600; color: var(--muted); }
.how { margin: 0 0 8px; color: var(--muted); max-width: 980px; }
.grid { display: grid; gap: 12px 20px; margin-top: 12px; }
.grid.cols-1 { grid-template-columns: minmax(0, 1fr); }
.grid.cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.grid.cols-3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
@media (max-width: 900px) { .grid.cols-2, .grid.cols-3 { grid-template-columns: minmax(0, 1fr); }
                            .facts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.chart { min-width: 0; }
.wide { grid-column: 1 / -1; }
.table { min-width: 0; }
.table h3 { margin: 4px 0 8px; }
.table-scroll { overflow-x: auto; }
table.metrics { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
table.metrics th, table.metrics td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left;
                                     vertical-align: top; }
table.metrics thead th { color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 2px solid var(--line);
                         cursor: help; }
table.metrics .num { text-align: right; white-space: nowrap; }
table.metrics thead th.num { white-space: normal; min-width: 56px; }
table.metrics .best { font-weight: 700; }
table.metrics .na { color: var(--muted); }
table.metrics .status { color: var(--muted); min-width: 180px; max-width: 300px; font-size: 12px; }
table.metrics tbody th { font-weight: 600; white-space: nowrap; }
table.metrics .kind { color: var(--muted); font-size: 11px; font-weight: 400; }
table.metrics tr.chosen { background: #eff6ff; }
table.metrics tr.chosen th[scope="row"] { box-shadow: inset 3px 0 0 var(--accent); }
.badge { display: inline-block; background: var(--accent); color: #fff; border-radius: 999px; font-size: 11px;
         font-weight: 600; padding: 0 7px; margin-left: 4px; vertical-align: 1px; }
.table .legend { color: var(--muted); font-size: 12px; margin: 6px 0 0; max-width: 980px; }
.callout { border: 1px solid #fcd34d; background: #fffbeb; border-radius: 8px; padding: 10px 14px;
           margin: 8px 0 4px; max-width: 1100px; }
.callout p { margin: 0 0 6px; } .callout p:last-child { margin-bottom: 0; }
.callout .fits { color: var(--muted); font-size: 12px; }
.note { border: 1px dashed #d1d5db; border-radius: 8px; padding: 14px 16px; color: var(--muted);
        background: #fafafa; align-self: start; }
.note p { margin: 0; }
.tiles { display: grid; grid-template-columns: repeat(9, minmax(0, 1fr)); gap: 8px; }
@media (max-width: 1100px) { .tiles { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); } }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.tile .name { color: var(--muted); font-size: 12px; line-height: 1.25; min-height: 30px; }
.tile .value { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0;
               white-space: nowrap; }
.tile .unit { font-size: 12px; font-weight: 500; color: var(--muted); margin-left: 2px; }
.tile .change { font-size: 13px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .change.good { color: var(--good); } .tile .change.bad { color: var(--bad); }
.tile .change.flat { color: var(--muted); }
.tile .before { color: var(--muted); font-size: 12px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
"""


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spendlens report">
<title>{title}</title>
<style>{style}</style>
<script type="text/javascript">{plotly_js}</script>
</head>
<body>
<main>
{header}
{nav}
{body}
<footer>Written by <code>spendlens report</code>. Every chart reads the marts of the build named above;
docs/report.md explains each one.</footer>
</main>
</body>
</html>
"""

Renderer = Callable[[Context], Section]
