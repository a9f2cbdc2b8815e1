"""Talking points of an account sheet: short sentences made by rules from the marts, each citing
its numbers, for the account manager before a call.

Every rule is a plain function of small inputs (spend profile rows, the risk score row, the
recommendations) and the settings, so it can be tested on hand-made rows. A rule returns its
candidates strongest first; `pick` takes the best of each rule in RULES order, then the second
best of each, and so on, up to `max_talking_points`. The thresholds are dbt vars
(`account_sheet_*` at the end of the `vars:` block in dbt_project.yml), documented in
docs/report.md (section "Account sheets").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from spendlens.errors import SpendlensError

VAR_PREFIX = "account_sheet_"
ITEM_LEVELS = ("category", "bundle", "product")  # the item levels of customer_spend_profile


@dataclass(frozen=True)
class Settings:
    """The account-sheet settings; each field is the dbt var `account_sheet_<field>`."""

    max_talking_points: int = 5
    max_points_per_rule: int = 2
    item_level: str = "category"  # the spend profile item level the spend rules look at
    change_window: str = "last_3_months"
    drop_pct: float = 30.0
    drop_min_prior_spend: float = 100.0
    wallet_window: str = "last_12_months"
    wallet_low_pct: float = 50.0
    wallet_min_segment_share_pct: float = 10.0
    margin_window: str = "last_12_months"
    margin_max_pct: float = 0.0
    margin_min_spend: float = 100.0
    overdue_min_risk: float = 2.0
    cross_sell_min_customers: float = 2.0
    top_at_risk_value_share: float = 0.2
    table_max_products: int = 15

    @classmethod
    def from_vars(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from dbt vars: `account_sheet_<field>` keys, others ignored; a missing or null
        var keeps the default. Wrong types raise a SpendlensError naming the var."""
        chosen: dict[str, Any] = {}
        for f in fields(cls):
            name = VAR_PREFIX + f.name
            value = values.get(name)
            if value is None:
                continue
            default = getattr(cls, f.name)
            try:
                if isinstance(default, str):
                    if not isinstance(value, str) or not value.strip():
                        raise ValueError
                    chosen[f.name] = value.strip()
                elif isinstance(default, int) and not isinstance(default, bool):
                    if isinstance(value, bool) or float(value) != int(value) or int(value) < 0:
                        raise ValueError
                    chosen[f.name] = int(value)
                else:
                    if isinstance(value, bool) or not math.isfinite(float(value)):
                        raise ValueError
                    chosen[f.name] = float(value)
            except (TypeError, ValueError) as exc:
                kind = {"str": "text", "int": "whole number >= 0"}.get(type(default).__name__, "number")
                raise SpendlensError(
                    f"var {name} must be a {kind} (like the default {default!r}), got {value!r}: "
                    "fix it in dbt_project.yml or in --vars") from exc
        settings = cls(**chosen)
        if settings.item_level not in ITEM_LEVELS:
            raise SpendlensError(f"var {VAR_PREFIX}item_level must be one of {', '.join(ITEM_LEVELS)}, "
                                 f"got {settings.item_level!r}")
        if not 0 < settings.top_at_risk_value_share <= 1:
            raise SpendlensError(f"var {VAR_PREFIX}top_at_risk_value_share must be in (0, 1], "
                                 f"got {settings.top_at_risk_value_share}")
        return settings


# -- inputs -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpendRow:
    """One customer_spend_profile row (the columns the rules and the sheet use)."""

    item_level: str
    item_id: str
    window_name: str
    window_start: date
    window_end: date
    total_spend: float
    prior_total_spend: float
    spend_change_pct: float | None = None
    margin_pct: float | None = None
    share_of_wallet_pct: float | None = None
    segment_share_pct: float | None = None
    segment: str | None = None


@dataclass(frozen=True)
class RiskFacts:
    """The customer's risk_score row of customer_classifications."""

    risk_score: float | None
    band_label: str | None
    last_order_date: date | None
    as_of_date: date | None


@dataclass(frozen=True)
class Recommendation:
    """One customer_product_recommendations row; basis_name is the anchor product's name when known."""

    reason: str
    rank: int
    product_id: str
    product_name: str | None
    category: str | None
    score: float
    reason_basis: str | None = None
    basis_name: str | None = None


@dataclass(frozen=True)
class TalkingPoint:
    """A sentence, the rule that made it, the numbers it cites (as in the marts) and how strong
    it is within its rule (bigger first)."""

    rule: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)
    strength: float = 0.0


# -- formatting ---------------------------------------------------------------------------------

def amount(value: float) -> str:
    """Money without decimals: 1240.4 -> '1,240'."""
    return f"{value:,.0f}"


def money(value: float, currency: str) -> str:
    return f"{currency} {amount(value)}".strip()


def percent(value: float) -> str:
    """-42.3 -> '-42%'; one decimal below 10 so that a small value never reads as 0: '-0.4%'."""
    return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"


def window_label(window_name: str) -> str:
    return window_name.replace("_", " ")


# -- the rules ----------------------------------------------------------------------------------

def spend_drops(rows: list[SpendRow], settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """Items whose spend change in the change window is at or below -drop_pct, with at least
    drop_min_prior_spend in the prior span. Strongest = the most spend lost."""
    points = []
    for row in rows:
        if (row.item_level != settings.item_level or row.window_name != settings.change_window
                or row.spend_change_pct is None or row.spend_change_pct > -settings.drop_pct
                or row.prior_total_spend < settings.drop_min_prior_spend):
            continue
        text = (f"Spend on {row.item_id} fell {percent(-row.spend_change_pct)} in the "
                f"{window_label(row.window_name)} ({money(row.total_spend, currency)} vs "
                f"{amount(row.prior_total_spend)} the span before)")
        points.append(TalkingPoint("spend_drop", text, {
            "item_id": row.item_id, "window_name": row.window_name, "spend_change_pct": row.spend_change_pct,
            "total_spend": row.total_spend, "prior_total_spend": row.prior_total_spend,
        }, row.prior_total_spend - row.total_spend))
    return _strongest_first(points)


def low_share_of_wallet(rows: list[SpendRow], settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """Items the customer buys (spend > 0 in the wallet window) at or below wallet_low_pct of the
    segment's typical share of wallet, among items that are at least wallet_min_segment_share_pct
    of the segment's spend. Strongest = the biggest gap in points of the customer's spend."""
    points = []
    for row in rows:
        if (row.item_level != settings.item_level or row.window_name != settings.wallet_window
                or row.total_spend <= 0 or row.share_of_wallet_pct is None or row.segment_share_pct is None
                or row.share_of_wallet_pct > settings.wallet_low_pct
                or row.segment_share_pct < settings.wallet_min_segment_share_pct):
            continue
        own_share = row.share_of_wallet_pct * row.segment_share_pct / 100
        segment = row.segment if row.segment is not None else "the segment"
        text = (f"Buys {row.item_id} at {percent(row.share_of_wallet_pct)} of the segment's typical share of "
                f"wallet ({percent(own_share)} of their spend vs {percent(row.segment_share_pct)} across "
                f"{segment}, {window_label(row.window_name)})")
        points.append(TalkingPoint("low_share_of_wallet", text, {
            "item_id": row.item_id, "window_name": row.window_name,
            "share_of_wallet_pct": row.share_of_wallet_pct, "own_share_pct": own_share,
            "segment_share_pct": row.segment_share_pct,
        }, row.segment_share_pct - own_share))
    return _strongest_first(points)


def negative_margins(rows: list[SpendRow], settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """Items with a margin at or below margin_max_pct over the margin window, on at least
    margin_min_spend of spend. Strongest = the biggest loss (spend x -margin)."""
    points = []
    for row in rows:
        if (row.item_level != settings.item_level or row.window_name != settings.margin_window
                or row.margin_pct is None or row.margin_pct > settings.margin_max_pct
                or row.total_spend < settings.margin_min_spend):
            continue
        text = (f"Margin on {row.item_id} is {percent(row.margin_pct)} over the {window_label(row.window_name)} "
                f"({money(row.total_spend, currency)} of spend)")
        points.append(TalkingPoint("negative_margin", text, {
            "item_id": row.item_id, "window_name": row.window_name, "margin_pct": row.margin_pct,
            "total_spend": row.total_spend,
        }, -row.margin_pct * row.total_spend))
    return _strongest_first(points)


def overdue(risk: RiskFacts | None, settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """The customer's risk score (days since the last order / their usual gap between orders) is
    at least overdue_min_risk."""
    if (risk is None or risk.risk_score is None or risk.risk_score <= 0
            or risk.risk_score < settings.overdue_min_risk):
        return []
    numbers: dict[str, Any] = {"risk_score": risk.risk_score, "band_label": risk.band_label}
    text = f"No order for {risk.risk_score:.1f}x their usual gap"
    if risk.band_label is not None:
        text += f": risk band '{risk.band_label}'"
    if risk.last_order_date is not None and risk.as_of_date is not None:
        days = (risk.as_of_date - risk.last_order_date).days
        numbers.update(days_since_last_order=days, last_order_date=risk.last_order_date.isoformat(),
                       usual_gap_days=days / risk.risk_score)
        text += (f" ({days:,} days since the last order on {risk.last_order_date:%Y-%m-%d}, usual gap "
                 f"{days / risk.risk_score:,.0f} days)")
    return [TalkingPoint("overdue", text, numbers, risk.risk_score)]


def cross_sell(recommendations: list[Recommendation], settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """'also bought' recommendations whose product was bought together with the customer's anchor
    product by at least cross_sell_min_customers other customers. Strongest = most customers."""
    points = []
    for rec in recommendations:
        if rec.reason != "also_bought" or rec.score < settings.cross_sell_min_customers:
            continue
        anchor = rec.basis_name or rec.reason_basis or "their latest product"
        product = rec.product_name or rec.product_id
        text = (f"Customers who buy {anchor} also buy {product}: never bought "
                f"({rec.score:,.0f} customers bought both)")
        points.append(TalkingPoint("cross_sell", text, {
            "product_id": rec.product_id, "reason_basis": rec.reason_basis, "score": rec.score,
        }, rec.score))
    return _strongest_first(points)


# Rule order = priority when the points are picked (the most urgent first).
RULES: tuple[str, ...] = ("overdue", "spend_drop", "negative_margin", "low_share_of_wallet", "cross_sell")


def talking_points(rows: list[SpendRow], risk: RiskFacts | None, recommendations: list[Recommendation],
                   settings: Settings, currency: str = "") -> list[TalkingPoint]:
    """Every rule on one customer's data, then `pick`."""
    candidates = {
        "overdue": overdue(risk, settings, currency),
        "spend_drop": spend_drops(rows, settings, currency),
        "negative_margin": negative_margins(rows, settings, currency),
        "low_share_of_wallet": low_share_of_wallet(rows, settings, currency),
        "cross_sell": cross_sell(recommendations, settings, currency),
    }
    return pick(candidates, settings.max_talking_points, settings.max_points_per_rule)


def pick(candidates: Mapping[str, list[TalkingPoint]], limit: int, per_rule: int | None = None) -> list[TalkingPoint]:
    """Round robin over the rules in RULES order (unknown rules after them, by name): the best
    point of each rule, then the second best of each, ... up to `limit` points and at most
    `per_rule` points of one rule."""
    order = [r for r in RULES if r in candidates] + sorted(set(candidates) - set(RULES))
    chosen: list[TalkingPoint] = []
    depth = 0
    while (len(chosen) < limit and (per_rule is None or depth < per_rule)
           and any(len(candidates[r]) > depth for r in order)):
        for rule in order:
            if depth < len(candidates[rule]) and len(chosen) < limit:
                chosen.append(candidates[rule][depth])
        depth += 1
    return chosen


def _strongest_first(points: list[TalkingPoint]) -> list[TalkingPoint]:
    return sorted(points, key=lambda p: (-p.strength, p.text))
