"""The HTML of one account sheet: headline, talking points, spend over time, the spend profile
table, risk over time, persona movements and recommendations.

Every text from data goes through html.escape (page) or report_charts.label (plotly labels), as
in the main report. Figures travel as JSON in `<script type="application/json">` (plotly's JSON
escapes <, > and /, so no value can end the element); one small script draws them with the
plotly.min.js that sits beside the sheets (docs/report.md: one shared copy keeps every sheet
small), and says so in place of the charts when that file is missing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from spendlens.account_sheet_charts import persona_figure, risk_figure, spend_figure
from spendlens.account_sheet_data import RunFacts, SheetData, finite
from spendlens.report import STYLE
from spendlens.report_charts import PERSONA_COLORS, RECOMMENDATION_TITLES
from spendlens.talking_points import Recommendation, amount, money, percent, window_label

PLOTLY_FILE = "plotly.min.js"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}


def render_sheet(sheet: SheetData, facts: RunFacts) -> str:
    h = sheet.headline
    figures: list[tuple[str, go.Figure]] = []
    spend_chart = spend_figure(sheet, facts)
    if spend_chart is not None:
        figures.append(("spend-over-time", spend_chart))
    risk_chart = risk_figure(sheet, facts)
    if risk_chart is not None:
        figures.append(("risk-over-time", risk_chart))
    persona_chart = persona_figure(sheet)
    if persona_chart is not None:
        figures.append(("persona-over-time", persona_chart))
    drawn = {key for key, _ in figures}

    def chart(key: str, why: str) -> str:
        if key in drawn:
            return f'<div class="chart" data-chart="{key}"><div class="plot" id="chart-{key}"></div></div>'
        return f'<div class="note" data-note="{key}"><p>{_e(why)}</p></div>'

    name = h.get("customer_name") or sheet.customer_id
    title = f"Account sheet: {name}"
    sections = [
        _section("talking-points", "Talking points", _points_html(sheet),
                 "Made by rules from the marts; each cites its numbers (docs/report.md, Account sheets)."),
        _section("spend-over-time", "Spend over time by " + _e(facts.settings.item_level),
                 chart("spend-over-time", _spend_note(sheet)),
                 _spend_subtitle(sheet, facts)),
        _section("spend-profile", "Spend profile per item and window", _profile_table(sheet, facts),
                 "Spend, change % against the prior span (per period), margin % and share of wallet "
                 "(100 = typical for the segment) per item and spend window."),
        '<div class="grid cols-2">'
        + _section("risk-over-time", "Risk score over time",
                   chart("risk-over-time", _missing(sheet, "customer_classification_history",
                                                    "No risk score at any month-end yet.")),
                   "Days since the last order / the usual gap between orders, at each month-end and "
                   "at the as-of date; background bands are the risk_score bands.")
        + _section("persona-movements", "Persona over time",
                   chart("persona-over-time", _missing(sheet, "customer_rfm_history",
                                                       "No RFM history: no purchase before a month-end yet."))
                   + _movements_html(sheet),
                   "The customer's lifecycle persona at each month-end (customer_rfm_history) and the "
                   "months it changed.")
        + "</div>",
        _section("recommendations", "Recommendations", _recommendations_html(sheet, facts),
                 "Products the customer never bought, by reason, with the reason's numbers."),
    ]
    payload = "\n".join(
        f'<script type="application/json" id="figure-{key}">{_figure_json(fig)}</script>' for key, fig in figures)
    crumb = ['<a href="index.html">all account sheets</a>', f"as of {_day(facts.as_of_date)}",
             f"from {_e(facts.db.name)}", f"written {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC"]
    header = (f'<header><p class="source">{" · ".join(crumb)}</p>'
              f'<h1>{_e(name)} <span class="cid" data-field="customer_id">{_e(sheet.customer_id)}</span></h1>'
              f'<p class="who">{_who_html(h)}</p>'
              f'<dl class="facts headline">{_headline_html(sheet, facts)}</dl></header>')
    return PAGE.format(title=_e(title), style=STYLE + SHEET_STYLE, header=header, body="\n".join(sections),
                       figures=payload, plotly=PLOTLY_FILE, draw=DRAW_SCRIPT.replace(
                           "__CONFIG__", json.dumps(PLOTLY_CONFIG)))


# -- headline ------------------------------------------------------------------------------------

def _who_html(h: dict[str, Any]) -> str:
    parts = [f'segment <b>{_field("segment", h.get("segment"), missing="none")}</b>',
             f'account manager <b>{_field("account_manager", h.get("account_manager"), missing="none")}</b>']
    return " · ".join(parts)


def _headline_html(sheet: SheetData, facts: RunFacts) -> str:
    h, v, cur = sheet.headline, sheet.value, facts.currency

    def f(key: str, spec: Callable[[Any], str] | None = None, row: dict[str, Any] = h, missing: str = "n/a") -> str:
        value = row.get(key)
        return _field(key, value, spec(value) if spec is not None and finite(value) else None, missing)

    def cash(value: float) -> str:
        return money(value, cur)

    tiles = [
        ("Persona", f("persona"), f"RFM {f('rfm_segment')}, cell {f('rfm_cell')}"),
        ("Predicted spend tier", f("predicted_spend_tier"), f"CLV model {f('clv_model_status')}"),
        ("Predicted CLV", f("predicted_clv", cash), _interval_html(v)),
        ("Churn risk", f("churn_risk", lambda x: f"{100 * x:.0f}%"),
         "P(alive) " + f("p_alive", lambda x: f"{x:.2f}")),
        ("Expected next order", f("expected_next_order_date"),
         "usual gap " + f("avg_days_between_orders", lambda x: f"{x:,.0f} days", row=v)),
        ("Target attainment", f("target_attainment_pct", lambda x: f"{x:.0f}%", missing="no target"),
         _target_html(h, cur)),
        ("Risk score", f("risk_score", lambda x: f"{x:.1f}"), "band " + f("risk_score_band")),
        ("Net spend to date", f("net_spend_amount", cash),
         f"{f('order_count', lambda x: f'{x:,}')} orders since {f('first_order_date')}"),
        ("Last 12 months", f("spend_last_12_months", cash),
         f"change {f('spend_change_pct_last_12_months', percent)} vs {f('spend_prior_12_months', amount)}"),
        ("Last order", f("last_order_date"), f("recency_days", lambda x: f"{x:,} days ago")),
    ]
    return "".join(f'<div class="tile"><dt>{_e(name)}</dt><dd class="value">{value}</dd>'
                   f'<dd class="sub">{sub}</dd></div>' for name, value, sub in tiles)


def _spend_subtitle(sheet: SheetData, facts: RunFacts) -> str:
    level = facts.settings.item_level
    if sheet.monthly_spend:
        bars = (f"Bars: net spend of each {level} in each business month (customer_monthly_spend). ")
    else:
        bars = (f"Bars: average spend per month of each {level} over the spans the spend windows cover "
                "(their differences; this build has no customer_monthly_spend at this level). ")
    return (bars + "Line: total spend in each month (month-end net spend to date, differenced). Shaded: the "
            + window_label(facts.settings.change_window) + " window and the span it is compared with.")


def _interval_html(v: dict[str, Any]) -> str:
    low, high = v.get("predicted_clv_low"), v.get("predicted_clv_high")
    if "predicted_clv_low" not in v and "predicted_clv_high" not in v:
        return "interval: not in this build"
    if not (finite(low) and finite(high)):
        return "80% interval: n/a"
    return (f'80% interval {_field("predicted_clv_low", low, amount(low))}'
            f'–{_field("predicted_clv_high", high, amount(high))}')


def _target_html(h: dict[str, Any], currency: str) -> str:
    actual, target = h.get("actual_amount_to_date"), h.get("target_amount_to_date")
    if not finite(target):
        return "no sales target for this customer"
    return (f'{_field("actual_amount_to_date", actual, money(actual, currency) if finite(actual) else None)} of '
            f'{_field("target_amount_to_date", target, amount(target))} to date')


def _field(key: str, value: Any, text: str | None = None, missing: str = "n/a") -> str:
    """A headline value with its raw value in data-value (JSON; dates as ISO text) for checks."""
    if isinstance(value, datetime):
        value = value.date()
    if value is None or (isinstance(value, float) and not finite(value)):
        return f'<span data-field="{key}" data-value="" class="na">{_e(missing)}</span>'
    raw = value.isoformat() if isinstance(value, date) else value
    shown = text if text is not None else (value.isoformat() if isinstance(value, date) else str(value))
    return f'<span data-field="{key}" data-value="{_e(json.dumps(raw))}">{_e(shown)}</span>'


# -- talking points ------------------------------------------------------------------------------

def _points_html(sheet: SheetData) -> str:
    if not sheet.points:
        return ('<p class="quiet" data-note="talking-points">No rule fired: spend is steady, margins '
                'and share of wallet are in line, no order is overdue and no strong cross-sell.</p>')
    items = "".join(
        f'<li data-rule="{_e(p.rule)}" data-numbers="{_e(json.dumps(p.numbers, sort_keys=True))}">{_e(p.text)}</li>'
        for p in sheet.points)
    return f'<ol class="points">{items}</ol>'


# -- notes and persona changes -------------------------------------------------------------------

def _spend_note(sheet: SheetData) -> str:
    if "customer_spend_profile" in sheet.missing:
        return _missing(sheet, "customer_spend_profile", "")
    return "No spend in the spend windows and no monthly history for this customer."


def _movements_html(sheet: SheetData) -> str:
    changes = []
    previous = None
    for row in sheet.rfm_history:
        if previous is not None and row.get("persona") != previous.get("persona"):
            changes.append((previous, row))
        previous = row
    if not sheet.rfm_history:
        return ""
    if not changes:
        return (f'<p class="quiet">{_e(sheet.rfm_history[-1].get("persona"))} at every month-end since '
                f'{_day(sheet.rfm_history[0]["month_end_date"])}.</p>')
    items = "".join(
        f'<tr><td>{_day(after["month_end_date"])}{" (as of)" if after.get("is_as_of") else ""}</td>'
        f'<td>{_persona_badge(before.get("persona"))} → {_persona_badge(after.get("persona"))}</td>'
        f'<td>{_e(before.get("rfm_cell"))} → {_e(after.get("rfm_cell"))}</td>'
        f'<td>{_e(after.get("rfm_segment"))}</td></tr>'
        for before, after in reversed(changes[-12:]))
    more = f'<p class="quiet">{len(changes) - 12} earlier changes not listed.</p>' if len(changes) > 12 else ""
    return ('<table class="data movements"><thead><tr><th>month-end</th><th>persona</th><th>RFM cell</th>'
            f'<th>RFM segment</th></tr></thead><tbody>{items}</tbody></table>{more}')


def _persona_badge(persona: Any) -> str:
    color = PERSONA_COLORS.get(str(persona), "#6b7280")
    return f'<span class="dot" style="background:{color}"></span>{_e(persona)}'


# -- spend profile table -------------------------------------------------------------------------

LEVEL_ORDER = {"category": 0, "bundle": 1, "product": 2}


def _profile_table(sheet: SheetData, facts: RunFacts) -> str:
    if "customer_spend_profile" in sheet.missing:
        return _note("spend-profile", _missing(sheet, "customer_spend_profile", ""))
    if not sheet.spend_rows:
        return _note("spend-profile", "No spend in any spend window or its prior span.")
    windows = [w["window_name"] for w in facts.windows] or sorted({r.window_name for r in sheet.spend_rows})
    cells = {(r.item_level, r.item_id, r.window_name): r for r in sheet.spend_rows}
    items = sorted({(r.item_level, r.item_id) for r in sheet.spend_rows},
                   key=lambda i: (LEVEL_ORDER.get(i[0], 9), -_item_spend(cells, i, windows), i[1]))
    products = [i for i in items if i[0] == "product"]
    limit = facts.settings.table_max_products
    hidden = max(0, len(products) - limit)
    items = [i for i in items if i[0] != "product"] + products[:limit]
    head1 = "".join(f'<th colspan="4" class="win">{_e(window_label(w))}{_window_dates(facts, w)}</th>'
                    for w in windows)
    head2 = "".join('<th>spend</th><th>change</th><th>margin</th><th>SoW</th>' for _ in windows)
    body = []
    for level, item in items:
        name = item if level != "product" else sheet.product_names.get(item, item)
        shown = f'{_e(name)}' + (f' <span class="pid">{_e(item)}</span>' if name != item else "")
        tds = []
        for w in windows:
            row = cells.get((level, item, w))
            if row is None:
                tds.append('<td class="empty" colspan="4">·</td>')
                continue
            tds.append(f'<td class="num">{amount(row.total_spend)}</td>{_pct_cell(row.spend_change_pct, True)}'
                       f'{_pct_cell(row.margin_pct, True)}{_pct_cell(row.share_of_wallet_pct, False)}')
        body.append(f'<tr data-level="{_e(level)}"><td><span class="lvl">{_e(level)}</span> {shown}</td>'
                    f'{"".join(tds)}</tr>')
    more = (f'<p class="quiet">{hidden} more product{"s" if hidden > 1 else ""} with less spend not shown '
            f'(var account_sheet_table_max_products).</p>') if hidden else ""
    return (f'<div class="scroll"><table class="data profile"><thead><tr><th rowspan="2">item</th>{head1}</tr>'
            f'<tr>{head2}</tr></thead><tbody>{"".join(body)}</tbody></table></div>{more}')


def _item_spend(cells: dict, item: tuple[str, str], windows: list[str]) -> float:
    return max((abs(cells[(*item, w)].total_spend) for w in windows if (*item, w) in cells), default=0.0)


def _window_dates(facts: RunFacts, name: str) -> str:
    w = next((w for w in facts.windows if w["window_name"] == name), None)
    if w is None:
        return ""
    return f'<br><span class="dates">{_day(w["window_start"])} to {_day(w["window_end"])}</span>'


def _pct_cell(value: float | None, signed: bool) -> str:
    if value is None or not finite(value):
        return '<td class="num na">–</td>'
    tone = ""
    if signed:
        tone = " bad" if value < 0 else (" good" if value > 0 else "")
    return f'<td class="num{tone}">{_e(percent(value))}</td>'


# -- recommendations -----------------------------------------------------------------------------

def _recommendations_html(sheet: SheetData, facts: RunFacts) -> str:
    if "customer_product_recommendations" in sheet.missing:
        return _note("recommendations", _missing(sheet, "customer_product_recommendations", ""))
    if not sheet.recommendations:
        return _note("recommendations", "No recommendation for this customer.")
    body = []
    for rec in sheet.recommendations:
        reason = RECOMMENDATION_TITLES.get(rec.reason, rec.reason)
        product = rec.product_name or rec.product_id
        body.append(f'<tr data-reason="{_e(rec.reason)}"><td>{_e(reason)}</td><td class="num">{rec.rank}</td>'
                    f'<td>{_e(product)} <span class="pid">{_e(rec.product_id)}</span></td>'
                    f'<td>{_text(rec.category, "")}</td><td>{_e(_why(rec, facts.currency))}</td></tr>')
    return ('<div class="scroll"><table class="data recs"><thead><tr><th>reason</th><th>rank</th><th>product</th>'
            f'<th>category</th><th>why</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _why(rec: Recommendation, currency: str) -> str:
    if rec.reason == "also_bought":
        anchor = rec.basis_name or rec.reason_basis or "their latest product"
        return f"bought together with {anchor} (their latest order) by {rec.score:,.0f} other customers"
    if rec.reason == "popular_in_segment":
        group = f"the {rec.reason_basis} segment" if rec.reason_basis else "customers without a segment"
        return f"{money(rec.score, currency)} spent on it by {group} in the last 12 months"
    if rec.reason == "popular_category_not_bought":
        return (f"a top seller of {rec.reason_basis or rec.category}, a category they never bought "
                f"({money(rec.score, currency)} in the last 12 months)")
    return f"score {rec.score:,.2f}"


# -- helpers -------------------------------------------------------------------------------------

def _figure_json(fig: go.Figure) -> str:
    text = pio.to_json(fig, validate=True, pretty=False)
    if "</" in text:  # plotly escapes '<' and '/'; a change there must not open a hole
        raise AssertionError("plotly JSON holds '</'")
    return text


def _section(key: str, title: str, body: str, how: str) -> str:
    return (f'<section class="card" id="{key}"><h2>{title}</h2><p class="how">{_e(how)}</p>{body}</section>')


def _missing(sheet: SheetData, mart: str, otherwise: str) -> str:
    if mart in sheet.missing:
        return f"The mart marts.{mart} is not in this build, so this part is left out (run `spendlens build`)."
    return otherwise


def _note(key: str, text: str) -> str:
    return f'<div class="note" data-note="{key}"><p>{_e(text)}</p></div>'


def _text(value: Any, missing: str) -> str:
    return _e(missing) if value is None else _e(value)


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.date()
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else "n/a"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


SHEET_STYLE = """
header h1 .cid { font-size: 15px; font-weight: 500; color: #9ca3af; margin-left: 6px; }
header .who { margin: 0 0 12px; color: #d1d5db; }
header .who b { color: #f9fafb; font-weight: 600; }
header a { color: #93c5fd; }
.headline { grid-template-columns: repeat(5, minmax(0, 1fr)); }
.headline .tile { border-left: 2px solid #374151; padding-left: 10px; }
.headline dd.value { font-size: 18px; font-weight: 650; }
.headline dd.sub { margin: 0; color: #9ca3af; font-size: 12px; }
.headline .na { color: #9ca3af; font-weight: 400; }
.points { margin: 4px 0 4px 20px; padding: 0; font-size: 15px; }
.points li { margin: 4px 0; }
.quiet { color: var(--muted); margin: 4px 0; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13px; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; }
table.data th { color: var(--muted); font-weight: 600; font-size: 12px; }
table.data th.win { text-align: center; border-left: 1px solid var(--line); }
table.data .dates { font-weight: 400; }
table.data td.num { text-align: right; white-space: nowrap; }
table.data td.empty { text-align: center; color: #d1d5db; }
table.data td.good { color: var(--good); } table.data td.bad { color: var(--bad); }
table.data td.na { color: #d1d5db; }
.lvl { display: inline-block; min-width: 58px; color: var(--muted); font-size: 11px; }
.pid { color: var(--muted); font-size: 11px; white-space: nowrap; }
table.movements td:first-child { white-space: nowrap; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 5px; }
.grid.cols-2 > .card { margin: 0; }
.grid.cols-2 { margin: 0 0 16px; }
@media (max-width: 1100px) { .headline { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
"""

# Draws every [data-chart] from its JSON; without plotly.min.js beside the file, says so instead.
DRAW_SCRIPT = """
(function () {
  var charts = document.querySelectorAll('[data-chart]');
  for (var i = 0; i < charts.length; i++) {
    var box = charts[i], plot = box.querySelector('.plot');
    var figure = JSON.parse(document.getElementById('figure-' + box.dataset.chart).textContent);
    if (!window.Plotly) {
      plot.className = 'note';
      plot.textContent = 'The charts need plotly.min.js in the same folder as this page.';
      continue;
    }
    Plotly.newPlot(plot, figure.data, figure.layout, __CONFIG__);
  }
})();
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spendlens report --customer">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
{header}
{body}
<footer>Written by <code>spendlens report</code> from the marts of the build named above; docs/report.md
(Account sheets) explains each part and the talking-point rules.</footer>
</main>
{figures}
<script src="{plotly}" charset="utf-8"></script>
<script>{draw}</script>
</body>
</html>
"""
