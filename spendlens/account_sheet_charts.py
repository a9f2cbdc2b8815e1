"""The three charts of an account sheet, as plotly figures from one customer's mart rows:
spend over time by category, risk score over time, persona over time (docs/report.md, Account
sheets). Every text from data goes through report_charts.label (plotly reads a little HTML from
labels). Each returns None when the customer has nothing to draw; the page then shows a note.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go

from spendlens.account_sheet_data import RunFacts, SheetData, finite
from spendlens.report_charts import MUTED, PALETTE, PERSONA_ORDER, base_layout, label, persona_color, safe_color
from spendlens.spend_spans import Piece, pieces
from spendlens.talking_points import amount, window_label


def spend_figure(sheet: SheetData, facts: RunFacts) -> go.Figure | None:
    """Spend per business month by item (customer_monthly_spend, stacked bars) with the monthly
    total line; builds without that mart get the spend windows spread over their months."""
    if sheet.monthly_spend:
        return _monthly_spend_figure(sheet, facts)
    level = facts.settings.item_level
    totals: dict[str, dict[tuple[str, str], float]] = {}
    for row in sheet.spend_rows:
        if row.item_level == level:
            item = totals.setdefault(row.item_id, {})
            item[(row.window_name, "window")] = row.total_spend
            item[(row.window_name, "prior")] = row.prior_total_spend
    found = pieces(facts.spans)
    monthly = monthly_spend(sheet.rfm_history)
    if found:
        start = found[0].start
        monthly = [m for m in monthly if m["end"] >= start]
    if not (totals and found) and not monthly:
        return None
    fig = go.Figure()
    order = sorted(totals, key=lambda i: (-sum(abs(v) for v in totals[i].values()), i))
    for index, item in enumerate(order):
        _add_piece_bars(fig, found, totals[item], label(item), PALETTE[index % len(PALETTE)])
    return _finish_spend_figure(fig, monthly, facts)


def _finish_spend_figure(fig: go.Figure, monthly: list[dict[str, Any]], facts: RunFacts) -> go.Figure:
    """The monthly total line (if any), the shaded change window and the layout of both variants."""
    if monthly:
        fig.add_trace(go.Scatter(
            x=[m["start"] + (m["end"] - m["start"]) / 2 for m in monthly], y=[m["spend"] for m in monthly],
            mode="lines+markers", name="total per month", line={"color": "#111827", "width": 1.5},
            marker={"size": 4},
            customdata=[f"{m['start']:%Y-%m-%d} to {m['end']:%Y-%m-%d}" for m in monthly],
            hovertemplate="%{customdata}: %{y:,.0f} total<extra></extra>"))
    _shade_change_window(fig, facts)
    base_layout(fig, 400, barmode="relative", bargap=0, margin={"l": 60, "r": 16, "t": 36, "b": 40},
                legend={"orientation": "h", "y": -0.12, "x": 0})
    fig.update_yaxes(title_text=f"spend per month ({label(facts.currency)})" if facts.currency else "spend per month")
    fig.update_xaxes(type="date")
    return fig


def _monthly_spend_figure(sheet: SheetData, facts: RunFacts) -> go.Figure:
    by_item: dict[str, dict[date, dict[str, Any]]] = {}
    months: dict[date, date] = {}
    for row in sheet.monthly_spend:
        by_item.setdefault(row["item_id"], {})[row["month_start"]] = row
        months[row["month_start"]] = row["month_end"]
    starts = sorted(months)
    fig = go.Figure()
    order = sorted(by_item, key=lambda i: (-sum(abs(r["spend_amount"] or 0) for r in by_item[i].values()), i))
    for index, item in enumerate(order):
        rows = by_item[item]
        fig.add_trace(go.Bar(
            x=[m + (months[m] + timedelta(days=1) - m) / 2 for m in starts],
            y=[rows[m]["spend_amount"] if m in rows else 0.0 for m in starts],
            width=[(months[m] + timedelta(days=1) - m).days * 86_400_000 * 0.9 for m in starts],
            name=label(item), marker={"color": PALETTE[index % len(PALETTE)], "line": {"width": 0}},
            customdata=[f"{m:%Y-%m-%d} to {months[m]:%Y-%m-%d}" for m in starts],
            hovertemplate=f"{label(item)}<br>%{{customdata}}: %{{y:,.0f}}<extra></extra>"))
    monthly = monthly_spend(sheet.rfm_history)
    if starts:
        monthly = [m for m in monthly if m["end"] >= starts[0]]
    return _finish_spend_figure(fig, monthly, facts)


def _add_piece_bars(fig: go.Figure, found: list[Piece], totals: dict[tuple[str, str], float], name: str,
                    color: str) -> None:
    spends = [p.spend(totals) for p in found]
    fig.add_trace(go.Bar(
        x=[p.start + (p.end + timedelta(days=1) - p.start) / 2 for p in found],
        y=[s / p.months for s, p in zip(spends, found, strict=True)],
        width=[(p.end + timedelta(days=1) - p.start).days * 86_400_000 * 0.98 for p in found],
        name=name, marker={"color": color, "line": {"width": 0}}, opacity=0.85,
        customdata=[f"{p.start:%Y-%m-%d} to {p.end:%Y-%m-%d}: {amount(s)} in {p.months:.3g} months"
                    for s, p in zip(spends, found, strict=True)],
        hovertemplate=f"{name}<br>%{{customdata}}<br>%{{y:,.0f}} a month<extra></extra>"))


def monthly_spend(rfm_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Net spend per month-end period: month-end net spend to date (customer_rfm_history
    monetary) minus the previous month-end's (0 before the first purchase). The as-of row adds
    the days after the last month-end."""
    found, previous, previous_end = [], 0.0, None
    for row in rfm_history:
        end, value = row["month_end_date"], row.get("monetary")
        if not isinstance(end, date) or not finite(value):
            continue
        start = previous_end + timedelta(days=1) if previous_end else date(end.year, end.month, 1)
        found.append({"start": start, "end": end, "spend": value - previous})
        previous, previous_end = value, end
    return found


def _shade_change_window(fig: go.Figure, facts: RunFacts) -> None:
    window = next((w for w in facts.windows if w["window_name"] == facts.settings.change_window), None)
    if window is None:
        return
    for start, end, text, color in (
            (window["prior_window_start"], window["prior_window_end"], "compared with", "#9ca3af"),
            (window["window_start"], window["window_end"], label(window_label(window["window_name"])), "#60a5fa")):
        fig.add_vrect(x0=start, x1=end + timedelta(days=1), fillcolor=color, opacity=0.15, line_width=0,
                      layer="below", annotation_text=text, annotation_position="top left",
                      annotation_font={"size": 11, "color": MUTED})


# -- risk over time ------------------------------------------------------------------------------

def risk_figure(sheet: SheetData, facts: RunFacts) -> go.Figure | None:
    points = sheet.risk_history
    if not points:
        return None
    values = [p["metric_value"] for p in points]
    fig = go.Figure(go.Scatter(
        x=[p["month_end_date"] for p in points], y=values, mode="lines+markers", name="risk score",
        line={"color": "#374151", "width": 2},
        marker={"size": 7, "color": [safe_color(p.get("band_color"), "#6b7280") for p in points]},
        customdata=[label(p.get("band_label")) + (" (as of)" if p.get("is_as_of") else "") for p in points],
        hovertemplate="%{x|%Y-%m-%d}: risk %{y:.2f}<br>band %{customdata}<extra></extra>"))
    top = max(values) if values else 1.0
    lower = 0.0
    key = []
    for band in facts.bands_for(sheet.headline.get("segment")):
        upper = band["upper_bound"] if band["upper_bound"] is not None else max(top * 1.05, lower + 1)
        color = safe_color(band["color"], "#9ca3af")
        fig.add_hrect(y0=lower, y1=upper, fillcolor=color, opacity=0.1, line_width=0, layer="below")
        key.append(f"<span style='color:{color}'>■ {label(band['label'])}</span>")
        lower = float(upper)
    if key:
        fig.add_annotation(x=0, y=1.02, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                           showarrow=False, text=" · ".join(key), font={"size": 11, "color": MUTED})
    base_layout(fig, 340, showlegend=False, margin={"l": 56, "r": 12, "t": 36, "b": 40})
    fig.update_yaxes(title_text="risk score", rangemode="tozero")
    return fig


# -- persona over time ---------------------------------------------------------------------------

def persona_figure(sheet: SheetData) -> go.Figure | None:
    history = [r for r in sheet.rfm_history if r.get("persona") is not None]
    if not history:
        return None
    others = sorted({r["persona"] for r in history} - set(PERSONA_ORDER))
    categories = [label(p) for p in reversed(PERSONA_ORDER + others)]
    fig = go.Figure(go.Scatter(
        x=[r["month_end_date"] for r in history], y=[label(r["persona"]) for r in history],
        mode="lines+markers", line={"shape": "hv", "color": "#9ca3af", "width": 1.5},
        marker={"size": 8, "color": [persona_color(r["persona"], i) for i, r in enumerate(history)]},
        customdata=[[label(r.get("rfm_segment")), label(r.get("rfm_cell"))] for r in history],
        hovertemplate="%{x|%Y-%m-%d}: %{y}<br>%{customdata[0]} (cell %{customdata[1]})<extra></extra>"))
    base_layout(fig, 300, showlegend=False, margin={"l": 110, "r": 12, "t": 16, "b": 40})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=categories,
                     range=[-0.5, len(categories) - 0.5])
    return fig
