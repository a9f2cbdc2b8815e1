"""The charts of the HTML report: one function per section, each reading marts with aggregating
SQL (read-only connection) and returning plotly figures, or a short note when its mart is missing
or empty.

Every text that comes from data (segment, persona, product, band and reason names, ids) goes
through `label()` (html.escape) before it reaches plotly: plotly draws text as a small HTML
subset (<b>, <br>, <a href>), so an unescaped name could add markup; plotly decodes the entities
back, so the reader sees the name as it is. plotly's JSON escapes <, > and / itself, so no value
can end the <script> element that carries it.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import duckdb
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

MARTS = "marts"
NONE_LABEL = "(none)"
# The label every mart gives customers without a segment (docs/metrics.md).
NO_SEGMENT_LABEL = "(no segment)"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', Arial, sans-serif"
GRID = "#e5e7eb"
TEXT = "#1f2937"
MUTED = "#6b7280"
NOT_BANDED = "#e5e7eb"
# One colour per persona everywhere in the report (Sankey, tiles, legends).
PERSONA_ORDER = ["Champions", "Loyal", "Recent", "At Risk", "Needs Attention", "Inactive"]
PERSONA_COLORS = {
    "new customer": "#7e57c2",
    "Champions": "#1b5e20",
    "Loyal": "#43a047",
    "Recent": "#29b6f6",
    "At Risk": "#fb8c00",
    "Needs Attention": "#fdd835",
    "Inactive": "#9e9e9e",
}
# Segments (and other open-ended categories) take colours from this palette in a fixed order.
PALETTE = ["#2563eb", "#f97316", "#10b981", "#a855f7", "#ef4444", "#0ea5e9", "#eab308", "#64748b",
           "#ec4899", "#84cc16"]
TIER_COLORS = {"high": "#1d4ed8", "medium": "#60a5fa", "low": "#cbd5e1", NONE_LABEL: "#e5e7eb"}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
T = TypeVar("T")


# -- results of a section -----------------------------------------------------------------------

@dataclass
class Chart:
    """One chart of a section: a figure, a table (already escaped HTML), or a note saying why
    there is none. A wide chart spans every column of its section's grid."""

    key: str
    figure: go.Figure | None = None
    note: str | None = None
    height: int = 420
    html: str | None = None
    wide: bool = False


@dataclass
class Section:
    """A section of the report. title, how_to_read and chart notes are plain text (escaped when
    the page is written); html_body is HTML that is already escaped."""

    key: str
    title: str
    how_to_read: str
    charts: list[Chart] = field(default_factory=list)
    columns: int = 1  # charts per row on a wide screen
    html_body: str = ""  # already escaped HTML (KPI tiles), shown before the charts


class MissingMart(Exception):
    """A mart this chart reads is not in the database (its part of the project is not built)."""


class NoData(Exception):
    """The mart is there but holds nothing to draw; the message says what is missing."""


# -- helpers ------------------------------------------------------------------------------------

def label(value: Any) -> str:
    """A data value as a plotly label: <, > and & escaped, so plotly shows the text as it is
    instead of reading tags from it (plotly decodes &lt; &gt; &amp; but not &quot;, and quotes
    cannot start markup once < is escaped). For HTML outside plotly use html.escape(quote=True)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE_LABEL
    return html.escape(str(value), quote=False)


def short_label(value: Any, limit: int = 34) -> str:
    text = NONE_LABEL if value is None else str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


def safe_color(value: Any, fallback: str) -> str:
    return value if isinstance(value, str) and HEX_COLOR.match(value) else fallback


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def persona_color(name: str, index: int) -> str:
    return PERSONA_COLORS.get(name, PALETTE[index % len(PALETTE)])


def format_amount(value: float | None, currency: str = "") -> str:
    """1234567 -> '1.23M'; with a currency code appended when known."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            text = f"{value / threshold:.3g}{suffix}"
            break
    else:
        text = f"{value:,.0f}" if magnitude >= 100 else f"{value:,.2f}"
    return f"{text} {currency}".strip()


def mart_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [MARTS, name]).fetchone()
    return bool(found and found[0])


def require(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    for name in names:
        if not mart_exists(con, name):
            raise MissingMart(name)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    """Query result as dicts; decimals become floats (plotly and the formatting expect floats)."""
    result = con.execute(sql, params or [])
    columns = [d[0] for d in result.description]
    return [{c: float(v) if isinstance(v, Decimal) else v for c, v in zip(columns, row, strict=True)}
            for row in result.fetchall()]


def base_layout(fig: go.Figure, height: int, **extra: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "template": "plotly_white", "height": height, "font": {"family": FONT, "size": 13, "color": TEXT},
        "margin": {"l": 60, "r": 24, "t": 48, "b": 56}, "hoverlabel": {"font": {"family": FONT}},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
    }
    fig.update_layout(**{**settings, **extra})
    fig.update_xaxes(gridcolor=GRID, zerolinecolor="#9ca3af", automargin=True)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor="#9ca3af", automargin=True)
    return fig


def subplot_title_style(fig: go.Figure) -> None:
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 14, "color": TEXT, "family": FONT}


# -- context shared by the sections -------------------------------------------------------------

@dataclass
class Context:
    con: duckdb.DuckDBPyConnection
    as_of_date: date | None
    currency: str  # the reporting currency code as found in the data (raw text)

    @property
    def unit(self) -> str:
        """The currency code as a plotly label (escaped)."""
        return label(self.currency) if self.currency else ""

    def money(self, title: str) -> str:
        return f"{title} ({self.unit})" if self.currency else title


# -- persona shares (beside the KPI tiles) ------------------------------------------------------

def persona_shares(ctx: Context) -> Chart:
    return _chart("persona-shares", lambda: _persona_share_figure(ctx), height=230)


def _persona_share_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "kpi_persona_tiles")
    personas = rows(ctx.con, """
        select persona, customers, revenue, period_days, period_start, period_end
        from marts.kpi_persona_tiles
        where period_days = (select max(period_days) from marts.kpi_persona_tiles
                             where period_name <> 'custom')
          and period_name <> 'custom'
    """)
    total_customers = sum(p["customers"] or 0 for p in personas)
    total_revenue = sum(max(p["revenue"] or 0, 0) for p in personas)
    if not total_customers:
        raise NoData("kpi_persona_tiles has no customers.")
    known = [n for n in PERSONA_ORDER if any(p["persona"] == n for p in personas)]
    names = known + sorted({p["persona"] for p in personas} - set(known), key=str)
    by_name = {p["persona"]: p for p in personas}
    first = personas[0]
    bars = ["customers at as-of", f"revenue, last {first['period_days']:,} days"]
    fig = go.Figure()
    for index, name in enumerate(names):
        persona = by_name[name]
        revenue = max(persona["revenue"] or 0, 0)
        shares = [100 * (persona["customers"] or 0) / total_customers,
                  100 * revenue / total_revenue if total_revenue else 0]
        fig.add_trace(go.Bar(
            y=bars, x=shares, orientation="h", name=label(name),
            marker={"color": persona_color(name, index), "line": {"width": 0}},
            text=[f"{share:.0f}%" if share >= 4 else "" for share in shares], textposition="inside",
            insidetextanchor="middle",
            customdata=[f"{persona['customers'] or 0:,} customers", format_amount(revenue, ctx.unit)],
            hovertemplate=f"{label(name)}: %{{x:.1f}}% (%{{customdata}})<extra></extra>"))
    base_layout(fig, 230, barmode="stack", bargap=0.35,
                title={"text": "Personas: share of customers and of revenue", "x": 0.01, "font": {"size": 14}},
                margin={"l": 8, "r": 16, "t": 40, "b": 30},
                legend={"orientation": "h", "y": -0.12, "x": 0, "traceorder": "normal"})
    fig.update_xaxes(range=[0, 100], ticksuffix="%", showgrid=False)
    fig.update_yaxes(autorange="reversed")
    return fig


# -- RFM grid -------------------------------------------------------------------------------------

def rfm_grid(ctx: Context) -> Section:
    section = Section(
        "rfm-grid", "RFM grid: customers and revenue by recency and frequency-monetary score",
        "Each cell is an (R, FM) score pair: up is more recent, right buys more often and more; the "
        "left grid counts customers (with the cell's RFM segment), the right one sums their net "
        "spend to date. Champions sit top right, big customers slipping away bottom right. Hover a cell for its "
        "RFM segment and the exact figures.")
    section.charts.append(_chart("rfm-grid", lambda: _rfm_grid_figure(ctx), height=470))
    return section


def _wrap(text: str, width: int = 16) -> str:
    """Breaks a cell label into lines of about `width` characters (at spaces)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def _rfm_grid_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "customer_rfm")
    cells = rows(ctx.con, """
        select r_score, fm_score, count(*) as customers, sum(monetary) as revenue,
            mode(rfm_segment) as rfm_segment
        from marts.customer_rfm
        group by r_score, fm_score
    """)
    if not cells:
        raise NoData("customer_rfm has no customers (no purchase up to the as-of date).")
    bins = max(max(c["r_score"] for c in cells), max(c["fm_score"] for c in cells))
    scores = list(range(1, bins + 1))
    total_customers = sum(c["customers"] for c in cells)
    total_revenue = sum(c["revenue"] or 0 for c in cells)
    by_cell = {(c["r_score"], c["fm_score"]): c for c in cells}
    fig = make_subplots(1, 2, horizontal_spacing=0.1, subplot_titles=(
        f"Customers (total {total_customers:,})",
        f"Revenue to date (total {format_amount(total_revenue, ctx.unit)})"))
    for column, measure, scale in ((1, "customers", "Blues"), (2, "revenue", "Greens")):
        z, text, segment = [], [], []
        for r in scores:
            z_row, text_row, segment_row = [], [], []
            for fm in scores:
                cell = by_cell.get((r, fm))
                value = cell[measure] if cell else None
                z_row.append(value)
                if value is None:
                    text_row.append("")
                elif measure == "customers":
                    text_row.append(f"<b>{value:,}</b><br><span style='font-size:10px'>"
                                    f"{_wrap(label(cell['rfm_segment']))}</span>")
                else:
                    text_row.append(format_amount(value))
                segment_row.append(label(cell["rfm_segment"]) if cell else "")
            z.append(z_row)
            text.append(text_row)
            segment.append(segment_row)
        unit = "customers" if measure == "customers" else ctx.money("revenue")
        fig.add_trace(go.Heatmap(
            z=z, x=scores, y=scores, text=text, customdata=segment, texttemplate="%{text}",
            colorscale=scale, showscale=False, xgap=2, ygap=2, textfont={"size": 12},
            hovertemplate=f"R %{{y}} · FM %{{x}}: %{{customdata}}<br>%{{z:,.0f}} {unit}<extra></extra>",
        ), 1, column)
    base_layout(fig, 470, margin={"l": 60, "r": 24, "t": 56, "b": 60})
    fig.update_xaxes(title_text="FM score (frequency + monetary; higher = more)", dtick=1)
    fig.update_yaxes(title_text="R score (higher = more recent)", dtick=1, col=1)
    fig.update_yaxes(dtick=1, col=2)
    subplot_title_style(fig)
    return fig


# -- persona movements ----------------------------------------------------------------------------

def persona_movements(ctx: Context) -> Section:
    section = Section(
        "persona-movements", "Persona movements over the last year",
        "Customers flow from their persona a year before the as-of date (left) to their persona "
        "at the as-of date (right); 'new customer' had not bought yet. Band widths are customers; "
        "hover a band for the revenue they brought in between the two dates.")
    chart = _chart("persona-movements", lambda: _movement_figure(ctx, section), height=520)
    section.charts.append(chart)
    return section


def _movement_figure(ctx: Context, section: Section) -> go.Figure:
    require(ctx.con, "rfm_persona_movements")
    dates = rows(ctx.con, """
        with to_as_of as (
            select from_date, to_date from marts.rfm_persona_movements where is_to_as_of
        ),
        target as (select max(to_date) as to_date from to_as_of)
        select
            coalesce(
                max(to_as_of.from_date) filter (where to_as_of.from_date <= target.to_date - interval 12 month),
                min(to_as_of.from_date)
            ) as from_date,
            target.to_date
        from to_as_of, target
        group by target.to_date
    """)
    if not dates or dates[0]["from_date"] is None:
        raise NoData("rfm_persona_movements has no pair ending at the as-of date.")
    from_date, to_date = dates[0]["from_date"], dates[0]["to_date"]
    flows = rows(ctx.con, """
        select from_persona, to_persona, sum(customers) as customers, sum(revenue) as revenue
        from marts.rfm_persona_movements
        where is_to_as_of and from_date = ? and to_date = ?
        group by from_persona, to_persona
    """, [from_date, to_date])
    section.title = f"Persona movements {from_date:%Y-%m-%d} → {to_date:%Y-%m-%d}"
    known = ["new customer", *PERSONA_ORDER]

    def order(names: set[str]) -> list[str]:
        return [n for n in known if n in names] + sorted(n for n in names if n not in known)

    left = order({f["from_persona"] for f in flows})
    right = order({f["to_persona"] for f in flows})
    left_totals = {n: sum(f["customers"] for f in flows if f["from_persona"] == n) for n in left}
    right_totals = {n: sum(f["customers"] for f in flows if f["to_persona"] == n) for n in right}
    total = sum(left_totals.values())
    colors = {n: persona_color(n, i) for i, n in enumerate(order(set(left) | set(right)))}

    def positions(names: list[str], totals: dict[str, int]) -> list[float]:
        ys, cumulative, gap = [], 0.0, 0.02
        usable = 1 - gap * (len(names) - 1)
        for name in names:
            share = usable * totals[name] / total
            ys.append(min(max(cumulative + share / 2, 0.001), 0.999))
            cumulative += share + gap
        return ys

    node_labels = ([f"{label(n)} ({left_totals[n]:,})" for n in left]
                   + [f"{label(n)} ({right_totals[n]:,})" for n in right])
    node_colors = [colors[n] for n in left] + [colors[n] for n in right]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": node_labels, "color": node_colors, "pad": 14, "thickness": 18,
              "x": [0.001] * len(left) + [0.999] * len(right),
              "y": positions(left, left_totals) + positions(right, right_totals),
              "line": {"width": 0},
              "hovertemplate": "%{label}<extra></extra>"},
        link={"source": [left.index(f["from_persona"]) for f in flows],
              "target": [len(left) + right.index(f["to_persona"]) for f in flows],
              "value": [f["customers"] for f in flows],
              "color": [rgba(colors[f["from_persona"]], 0.35) for f in flows],
              "customdata": [format_amount(f["revenue"], ctx.unit) for f in flows],
              "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} customers"
                               "<br>revenue in between: %{customdata}<extra></extra>"},
        textfont={"family": FONT, "size": 13, "color": TEXT},
    ))
    base_layout(fig, 520, margin={"l": 16, "r": 16, "t": 40, "b": 16})
    for x, text, anchor in ((0, f"{from_date:%Y-%m-%d}", "left"), (1, f"{to_date:%Y-%m-%d} (as of)", "right")):
        fig.add_annotation(x=x, y=1.06, xref="paper", yref="paper", text=text, showarrow=False,
                           xanchor=anchor, font={"size": 13, "color": MUTED})
    return fig


# -- spend change and share of wallet -------------------------------------------------------------

def spend_distributions(ctx: Context) -> Section:
    section = Section(
        "spend-distributions", "Spend change and share of wallet by segment",
        "One observation per customer and category. Boxes span the middle half, the line is the "
        "median, the dashed line the mean, and whiskers reach the 5th and 95th percentiles. Spend "
        "change compares the average spend per period with the prior span (0 = unchanged); share "
        "of wallet compares the customer's mix with the segment's (100 = typical for the segment).")
    section.charts.append(_chart("spend-distributions", lambda: _spend_figure(ctx, section), height=460))
    return section


def _spend_figure(ctx: Context, section: Section) -> go.Figure:
    require(ctx.con, "customer_spend_profile")
    windows = rows(ctx.con, """
        select window_name, min(window_start) as window_start, max(window_end) as window_end
        from marts.customer_spend_profile
        where item_level = 'category'
        group by window_name
        order by window_name = 'last_12_months' desc, max(window_end) - min(window_start) desc, window_name
        limit 1
    """)
    if not windows:
        raise NoData("customer_spend_profile has no category rows.")
    window = windows[0]
    stats = rows(ctx.con, """
        with profile as (
            select coalesce(segment, ?) as segment, spend_change_pct, share_of_wallet_pct, total_spend
            from marts.customer_spend_profile
            where item_level = 'category' and window_name = ?
        )
        select
            segment,
            count(spend_change_pct) as change_n,
            quantile_cont(spend_change_pct, [0.05, 0.25, 0.5, 0.75, 0.95]) as change_q,
            avg(spend_change_pct) as change_mean,
            count(share_of_wallet_pct) filter (where total_spend > 0) as wallet_n,
            quantile_cont(share_of_wallet_pct, [0.05, 0.25, 0.5, 0.75, 0.95])
                filter (where total_spend > 0) as wallet_q,
            avg(share_of_wallet_pct) filter (where total_spend > 0) as wallet_mean
        from profile
        group by segment
        order by count(*) desc, segment
    """, [NO_SEGMENT_LABEL, window["window_name"]])
    if not any(s["change_n"] or s["wallet_n"] for s in stats):
        raise NoData(f"No customer has a spend change or share of wallet in window {window['window_name']}.")
    section.title = (f"Spend change and share of wallet by segment "
                     f"({window['window_name']}: {window['window_start']:%Y-%m-%d} to {window['window_end']:%Y-%m-%d})")
    fig = make_subplots(1, 2, horizontal_spacing=0.1, subplot_titles=(
        "Spend change % vs the prior span", "Share of wallet % (100 = typical for the segment)"))
    for index, stat in enumerate(stats):
        color = PALETTE[index % len(PALETTE)]
        name = label(stat["segment"])
        for column, prefix in ((1, "change"), (2, "wallet")):
            quantiles, count = stat[f"{prefix}_q"], stat[f"{prefix}_n"]
            if not count or not quantiles:
                continue
            p05, q1, median, q3, p95 = quantiles
            fig.add_trace(go.Box(
                x=[f"{name}<br><span style='font-size:11px;color:{MUTED}'>n={count:,}</span>"],
                q1=[q1], median=[median], q3=[q3], lowerfence=[p05], upperfence=[p95],
                mean=[stat[f"{prefix}_mean"]], name=name, legendgroup=name, showlegend=column == 1,
                marker_color=color, line={"width": 1.5}, boxpoints=False, width=0.6,
                hovertemplate=(f"<b>{name}</b><br>{count:,} customer-categories<br>"
                               "%{hovertext}<extra></extra>"),
                hovertext=[f"p5 {p05:,.0f}% · q1 {q1:,.0f}% · median {median:,.0f}% · "
                           f"q3 {q3:,.0f}% · p95 {p95:,.0f}%"],
            ), 1, column)
    for column, prefix, why in ((1, "change", "no customer-category has spend in the prior span"),
                                (2, "wallet", "no share of wallet: it needs customers with a segment")):
        if not any(stat[f"{prefix}_n"] for stat in stats):
            left, right = fig.layout["xaxis" if column == 1 else f"xaxis{column}"].domain
            fig.add_annotation(text=why, showarrow=False, xref="paper", yref="paper",
                               x=(left + right) / 2, y=0.5, xanchor="center", font={"color": MUTED, "size": 13})
    fig.add_hline(y=0, line={"dash": "dot", "color": MUTED, "width": 1}, row=1, col=1)
    fig.add_hline(y=100, line={"dash": "dot", "color": MUTED, "width": 1}, row=1, col=2)
    base_layout(fig, 460, showlegend=False)
    fig.update_yaxes(title_text="spend change %", ticksuffix="%", row=1, col=1)
    fig.update_yaxes(title_text="share of wallet %", ticksuffix="%", row=1, col=2)
    fig.update_xaxes(title_text="segment")
    subplot_title_style(fig)
    return fig


# -- classification bands -------------------------------------------------------------------------

CLASSIFICATION_TITLES = {
    "risk_score": "Risk score",
    "risk_change": "Risk change",
    "revenue_rank": "Revenue rank",
    "revenue_change": "Revenue change",
    "revenue_share": "Revenue share",
    "order_count": "Order count",
}


def classification_bands(ctx: Context) -> Section:
    section = Section(
        "classification-bands", "Classification bands by segment",
        "For each classification, the customers of each segment by band at the as-of date, in the "
        "band colours of classification_bands. 'not banded' customers have no value or miss the "
        "band set's minimum spend or orders.", columns=3)
    try:
        require(ctx.con, "customer_classifications")
        counts = rows(ctx.con, """
            select classification_type, segment, is_eligible, band_order, band_label, band_color,
                count(*) as customers
            from marts.customer_classifications
            group by all
        """)
    except MissingMart as exc:
        section.charts.append(Chart("classification-bands", note=_missing_note(str(exc))))
        return section
    types = [t for t in CLASSIFICATION_TITLES if any(c["classification_type"] == t for c in counts)]
    types += sorted({c["classification_type"] for c in counts} - set(types))
    if not types:
        section.charts.append(Chart("classification-bands", note="customer_classifications has no rows."))
        return section
    for kind in types:
        key = "classification-" + re.sub(r"[^a-z0-9]+", "-", str(kind).lower())
        section.charts.append(_chart(key, lambda kind=kind: _band_figure(
            kind, [c for c in counts if c["classification_type"] == kind]), height=380))
    return section


def _band_figure(kind: str, counts: list[dict[str, Any]]) -> go.Figure:
    totals: dict[str, int] = {}
    for c in counts:
        totals[c["segment"]] = totals.get(c["segment"], 0) + c["customers"]
    segments = sorted(totals, key=lambda s: (-totals[s], str(s)))
    bands = sorted({(c["band_order"], c["band_label"], c["band_color"]) for c in counts if c["is_eligible"]},
                   key=lambda b: (b[0], str(b[1]), str(b[2])))
    fig = go.Figure()
    for index, (band_order, band_label, band_color) in enumerate(bands):
        values = {c["segment"]: c["customers"] for c in counts if c["is_eligible"]
                  and (c["band_order"], c["band_label"], c["band_color"]) == (band_order, band_label, band_color)}
        _add_band_bar(fig, segments, values, totals, label(band_label),
                      safe_color(band_color, PALETTE[index % len(PALETTE)]))
    not_banded: dict[str, int] = {}
    for c in counts:
        if not c["is_eligible"]:
            not_banded[c["segment"]] = not_banded.get(c["segment"], 0) + c["customers"]
    if not_banded:
        _add_band_bar(fig, segments, not_banded, totals, "not banded", NOT_BANDED)
    title = CLASSIFICATION_TITLES.get(kind, label(kind))
    base_layout(fig, 380, barmode="stack", title={"text": title, "x": 0.01, "font": {"size": 15}},
                margin={"l": 56, "r": 12, "t": 44, "b": 40}, bargap=0.3,
                legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0, "font": {"size": 11},
                        "traceorder": "normal"})
    fig.update_yaxes(title_text="customers")
    return fig


def _add_band_bar(fig: go.Figure, segments: list[str], values: dict[str, int], totals: dict[str, int],
                  name: str, color: str) -> None:
    y = [values.get(s, 0) for s in segments]
    share = [100 * v / totals[s] if totals[s] else 0 for v, s in zip(y, segments, strict=True)]
    fig.add_trace(go.Bar(
        x=[label(s) for s in segments], y=y, name=name, marker={"color": color, "line": {"width": 0}},
        customdata=share,
        hovertemplate=f"%{{x}}<br>{name}: %{{y:,}} customers (%{{customdata:.0f}}%)<extra></extra>"))


# -- risk over time -------------------------------------------------------------------------------

def risk_over_time(ctx: Context) -> Section:
    section = Section(
        "risk-over-time", "Risk score over time for the top at-risk valuable customers",
        "The ten customers with the highest risk score at the as-of date among the top 20% of "
        "their segment by revenue (revenue rank ≤ 20), month-end by month-end over the last two "
        "years. Risk score = days since the last order / the customer's usual days between orders: "
        "1 means an order is due now, 3 means three usual gaps have passed. Background bands are "
        "the risk_score bands.")
    section.charts.append(_chart("risk-over-time", lambda: _risk_figure(ctx), height=480))
    return section


def _risk_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "customer_classifications", "customer_classification_history")
    top = rows(ctx.con, """
        with current_risk as (
            select customer_id, segment, metric_value as risk_score, as_of_date, revenue
            from marts.customer_classifications
            where classification_type = 'risk_score' and metric_value is not null
        ),
        valuable as (
            select customer_id
            from marts.customer_classifications
            where classification_type = 'revenue_rank' and metric_value <= 20 and revenue > 0
        )
        select current_risk.*
        from current_risk
        inner join valuable on current_risk.customer_id = valuable.customer_id
        order by current_risk.risk_score desc, current_risk.revenue desc, current_risk.customer_id
        limit 10
    """)
    if not top:
        raise NoData("No customer in the top 20% by revenue has a risk score.")
    ids = [t["customer_id"] for t in top]
    marks = ", ".join("?" for _ in ids)
    history = rows(ctx.con, f"""
        select customer_id, month_end_date, metric_value
        from marts.customer_classification_history
        where classification_type = 'risk_score' and metric_value is not null
            and customer_id in ({marks})
            and month_end_date >= (select max(month_end_date) from marts.customer_classification_history)
                - interval 24 month
        order by customer_id, month_end_date
    """, ids)
    fig = go.Figure()
    top_value = max(t["risk_score"] for t in top)
    for index, customer in enumerate(top):
        points = [(h["month_end_date"], h["metric_value"])
                  for h in history if h["customer_id"] == customer["customer_id"]]
        as_of = customer["as_of_date"]
        if as_of and (not points or points[-1][0] < as_of):
            points.append((as_of, customer["risk_score"]))
        top_value = max([top_value, *(p[1] for p in points)])
        name = f"{label(customer['customer_id'])} ({label(customer['segment'])})"
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
            line={"color": PALETTE[index % len(PALETTE)], "width": 2}, marker={"size": 5},
            customdata=[format_amount(customer["revenue"], ctx.unit)] * len(points),
            hovertemplate=f"{name}<br>%{{x|%Y-%m-%d}}: risk %{{y:.2f}}<br>"
                          "revenue in the last timeframe: %{customdata}<extra></extra>"))
    _add_risk_bands(ctx, fig, top_value)
    base_layout(fig, 480, legend={"orientation": "v", "x": 1.02, "y": 1, "font": {"size": 12}},
                margin={"l": 60, "r": 16, "t": 24, "b": 48})
    fig.update_yaxes(title_text="risk score (usual gaps since last order)", rangemode="tozero")
    fig.update_xaxes(title_text="month-end")
    return fig


def _add_risk_bands(ctx: Context, fig: go.Figure, top_value: float) -> None:
    """Shades the risk_score bands of classification_bands (segment '*') behind the lines and
    names them in one line above the plot."""
    try:
        bands = rows(ctx.con, """
            select band_order, upper_bound, label, color
            from seeds.classification_bands
            where classification_type = 'risk_score' and segment = '*'
            order by band_order
        """)
    except duckdb.Error:
        return
    lower, key = 0.0, []
    for band in bands:
        upper = band["upper_bound"] if band["upper_bound"] is not None else max(top_value * 1.05, lower + 1)
        color = safe_color(band["color"], "#9ca3af")
        fig.add_hrect(y0=lower, y1=upper, fillcolor=color, opacity=0.1, line_width=0, layer="below")
        span = f"≤ {band['upper_bound']:g}" if band["upper_bound"] is not None else f"> {lower:g}"
        key.append(f"<span style='color:{color}'>■ {label(band['label'])} {span}</span>")
        lower = float(upper)
    if key:
        fig.add_annotation(x=0, y=1.02, xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                           showarrow=False, text="risk bands: " + " · ".join(key),
                           font={"size": 12, "color": MUTED})


# -- CLV ------------------------------------------------------------------------------------------

# Display names of the purchase models and naive baselines of clv_backtest and
# clv_model_comparison, in table and legend order; an unknown model keeps its id.
CLV_MODEL_NAMES = {
    "bgnbd": "BG/NBD",
    "mbgnbd": "MBG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "baseline_calibration_rate": "Baseline: calibration rate",
    "baseline_last_period": "Baseline: last period",
}
CLV_MODEL_COLORS = {"bgnbd": "#2563eb", "mbgnbd": "#10b981", "pareto_nbd": "#f97316",
                    "baseline_calibration_rate": "#64748b", "baseline_last_period": "#a855f7"}
CLV_BASELINE_DASH = {"baseline_calibration_rate": "dot", "baseline_last_period": "dash"}
# The calibration chart lists a baseline in the legend only (a click shows it) when its highest
# value passes this multiple of the highest actual or purchase model value.
CLV_BASELINE_MAX_SCALE = 1.75
# customer_value.model_status when every purchase model sits at its no-dropout limit.
NO_DROPOUT_STATUS_PREFIX = "fitted (no dropout"
# The columns of the model comparison table: metric of clv_model_comparison, header, how the
# value is shown, which value is best ('abs': closest to 0, 'min', 'max', None: no best).
CLV_TABLE_METRICS: list[tuple[str, str, str, str | None]] = [
    ("holdout_predicted_orders", "Predicted purchase days", "count", None),
    ("holdout_orders_error_pct", "Total error", "pct", "abs"),
    ("holdout_spend_error_pct", "Spend error", "pct", "abs"),
    ("mae_orders", "MAE", "decimal", "min"),
    ("rmse_orders", "RMSE", "decimal", "min"),
    ("spearman_orders", "Spearman", "decimal", "max"),
    ("top_decile_capture", "Top-decile capture", "share", "max"),
    ("normalized_gini", "Normalized Gini", "decimal", "max"),
    ("bic", "BIC", "decimal1", "min"),
]
# Metrics of the calibration fit's likelihood, which a naive baseline does not have.
LIKELIHOOD_METRICS = {"log_likelihood", "bic"}
# The P(alive) map's recency rows: equal steps of days since the last purchase day, the
# smallest of these steps that gives at most CLV_RECENCY_MAX_ROWS rows.
CLV_RECENCY_STEPS = (30, 60, 90, 180, 365, 730)
CLV_RECENCY_MAX_ROWS = 8
# segment_summary dimensions shown with the interval of predicted revenue, in this order.
CLV_DIMENSIONS = {"all": "all", "segment": "segment", "predicted_spend_tier": "spend tier", "persona": "persona"}
CLV_DIMENSION_COLORS = {"all": "#1d4ed8", "segment": "#0ea5e9", "predicted_spend_tier": "#60a5fa",
                        "persona": "#10b981"}


def clv(ctx: Context) -> Section:
    section = Section(
        "clv", "Customer lifetime value: prediction, accuracy and uncertainty",
        "Top left: customers by predicted CLV (expected spend over the next clv_horizon_days, "
        "undiscounted) in ranges of 1-2-5 steps (each bar covers 2x or 2.5x the one before), coloured "
        "by predicted spend tier. Top right: the predicted revenue of all customers and of each "
        "segment, spend tier and persona over the same horizon, with its 80% interval (the "
        "parameter uncertainty of the fits, not the randomness of each customer's purchases). The "
        "table: each purchase model and two naive baselines refitted on the earlier part of the "
        "history (calibration) and scored on the rest (holdout); the chosen model, which scores "
        "the customers, is highlighted and the best value of each column is bold. Bottom left: "
        "mean holdout purchase days per customer by repeat purchase days in the calibration "
        "period, actual (bars) against each model (lines). Bottom right: mean P(alive) at the "
        "as-of date by repeat purchase days (frequency) and by days since the last purchase day "
        "(recency: as-of minus last_order_date, in equal steps); red cells hold customers the "
        "model believes have probably stopped buying, so a customer's churn risk grows as they "
        "go down a column.", columns=2)
    section.html_body = _no_dropout_html(ctx)
    section.charts.append(_chart("clv-distribution", lambda: _clv_figure(ctx), height=440))
    section.charts.append(_chart("clv-revenue-interval", lambda: _revenue_interval_figure(ctx), height=440))
    section.charts.append(_table("clv-model-comparison", lambda: _comparison_table(ctx)))
    section.charts.append(_chart("clv-backtest", lambda: _backtest_figure(ctx), height=500))
    section.charts.append(_chart("clv-p-alive", lambda: _p_alive_figure(ctx), height=500))
    return section


def mart_columns(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    """The column names of a mart (empty when it does not exist)."""
    return {r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [MARTS, name]).fetchall()}


def clv_model_name(model: Any) -> str:
    """A model's display name as plain text (escape it where it is used)."""
    return CLV_MODEL_NAMES.get(model, NONE_LABEL if model is None else str(model))


def _clv_model_order(model: Any) -> tuple[int, str]:
    names = list(CLV_MODEL_NAMES)
    return (names.index(model) if model in names else len(names), str(model))


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _clv_status(ctx: Context) -> str:
    """The most common model_status of customer_value: why there is no prediction."""
    try:
        found = rows(ctx.con, """
            select model_status, count(*) as customers from marts.customer_value
            group by model_status order by customers desc, model_status limit 1
        """)
    except duckdb.Error:
        return "customer_value cannot be read"
    return str(found[0]["model_status"]) if found else "customer_value is empty"


def _no_dropout_html(ctx: Context) -> str:
    """The explanation shown above the CLV charts when every purchase model sits at its
    no-dropout limit (customer_value.model_status 'fitted (no dropout detected: ...)'), so that
    a churn risk of 0 for everyone reads as a finding rather than as a blank."""
    if not mart_exists(ctx.con, "customer_value"):
        return ""
    try:
        found = rows(ctx.con, """
            select
                count(*) filter (where starts_with(model_status, ?)) as no_dropout,
                count(*) filter (where p_alive is not null) as scored
            from marts.customer_value
        """, [NO_DROPOUT_STATUS_PREFIX])
    except duckdb.Error:
        return ""
    if not found or not found[0]["no_dropout"]:
        return ""
    customers = int(found[0]["no_dropout"])
    statuses = ""
    if mart_exists(ctx.con, "clv_model_parameters"):
        fits = rows(ctx.con, """
            select model, min(status) as status
            from marts.clv_model_parameters
            where model <> 'gamma_gamma'
            group by model
        """)
        fits.sort(key=lambda f: _clv_model_order(f["model"]))
        statuses = " · ".join(f"{html.escape(clv_model_name(f['model']))}: {html.escape(str(f['status']))}"
                              for f in fits)
    text = (
        f"<p><strong>No dropout detected: churn risk is 0 for all {customers:,} customers.</strong> "
        "Each purchase model was fitted to the whole history, and each one's likelihood is highest "
        "at its no-dropout limit, where nobody ever stops buying: BG/NBD reaches it as the NBD "
        "(its dropout probability goes to 0), and MBG/NBD and Pareto/NBD run to the same limit, "
        "so they are reported as not converged and never chosen. In plain words, the data show no "
        "customer leaving: the silences since customers' last purchases are explained by slow "
        "buyers buying slowly, not by buyers who left. So P(alive) is 1 and churn risk 0 for "
        "everyone (the P(alive) map is 1 in every cell and segment_summary's expected returning "
        "customers equal the customer count), and predicted purchases follow each customer's own "
        "rate. This is what the data say, not a failed fit. To find customers who are overdue, "
        "use the risk score (days since the last order / the usual gap between orders) in the "
        "classification and risk sections.</p>")
    if statuses:
        text += f'<p class="fits">Fits on the history up to as-of: {statuses}</p>'
    return f'<div class="callout" data-callout="clv-no-dropout">{text}</div>'


def _clv_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "customer_value")
    buckets = rows(ctx.con, """
        with scored as (
            select
                predicted_clv,
                coalesce(predicted_spend_tier, ?) as tier,
                floor(log10(greatest(predicted_clv, 1))) as decade
            from marts.customer_value
            where predicted_clv is not null
        ),
        bucketed as (
            -- 1-2-5 steps: bucket 3 x decade + 0 (1..2), 1 (2..5) or 2 (5..10); -1 below 1
            select
                predicted_clv,
                tier,
                case
                    when predicted_clv < 1 then -1
                    else 3 * decade + case
                        when predicted_clv / power(10, decade) < 2 then 0
                        when predicted_clv / power(10, decade) < 5 then 1
                        else 2
                    end
                end as bucket
            from scored
        )
        select bucket, tier, count(*) as customers, sum(predicted_clv) as predicted_clv
        from bucketed
        group by bucket, tier
        order by bucket, tier
    """, [NONE_LABEL])
    if not buckets:
        raise NoData(f"No predicted CLV in this build ({_clv_status(ctx)}).")
    found = sorted({int(b["bucket"]) for b in buckets})
    positive = [k for k in found if k >= 0]
    keys = ([-1] if -1 in found else []) + (list(range(positive[0], positive[-1] + 1)) if positive else [])
    names = ["< 1" if k == -1 else f"{_clv_edge(k)}–{_clv_edge(k + 1)}" for k in keys]
    fig = go.Figure()
    tiers = ["low", "medium", "high"] + sorted({b["tier"] for b in buckets} - {"low", "medium", "high"})
    for index, tier in enumerate(tiers):
        by_key = {b["bucket"]: b for b in buckets if b["tier"] == tier}
        if not by_key:
            continue
        fig.add_trace(go.Bar(
            x=names, y=[by_key[k]["customers"] if k in by_key else 0 for k in keys], name=label(tier),
            offsetgroup="clv",
            marker_color=TIER_COLORS.get(tier, PALETTE[index % len(PALETTE)]),
            customdata=[format_amount(by_key[k]["predicted_clv"], ctx.unit) if k in by_key else "" for k in keys],
            hovertemplate="%{x}<br>%{y:,} customers, predicted CLV %{customdata}<extra>" + label(tier) + "</extra>"))
    base_layout(fig, 440, barmode="stack", bargap=0.08,
                title={"text": "Predicted CLV distribution", "x": 0.01, "font": {"size": 15}},
                legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom",
                        "title": {"text": "spend tier "}},
                margin={"l": 60, "r": 16, "t": 56, "b": 60})
    fig.update_xaxes(title_text=ctx.money("predicted CLV"), tickangle=-40, tickfont={"size": 10})
    fig.update_yaxes(title_text="customers")
    return fig


def _clv_edge(bucket: int) -> str:
    """Lower edge of a 1-2-5 bucket: 0 -> 1, 1 -> 2, 2 -> 5, 3 -> 10, ..."""
    value = (1, 2, 5)[bucket % 3] * 10 ** (bucket // 3)
    return format_amount(value).replace(".00", "")


# -- CLV: predicted revenue and its interval

def _revenue_interval_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "segment_summary")
    if not {"predicted_revenue_low", "predicted_revenue_high"} <= mart_columns(ctx.con, "segment_summary"):
        raise NoData("segment_summary in this build has no interval of predicted revenue "
                      "(predicted_revenue_low, predicted_revenue_high): run `spendlens build` with this version.")
    found = rows(ctx.con, """
        select dimension, dimension_value, customers, scored_customers,
            predicted_revenue_next_horizon as predicted, predicted_revenue_low as low,
            predicted_revenue_high as high, horizon_days
        from marts.segment_summary
        where predicted_revenue_next_horizon is not null
    """)
    if not found:
        raise NoData(f"No predicted revenue in this build ({_clv_status(ctx)}).")
    dimensions = [d for d in CLV_DIMENSIONS if any(r["dimension"] == d for r in found)]
    dimensions += sorted({r["dimension"] for r in found} - set(dimensions), key=str)
    tier_order = ["high", "medium", "low"]
    shown: list[dict[str, Any]] = []
    for dimension in dimensions:
        group = [r for r in found if r["dimension"] == dimension]
        if dimension != "all" and len(group) < 2:
            continue  # one value (e.g. everybody '(no segment)') repeats the 'all' row
        if dimension == "predicted_spend_tier":
            group.sort(key=lambda r: (tier_order.index(r["dimension_value"]) if r["dimension_value"] in tier_order
                                      else len(tier_order), str(r["dimension_value"])))
        elif dimension == "persona":
            group.sort(key=lambda r: (PERSONA_ORDER.index(r["dimension_value"]) if r["dimension_value"]
                                      in PERSONA_ORDER else len(PERSONA_ORDER), str(r["dimension_value"])))
        else:
            group.sort(key=lambda r: (-r["predicted"], str(r["dimension_value"])))
        shown.extend(group)
    names = [_revenue_row_label(r) for r in shown]
    fig = go.Figure()
    for dimension in dict.fromkeys(r["dimension"] for r in shown):
        part = [(n, r) for n, r in zip(names, shown, strict=True) if r["dimension"] == dimension]
        fig.add_trace(go.Bar(
            x=[r["predicted"] for _, r in part], y=[n for n, _ in part], orientation="h",
            name=label(CLV_DIMENSIONS.get(dimension, dimension)), meta=label(dimension),
            marker_color=CLV_DIMENSION_COLORS.get(dimension, PALETTE[len(fig.data) % len(PALETTE)]),
            text=[format_amount(r["predicted"]) for _, r in part], textposition="inside",
            insidetextanchor="start", textfont={"color": "#ffffff", "size": 11},
            customdata=[[r["low"], r["high"], r["scored_customers"] or 0, format_amount(r["low"], ctx.unit),
                         format_amount(r["high"], ctx.unit), format_amount(r["predicted"], ctx.unit)]
                        for _, r in part],
            hovertemplate="%{y}: predicted %{customdata[5]}<br>80% interval %{customdata[3]} to "
                          "%{customdata[4]}<br>%{customdata[2]:,} customers scored<extra></extra>"))
    # the intervals: one segment from low to high per row, with end ticks
    xs: list[float | None] = []
    ys: list[str | None] = []
    for name, r in zip(names, shown, strict=True):
        xs += [r["low"], r["high"], None]
        ys += [name, name, None]
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines+markers", name="80% interval", meta="interval",
        line={"color": TEXT, "width": 2}, marker={"symbol": "line-ns-open", "size": 12, "color": TEXT,
                                                  "line": {"width": 2}},
        hoverinfo="skip"))
    horizon = shown[0].get("horizon_days")
    days = f"next {int(horizon):,} days" if isinstance(horizon, int | float) else "next horizon"
    height = max(300, 140 + 26 * len(shown))
    base_layout(fig, height, bargap=0.3, showlegend=False,
                title={"text": f"Predicted revenue, {days}, with its 80% interval"
                               f"<br><span style='font-size:12px;color:{MUTED}'>bar = estimate, whiskers = "
                               "10th to 90th percentile over parameter draws</span>",
                       "x": 0.01, "font": {"size": 15}},
                margin={"l": 8, "r": 24, "t": 72, "b": 48})
    fig.update_xaxes(title_text=ctx.money("predicted revenue"), rangemode="tozero")
    fig.update_yaxes(type="category", autorange="reversed", tickfont={"size": 12})
    return fig


def _revenue_row_label(row: dict[str, Any]) -> str:
    if row["dimension"] == "all":
        return "<b>all customers</b>"
    dimension = CLV_DIMENSIONS.get(row["dimension"], str(row["dimension"]))
    return f"{short_label(row['dimension_value'], 30)} <span style='color:{MUTED}'>· {label(dimension)}</span>"


# -- CLV: model comparison table

def _comparison_table(ctx: Context) -> str:
    """The accuracy of every model and baseline on the backtest as an HTML table (escaped):
    one row per model, one column per key metric of clv_model_comparison; each value cell
    carries the mart's value in data-value."""
    require(ctx.con, "clv_model_comparison")
    found = rows(ctx.con, """
        select model, model_kind, metric, metric_label, value, is_chosen, model_status,
            calibration_end_date, holdout_end_date, holdout_days
        from marts.clv_model_comparison
    """)
    if not found:
        raise NoData("clv_model_comparison is empty.")
    models = sorted({r["model"] for r in found}, key=_clv_model_order)
    values = {(r["model"], r["metric"]): _finite(r["value"]) for r in found}
    labels = {r["metric"]: r["metric_label"] for r in found}
    first = {m: next(r for r in found if r["model"] == m) for m in models}
    chosen = [m for m in models if any(r["is_chosen"] for r in found if r["model"] == m)]
    if not any(values.get((m, metric)) is not None for m in models for metric, *_ in CLV_TABLE_METRICS):
        raise NoData(f"No model could be backtested: {first[models[0]]['model_status']}.")
    best: dict[str, set[str]] = {}
    for metric, _, _, rule in CLV_TABLE_METRICS:
        scored = {m: values[(m, metric)] for m in models if values.get((m, metric)) is not None}
        if rule is None or len(scored) < 2:
            continue
        key: Callable[[float], float] = {"abs": abs, "min": lambda v: v, "max": lambda v: -v}[rule]
        top = min(key(v) for v in scored.values())
        best[metric] = {m for m, v in scored.items() if abs(key(v) - top) <= 1e-12 * max(1.0, abs(top))}
    head = "".join(
        f'<th scope="col" class="num" data-metric="{html.escape(metric)}" '
        f'title="{html.escape(str(labels.get(metric) or metric), quote=True)}">{html.escape(title)}</th>'
        for metric, title, _, _ in CLV_TABLE_METRICS)
    body = []
    for model in models:
        row = first[model]
        is_chosen = model in chosen
        kind = str(row["model_kind"] or "")
        badge = ' <span class="badge">chosen</span>' if is_chosen else ""
        status = str(row["model_status"]) if row["model_status"] is not None else NONE_LABEL
        shown_status = "naive baseline" if status == "baseline" else status
        cells = []
        for metric, _, kind_of_value, _ in CLV_TABLE_METRICS:
            value = values.get((model, metric))
            classes = "num best" if model in best.get(metric, set()) else "num"
            if value is None:
                text = "—" if metric in LIKELIHOOD_METRICS and kind == "naive baseline" else "n/a"
                cells.append(f'<td class="{classes} na" data-metric="{html.escape(metric)}">{text}</td>')
            else:
                cells.append(f'<td class="{classes}" data-metric="{html.escape(metric)}" '
                             f'data-value="{value!r}">{_metric_text(value, kind_of_value)}</td>')
        chosen_class = ' class="chosen"' if is_chosen else ""
        body.append(
            f'<tr data-model="{html.escape(str(model), quote=True)}"{chosen_class}>'
            f'<th scope="row">{html.escape(clv_model_name(model))}{badge}'
            f'<div class="kind">{html.escape(kind)}</div></th>'
            f'<td class="status">{html.escape(shown_status)}</td>{"".join(cells)}</tr>')
    reference = chosen[0] if chosen else models[0]
    actual_orders = next((values.get((m, "holdout_actual_orders")) for m in [reference, *models]
                          if values.get((m, "holdout_actual_orders")) is not None), None)
    actual_spend = next((values.get((m, "holdout_actual_spend")) for m in [reference, *models]
                         if values.get((m, "holdout_actual_spend")) is not None), None)
    split = first[reference]
    caption = "Model comparison on the backtest"
    if isinstance(split["calibration_end_date"], date) and isinstance(split["holdout_end_date"], date):
        caption += (f": fitted on the history up to {split['calibration_end_date']:%Y-%m-%d}, scored on the "
                    f"{split['holdout_days']:,} days to {split['holdout_end_date']:%Y-%m-%d}")
    if actual_orders is not None:
        caption += f" ({actual_orders:,.0f} actual purchase days"
        caption += f", {format_amount(actual_spend, ctx.currency)} actual spend)" if actual_spend is not None else ")"
    chosen_text = (f"{clv_model_name(chosen[0])} is the chosen model: it scores customer_value "
                   "(with clv_purchase_model auto, the lowest MAE among the models that converged). "
                   if chosen else "No model is chosen. ")
    return (
        f'<h3>{html.escape(caption)}</h3>'
        f'<div class="table-scroll"><table class="data metrics">'
        f'<thead><tr><th scope="col">model</th><th scope="col">status</th>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table></div>'
        f'<p class="legend">{html.escape(chosen_text)}Bold: the best of the column. Lower is better for '
        "the total and spend error (predicted vs actual holdout total, %), MAE and RMSE (per customer, "
        "purchase days) and BIC (calibration fit; purchase models only). Higher is better for Spearman "
        "(rank correlation of predicted and actual purchase days), top-decile capture (share of holdout "
        "spend made by the 10% predicted highest) and normalized Gini (1 = perfect ordering by spend, "
        "0 = random). Hover a column header for its definition.</p>")


def _metric_text(value: float, kind: str) -> str:
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "pct":
        return f"{value:+.1f}%"
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "decimal1":
        return f"{value:,.1f}"
    return f"{value:.3f}"


# -- CLV: calibration chart (the backtest per model)

def _backtest_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "clv_backtest")
    columns = mart_columns(ctx.con, "clv_backtest")
    # builds before clv_backtest had one row set per model: one BG/NBD backtest
    model = "model" if "model" in columns else "'bgnbd'"
    kind = "model_kind" if "model_kind" in columns else "'purchase model'"
    chosen = "is_chosen" if "is_chosen" in columns else "true"
    buckets = rows(ctx.con, f"""
        select {model} as model, {kind} as model_kind, {chosen} as is_chosen, bucket, bucket_order,
            customers, actual_orders, predicted_orders, error_pct, actual_orders_per_customer,
            predicted_orders_per_customer, calibration_end_date, holdout_end_date, model_status
        from marts.clv_backtest
        order by bucket_order, bucket
    """)
    if not buckets:
        raise NoData("clv_backtest is empty.")
    models = sorted({b["model"] for b in buckets}, key=_clv_model_order)
    by_model = {m: [b for b in buckets if b["model"] == m] for m in models}  # one model's rows at a time
    drawn = [m for m in models
             if any(b["predicted_orders_per_customer"] is not None for b in by_model[m] if b["bucket"] != "total")]
    purchase = [m for m in drawn if by_model[m][0]["model_kind"] != "naive baseline"]
    if not purchase:
        status = next((b["model_status"] for b in buckets if b["model_kind"] != "naive baseline"), None)
        raise NoData(f"No purchase model could be backtested: {status or 'no purchase model in clv_backtest'}.")
    chosen_models = [m for m in purchase if by_model[m][0]["is_chosen"]]
    reference = chosen_models[0] if chosen_models else purchase[0]
    per_bucket = [b for b in by_model[reference] if b["bucket"] != "total"]
    x = [label(b["bucket"]) for b in per_bucket]
    # A baseline far off the scale of the actual and the models would squash them: then it is
    # listed in the legend only (CLV_BASELINE_MAX_SCALE).
    scale = max([0.0, *(_finite(b["actual_orders_per_customer"]) or 0.0 for b in per_bucket),
                 *(_finite(b["predicted_orders_per_customer"]) or 0.0 for m in purchase for b in by_model[m]
                   if b["bucket"] != "total")])
    fig = go.Figure(go.Bar(
        x=x, y=[b["actual_orders_per_customer"] for b in per_bucket], name="actual", meta="actual",
        marker_color="#cbd5e1", customdata=[b["customers"] for b in per_bucket],
        hovertemplate="%{x} repeat days: actual %{y:.2f} per customer (%{customdata:,} customers)<extra></extra>"))
    for m in drawn:
        found = {label(b["bucket"]): b for b in by_model[m] if b["bucket"] != "total"}
        is_baseline = by_model[m][0]["model_kind"] == "naive baseline"
        is_chosen = m in chosen_models
        name = label(clv_model_name(m)) + (" (chosen)" if is_chosen else "")
        y = [found[k]["predicted_orders_per_customer"] if k in found else None for k in x]
        off_scale = is_baseline and max((_finite(v) or 0.0 for v in y), default=0.0) > CLV_BASELINE_MAX_SCALE * scale
        fig.add_trace(go.Scatter(
            x=x, y=y, name=name, meta=label(m), mode="lines+markers", visible="legendonly" if off_scale else True,
            line={"color": CLV_MODEL_COLORS.get(m, PALETTE[len(fig.data) % len(PALETTE)]),
                  "width": 1.6 if is_baseline else (3.5 if is_chosen else 2.2),
                  "dash": CLV_BASELINE_DASH.get(m, "dot") if is_baseline else "solid"},
            marker={"size": 5 if is_baseline else 7},
            hovertemplate=f"%{{x}} repeat days: {name} %{{y:.2f}} per customer<extra></extra>"))
    total = next((b for b in by_model[reference] if b["bucket"] == "total"), None)
    notes: list[str] = []
    if total and isinstance(total["calibration_end_date"], date) and isinstance(total["holdout_end_date"], date):
        error = f" ({total['error_pct']:+.1f}%)" if _finite(total.get("error_pct")) is not None else ""
        notes.append(f"calibration to {total['calibration_end_date']:%Y-%m-%d}, holdout to "
                     f"{total['holdout_end_date']:%Y-%m-%d}")
        notes.append(f"{label(clv_model_name(reference))}: {total['predicted_orders']:,.0f} predicted vs "
                     f"{total['actual_orders']:,} actual purchase days{error}")
    missing = [m for m in models if m not in drawn]
    if missing:
        notes.append("no prediction (see the table): " + ", ".join(label(clv_model_name(m)) for m in missing))
    subtitle = "".join(f"<br><span style='font-size:12px;color:{MUTED}'>{n}</span>" for n in notes)
    base_layout(fig, 500, bargap=0.25,
                title={"text": "Calibration: holdout purchase days per customer" + subtitle, "x": 0.01,
                       "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 14}, "font": {"size": 15}},
                legend={"orientation": "h", "yref": "container", "y": 0.01, "yanchor": "bottom", "x": 0,
                        "font": {"size": 11}},
                margin={"l": 60, "r": 16, "t": 52 + 19 * len(notes), "b": 130})
    fig.update_xaxes(title_text="repeat purchase days in the calibration period", type="category",
                     tickmode="array", tickvals=x,
                     ticktext=[f"{k}<br><span style='font-size:10px;color:{MUTED}'>{b['customers']:,}</span>"
                               for k, b in zip(x, per_bucket, strict=True)])
    fig.update_yaxes(title_text="holdout purchase days per customer", rangemode="tozero")
    return fig


# -- CLV: P(alive) by frequency and recency

def clv_recency_step(max_days: int) -> int:
    """Days per recency row of the P(alive) map: the smallest of CLV_RECENCY_STEPS giving at
    most CLV_RECENCY_MAX_ROWS rows for 0..max_days (whole years beyond)."""
    for step in CLV_RECENCY_STEPS:
        if max_days // step + 1 <= CLV_RECENCY_MAX_ROWS:
            return step
    return 365 * math.ceil((max_days + 1) / (365 * CLV_RECENCY_MAX_ROWS))


def _p_alive_figure(ctx: Context) -> go.Figure:
    require(ctx.con, "customer_value")
    usable = """p_alive is not null and frequency is not null and t_days is not null
                and recency_days is not null"""
    span = rows(ctx.con, f"""
        select count(*) as customers, max(t_days - recency_days) as max_days,
            min(p_alive) as low, max(p_alive) as high,
            count(*) filter (where starts_with(model_status, ?)) as no_dropout
        from marts.customer_value
        where {usable}
    """, [NO_DROPOUT_STATUS_PREFIX])
    if not span or not span[0]["customers"]:
        raise NoData(f"No P(alive) in this build ({_clv_status(ctx)}).")
    facts = span[0]
    step = clv_recency_step(int(facts["max_days"]))
    cells = rows(ctx.con, f"""
        select least(frequency, 7) as frequency_bucket, (t_days - recency_days) // ? as recency_bucket,
            count(*) as customers, avg(p_alive) as p_alive
        from marts.customer_value
        where {usable}
        group by all
    """, [step])
    by_cell = {(int(c["frequency_bucket"]), int(c["recency_bucket"])): c for c in cells}
    frequencies = list(range(8))
    recencies = list(range(int(facts["max_days"]) // step + 1))
    x = [str(f) if f < 7 else "7+" for f in frequencies]
    y = [f"{r * step:,}–{(r + 1) * step - 1:,}" for r in recencies]
    z = [[by_cell[(f, r)]["p_alive"] if (f, r) in by_cell else None for f in frequencies] for r in recencies]
    count = [[by_cell[(f, r)]["customers"] if (f, r) in by_cell else 0 for f in frequencies] for r in recencies]
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=y, customdata=count, colorscale="RdYlGn", zmin=0, zmax=1, xgap=2, ygap=2,
        text=[[f"{v:.2f}" if v is not None else "" for v in row] for row in z], texttemplate="%{text}",
        textfont={"size": 11}, colorbar={"title": {"text": "P(alive)"}, "thickness": 12},
        hovertemplate="%{x} repeat purchase days, last purchase %{y} days before as-of:<br>"
                      "mean P(alive) %{z:.3f} (%{customdata:,} customers)<extra></extra>"))
    subtitle = f"days since the last purchase in steps of {step}; churn risk = 1 − P(alive)"
    if facts["no_dropout"] and facts["low"] == 1 and facts["high"] == 1:
        subtitle = (f"P(alive) = 1 for all {facts['customers']:,} customers: no dropout detected "
                    "(see the note above the charts)")
    base_layout(fig, 500,
                title={"text": f"Mean P(alive) by frequency and recency<br><span style='font-size:12px;"
                               f"color:{MUTED}'>{subtitle}</span>", "x": 0.01, "font": {"size": 15}},
                margin={"l": 60, "r": 16, "t": 72, "b": 60})
    fig.update_xaxes(title_text="repeat purchase days (frequency)", type="category")
    fig.update_yaxes(title_text="days since the last purchase (recency)", type="category", autorange="reversed")
    return fig


# -- customer cohorts -----------------------------------------------------------------------------

# The heat map and the lines show the most recent cohorts only, so a long history stays readable.
COHORTS_SHOWN = 36


def cohorts(ctx: Context) -> Section:
    section = Section(
        "cohorts", "Customer cohorts: retention and cumulative revenue per customer",
        "Customers are grouped by the business month of their first order (a row of the heat map, "
        "a line on the right). Left: the share of the cohort with an order in each month since the "
        "first (month 0 is always 100%). Right: the cohort's net revenue to date divided by its "
        "size, month by month; a line that keeps rising is a cohort that keeps buying. The last "
        f"month is the as-of month, still partial. At most the {COHORTS_SHOWN} latest cohorts are shown.",
        columns=2)
    section.charts.append(_chart("cohort-retention", lambda: _cohort_retention_figure(ctx), height=480))
    section.charts.append(_chart("cohort-revenue", lambda: _cohort_revenue_figure(ctx), height=480))
    return section


def _cohort_rows(ctx: Context) -> list[dict[str, Any]]:
    """The rows of the latest COHORTS_SHOWN cohorts, oldest cohort first."""
    require(ctx.con, "customer_cohorts")
    found = rows(ctx.con, """
        with latest as (
            select distinct cohort_month from marts.customer_cohorts
            order by cohort_month desc limit ?
        )
        select cohorts.cohort_month, cohorts.months_since_first_order, cohorts.cohort_size,
            cohorts.active_customers, cohorts.retention_pct, cohorts.cumulative_revenue_per_customer
        from marts.customer_cohorts as cohorts
        inner join latest on cohorts.cohort_month = latest.cohort_month
        order by cohorts.cohort_month, cohorts.months_since_first_order
    """, [COHORTS_SHOWN])
    if not found:
        raise NoData("customer_cohorts has no rows (no purchase up to the as-of date).")
    return found


def _cohort_label(row: dict[str, Any]) -> str:
    month = row["cohort_month"]
    name = f"{month:%Y-%m-%d}" if isinstance(month, date) else label(month)
    return f"{name} ({row['cohort_size']:,})"


def _cohort_retention_figure(ctx: Context) -> go.Figure:
    found = _cohort_rows(ctx)
    names = list(dict.fromkeys(_cohort_label(r) for r in found))
    width = max(int(r["months_since_first_order"]) for r in found) + 1
    cells = {(_cohort_label(r), int(r["months_since_first_order"])): r for r in found}
    z = [[cells[(n, m)]["retention_pct"] if (n, m) in cells else None for m in range(width)] for n in names]
    active = [[cells[(n, m)]["active_customers"] if (n, m) in cells else None for m in range(width)]
              for n in names]
    show_text = len(names) * width <= 400
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(width)), y=names, customdata=active, colorscale="Blues", zmin=0, zmax=100,
        xgap=1, ygap=1, colorbar={"title": {"text": "retention %"}, "thickness": 12},
        text=[[f"{v:.0f}" if v is not None else "" for v in row] for row in z] if show_text else None,
        texttemplate="%{text}" if show_text else None, textfont={"size": 10},
        hovertemplate="cohort %{y}, month %{x}: %{z:.1f}% retained (%{customdata:,} customers)<extra></extra>"))
    base_layout(fig, max(320, 120 + 18 * len(names)),
                title={"text": "Retention % by months since the first order", "x": 0.01, "font": {"size": 15}},
                margin={"l": 60, "r": 16, "t": 56, "b": 56})
    fig.update_xaxes(title_text="months since the first order", dtick=1 if width <= 24 else None)
    fig.update_yaxes(title_text="cohort (first-order month, customers)", autorange="reversed", type="category")
    return fig


def _cohort_revenue_figure(ctx: Context) -> go.Figure:
    found = _cohort_rows(ctx)
    names = list(dict.fromkeys(_cohort_label(r) for r in found))
    colors = sample_colorscale("Viridis", [i / max(len(names) - 1, 1) for i in range(len(names))])
    fig = go.Figure()
    for name, color in zip(names, colors, strict=True):
        cohort = [r for r in found if _cohort_label(r) == name]
        fig.add_trace(go.Scatter(
            x=[r["months_since_first_order"] for r in cohort], y=[r["cumulative_revenue_per_customer"] for r in cohort],
            mode="lines+markers" if len(cohort) <= 24 else "lines", name=name, line={"color": color, "width": 1.6},
            marker={"size": 4},
            hovertemplate="cohort " + name + ", month %{x}: %{y:,.2f} per customer<extra></extra>"))
    base_layout(fig, max(320, 120 + 18 * len(names)) if len(names) <= 12 else 480,
                title={"text": "Cumulative revenue per cohort customer", "x": 0.01, "font": {"size": 15}},
                legend={"orientation": "v", "y": 1, "x": 1.02, "yanchor": "top", "font": {"size": 10}},
                margin={"l": 60, "r": 16, "t": 56, "b": 56})
    fig.update_xaxes(title_text="months since the first order")
    fig.update_yaxes(title_text=ctx.money("revenue per customer"))
    return fig


# -- recommendations ------------------------------------------------------------------------------

RECOMMENDATION_TITLES = {
    "also_bought": "Also bought",
    "popular_in_segment": "Popular in the segment",
    "popular_category_not_bought": "Popular category not yet bought",
}


def recommendations(ctx: Context) -> Section:
    section = Section(
        "recommendations", "Most recommended products per reason",
        "The ten products recommended to the most customers for each reason; bar length is the "
        "number of customers the product is recommended to, hover for the category and the "
        "average rank (1 = first choice).", columns=3)
    try:
        require(ctx.con, "customer_product_recommendations")
        top = rows(ctx.con, """
            with counted as (
                select reason, product_id, any_value(product_name) as product_name,
                    any_value(category) as category, count(*) as customers, avg(rank) as average_rank
                from marts.customer_product_recommendations
                group by reason, product_id
            )
            select * from counted
            qualify row_number() over (partition by reason order by customers desc, product_id) <= 10
            order by reason, customers desc, product_id
        """)
    except MissingMart as exc:
        section.charts.append(Chart("recommendations", note=_missing_note(str(exc))))
        return section
    reasons = [r for r in RECOMMENDATION_TITLES if any(t["reason"] == r for t in top)]
    reasons += sorted({t["reason"] for t in top} - set(reasons))
    if not reasons:
        section.charts.append(Chart("recommendations", note="customer_product_recommendations has no rows."))
        return section
    for index, reason in enumerate(reasons):
        key = "recommendations-" + re.sub(r"[^a-z0-9]+", "-", str(reason).lower())
        items = [t for t in top if t["reason"] == reason]
        section.charts.append(_chart(key, lambda reason=reason, items=items, index=index: _recommendation_figure(
            reason, items, PALETTE[index % len(PALETTE)]), height=420))
    return section


def _recommendation_figure(reason: str, items: list[dict[str, Any]], color: str) -> go.Figure:
    items = list(reversed(items))  # biggest at the top
    names = [f"{short_label(i['product_name'] or i['product_id'], 28)}" for i in items]
    # Same name twice (two products with one name) would merge bars: add the id.
    if len(set(names)) < len(names):
        names = [f"{n} ({short_label(i['product_id'], 12)})" for n, i in zip(names, items, strict=True)]
    fig = go.Figure(go.Bar(
        x=[i["customers"] for i in items], y=names, orientation="h", marker_color=color,
        customdata=[[label(i["product_id"]), label(i["category"]), i["average_rank"]] for i in items],
        hovertemplate="%{y} (%{customdata[0]})<br>category %{customdata[1]}<br>"
                      "recommended to %{x:,} customers, average rank %{customdata[2]:.1f}<extra></extra>"))
    base_layout(fig, 420, title={"text": RECOMMENDATION_TITLES.get(reason, label(reason)), "x": 0.01,
                                 "font": {"size": 15}},
                margin={"l": 8, "r": 16, "t": 44, "b": 48}, showlegend=False, bargap=0.25)
    fig.update_xaxes(title_text="customers")
    fig.update_yaxes(tickfont={"size": 11}, type="category")
    return fig


# -- data quality ---------------------------------------------------------------------------------

def data_quality(ctx: Context, usable_lines: int | None) -> Section:
    section = Section(
        "data-quality", "Data quality: input rows set aside",
        "Every input row that could not be used is kept in data_quality_issues with the first rule "
        "it breaks; bars count them by reason, coloured by input file. Rows kept with a bad optional "
        "field counted as missing (a cost, a created_at) are marked '(row kept)'.")
    section.charts.append(_chart("data-quality", lambda: _quality_figure(ctx, section, usable_lines), height=380))
    return section


def _quality_figure(ctx: Context, section: Section, usable_lines: int | None) -> go.Figure:
    require(ctx.con, "data_quality_issues")
    counts = rows(ctx.con, """
        select
            case when is_row_kept then reason || ' (row kept)' else reason end as reason,
            source_file, is_row_kept, count(*) as issues
        from marts.data_quality_issues
        group by all
    """)
    if not counts:
        raise NoData("No input row was set aside: every row passed the checks.")
    total = sum(c["issues"] for c in counts if not c["is_row_kept"])
    kept = sum(c["issues"] for c in counts if c["is_row_kept"])
    order_line_issues = sum(c["issues"] for c in counts
                            if c["source_file"] == "order_lines" and not c["is_row_kept"])
    share = ""
    if usable_lines:
        share = f", {100 * order_line_issues / (usable_lines + order_line_issues):.2f}% of the order lines"
    kept_note = f"; {kept:,} kept with a field nulled" if kept else ""
    section.title = f"Data quality: {total:,} input rows set aside{share}{kept_note}"
    by_reason: dict[str, int] = {}
    for c in counts:
        by_reason[c["reason"]] = by_reason.get(c["reason"], 0) + c["issues"]
    reasons = sorted(by_reason, key=lambda r: (by_reason[r], str(r)))
    files = sorted({c["source_file"] for c in counts}, key=str)
    fig = go.Figure()
    for index, source in enumerate(files):
        values = {c["reason"]: c["issues"] for c in counts if c["source_file"] == source}
        fig.add_trace(go.Bar(
            y=[label(r) for r in reasons], x=[values.get(r, 0) for r in reasons], orientation="h",
            name=label(source), marker_color=PALETTE[index % len(PALETTE)], showlegend=True,
            hovertemplate="%{y}: %{x:,} rows<extra>" + label(source) + "</extra>"))
    fig.add_trace(go.Scatter(
        x=[by_reason[r] for r in reasons], y=[label(r) for r in reasons], mode="text",
        text=[f"  {by_reason[r]:,}" for r in reasons], textposition="middle right", showlegend=False,
        hoverinfo="skip", textfont={"size": 12, "color": TEXT}))
    height = max(260, 90 + 28 * len(reasons))
    base_layout(fig, height, barmode="stack", bargap=0.3,
                legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom",
                        "title": {"text": "input file "}},
                margin={"l": 8, "r": 16, "t": 40, "b": 48})
    fig.update_xaxes(title_text="rows", range=[0, max(by_reason.values()) * 1.12])
    fig.update_yaxes(type="category")
    return fig


# -- wrappers -------------------------------------------------------------------------------------

def _missing_note(mart: str) -> str:
    return (f"The mart {MARTS}.{mart} is not in this build, so this chart is left out. It appears "
            "once a build of a spendlens version that has it has run (`spendlens build`).")


def _chart(key: str, draw: Callable[[], go.Figure], height: int = 420) -> Chart:
    """Draws one chart; a missing or empty mart or a failing query becomes a note."""
    chart = _guarded(key, draw)
    if isinstance(chart, Chart):
        return chart
    return Chart(key, figure=chart, height=int(chart.layout.height or height))


def _table(key: str, draw: Callable[[], str]) -> Chart:
    """A full-width HTML table (escaped by `draw`); a missing or empty mart becomes a note."""
    table = _guarded(key, draw)
    if isinstance(table, Chart):
        table.wide = True
        return table
    return Chart(key, html=table, wide=True)


def _guarded(key: str, draw: Callable[[], T]) -> T | Chart:
    """What `draw` returns, or a Chart holding the note that says why it could not be drawn."""
    try:
        return draw()
    except MissingMart as exc:
        return Chart(key, note=_missing_note(str(exc)))
    except NoData as exc:
        return Chart(key, note=str(exc))
    except Exception as exc:  # noqa: BLE001 - one odd mart must not cost the whole report
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return Chart(key, note=f"This chart could not be drawn from this build: {type(exc).__name__}: {first_line}")
