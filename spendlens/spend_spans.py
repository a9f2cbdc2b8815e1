"""Spend over time per item from the spend profile windows alone.

No mart holds spend per customer x category x month; customer_spend_profile holds it per spend
window and its prior span. The windows overlap (last 3 months sits inside last 12 months), so
their differences give spend on shorter, disjoint spans: with the default windows, the 12 months
before the last 12, the 6 months before the last 6, the 3 months before the last 3, and the last
3. `pieces` finds, from the window dates alone, every stretch of days whose spend is a fixed
combination of window totals (a least-squares check that the stretch's indicator lies in the span
of the windows' indicators), smallest stretches first from left to right. Stretches no such
combination covers (e.g. the partial month after the last complete one) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

DAYS_PER_MONTH = 365.2425 / 12
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Span:
    """A window or prior span of the spend profile: `key` = (window_name, 'window' | 'prior')."""

    key: tuple[str, str]
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class Piece:
    """A stretch of days whose spend = sum(coefficient x span total)."""

    start: date
    end: date  # inclusive
    coefficients: tuple[tuple[tuple[str, str], float], ...]

    @property
    def months(self) -> float:
        """Length in calendar months (whole months exactly, the rest in days / 30.44)."""
        after = self.end + ONE_DAY
        return ((after.year - self.start.year) * 12 + after.month - self.start.month
                + (after.day - self.start.day) / DAYS_PER_MONTH)

    def spend(self, totals: Mapping[tuple[str, str], float]) -> float:
        """This stretch's spend from the span totals (a missing span counts as 0)."""
        return sum(coefficient * totals.get(key, 0.0) for key, coefficient in self.coefficients)


def pieces(spans: list[Span]) -> list[Piece]:
    """The disjoint stretches whose spend the span totals determine, in date order."""
    if not spans:
        return []
    bounds = sorted({s.start for s in spans} | {s.end + ONE_DAY for s in spans})
    intervals = list(zip(bounds[:-1], bounds[1:], strict=True))  # [start, next start)
    cover = np.array([[1.0 if s.start <= lo and hi <= s.end + ONE_DAY else 0.0 for lo, hi in intervals]
                      for s in spans])
    found: list[Piece] = []
    i = 0
    while i < len(intervals):
        for j in range(i, len(intervals)):
            wanted = np.zeros(len(intervals))
            wanted[i:j + 1] = 1.0
            weights, *_ = np.linalg.lstsq(cover.T, wanted, rcond=None)
            if np.abs(cover.T @ weights - wanted).max() < 1e-9:
                coefficients = tuple((s.key, round(float(w), 9)) for s, w in zip(spans, weights, strict=True)
                                     if abs(w) > 1e-9)
                found.append(Piece(intervals[i][0], intervals[j][1] - ONE_DAY, coefficients))
                i = j + 1
                break
        else:
            i += 1
    return found
