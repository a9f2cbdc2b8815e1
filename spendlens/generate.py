"""Deterministic synthetic input data set with the structure of real B2B/retail spend data.

Everything is generated with numpy (one seeded PCG64 generator, vectorised over customers,
orders and lines) and written by DuckDB. The model, its shares and the bad-row kinds are
described in docs/data.md; keep that file in step with the constants below.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from spendlens.errors import SpendlensError

INPUTS = ("order_lines", "customers", "products", "product_bundles", "sales_targets", "fx_rates")
FORMATS = ("csv", "parquet")
MIN_LINES = 1_000
EPOCH = dt.date(1970, 1, 1)

# --- customers -------------------------------------------------------------------------------
# index 4 is the empty segment (written as an empty field / NULL)
SEGMENTS = ("Retail", "Online", "Trade", "Distributor", None)
SEGMENT_SHARE = (0.45, 0.27, 0.17, 0.09, 0.02)
SEG_ORDER_RATE = np.array([1.0, 1.2, 1.5, 1.8, 1.0])  # relative order frequency
SEG_MEAN_LINES = np.array([2.0, 1.6, 3.2, 4.0, 2.0])  # mean lines per order (1..8)
SEG_QTY_MEDIAN = np.array([1.3, 1.2, 2.2, 3.5, 1.3])  # median units per line (lognormal)
SEG_QTY_SIGMA = np.array([0.45, 0.35, 0.7, 0.8, 0.5])
SEG_PRICE_FACTOR = np.array([1.0, 0.97, 0.93, 0.88, 1.0])  # negotiated discount
SEG_OPT_IN = np.array([0.6, 0.8, 0.4, 0.3, 0.5])
SEG_HAS_MANAGER = np.array([0.25, 0.0, 1.0, 1.0, 0.5])
# weekly pattern Mon..Sun per segment (B2B segments hardly buy at weekends)
SEG_WEEKDAY = np.array(
    [
        [1.0, 1.0, 1.0, 1.05, 1.15, 1.1, 0.7],  # Retail
        [1.0, 0.95, 0.95, 1.0, 1.0, 0.9, 1.05],  # Online
        [1.15, 1.15, 1.1, 1.05, 0.9, 0.2, 0.05],  # Trade
        [1.2, 1.15, 1.1, 1.05, 0.9, 0.1, 0.02],  # Distributor
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6],  # (empty)
    ]
)
INTENSITY_SIGMA = 0.5  # lognormal sigma of the per-customer purchase intensity
PRE_WINDOW_SHARE = 0.45  # customers created before the window starts
ONE_TIME_SHARE = 0.10  # buy exactly once
PROSPECT_SHARE = 0.01  # in the customer list, never ordered
CHURN_SHARE = 0.40  # of the repeat buyers, stop buying at some point
CHURN_MEAN_DAYS = 420  # mean lifetime of a churning customer after the first purchase
EUR_CUSTOMER_SHARE = 0.10
MONTH_FACTOR = np.array([0.8, 0.85, 1.1, 1.25, 1.1, 0.95, 0.85, 0.85, 1.0, 1.05, 1.4, 1.55])
GROWTH_PER_YEAR = 0.05  # order volume trend
PRICE_DRIFT_PER_YEAR = 0.03  # list prices and costs rise over time

FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony "
    "Betty Mark Sandra Paul Ashley Steven Kimberly Andrew Emily Joshua Donna Kevin Michelle "
    "Brian Carol Sofia Lukas Emma Noah Chiara Mateo Ines Hugo Freya Oskar"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores O'Brien O'Neil Müller Schmidt Rossi Dubois Novak Jensen Kowalski Silva"
).split()
COMPANY_WORDS = (
    "Northwind Summit Harbor Granite Cedar Pioneer Atlas Beacon Crescent Evergreen Frontier "
    "Keystone Liberty Meridian Redwood Sterling Union Vantage Blueridge Copperfield Ironwood "
    "Lakeside Oakmont Prairie Riverside Silverline Tristar Westbrook Brightway Coastal"
).split()
COMPANY_KINDS = (
    "Supply",
    "Trading",
    "Wholesale",
    "Distribution",
    "Hardware",
    "Builders",
    "Outfitters",
    "Foods",
    "Office Solutions",
    "Logistics",
)
COMPANY_SUFFIXES = ("Inc.", "LLC", "Ltd", "Co.", "& Sons", "Group", "GmbH", ", Inc.", ", LLC", "")
ACCOUNT_MANAGERS = (
    "Alice Moreau Ben Okafor Carla Diaz Deepak Rao Elena Petrova Farid Haddad Grace Lin "
    "Hiro Tanaka Isabel Costa Jonas Berg Kate Murphy Leo Schwartz Mia Fischer Nils Larsen "
    "Olivia Grant Pablo Ruiz"
).split()
ACCOUNT_MANAGERS = tuple(f"{ACCOUNT_MANAGERS[i]} {ACCOUNT_MANAGERS[i + 1]}" for i in range(0, len(ACCOUNT_MANAGERS), 2))

# --- products --------------------------------------------------------------------------------
# category: (median list price in USD, nouns for product names)
CATEGORIES = (
    ("Office Supplies", 9.0, ("Binder", "Stapler", "Paper Ream", "Pen Set", "Folder")),
    ("Electronics", 140.0, ("Monitor", "Keyboard", "Headset", "Router", "Webcam")),
    ("Cleaning", 14.0, ("Detergent", "Mop", "Disinfectant", "Wipes", "Sponge Pack")),
    ("Tools", 48.0, ("Drill", "Wrench Set", "Saw", "Hammer", "Toolbox")),
    ("Packaging", 11.0, ("Box Pack", "Tape Roll", "Stretch Film", "Mailer", "Label Roll")),
    ("Furniture", 220.0, ("Desk", "Chair", "Bookcase", "Cabinet", "Table")),
    ("Food & Beverage", 6.0, ("Coffee", "Tea", "Snack Box", "Water Case", "Juice")),
    ("Safety", 25.0, ("Gloves", "Helmet", "Goggles", "Vest", "First Aid Kit")),
    ("Kitchen", 32.0, ("Kettle", "Cutlery Set", "Pan", "Mug Set", "Blender")),
    ("Lighting", 38.0, ("LED Panel", "Desk Lamp", "Bulb Pack", "Floodlight", "Strip Light")),
    ("Garden", 29.0, ("Hose", "Planter", "Rake", "Seed Mix", "Shears")),
    ("Apparel", 27.0, ("Polo Shirt", "Jacket", "Cap", "Work Trousers", "Fleece")),
)
BRANDS = (
    "Acme Apex Bolt Corex Duro Evo Fortis Globe Helix Ionic Jade Kestrel Lumen Nova Orbit "
    "Pinnacle Quanta Rex Solis Terra"
).split()
# each category is sold under len(BRAND_SHARE) = 4 brands: category i (CATEGORIES order) has
# brands BRAND_STEP * i .. BRAND_STEP * i + 3 of BRANDS, cyclically, so neighbouring categories
# share a brand; within a category the brands hold these shares (the market leader first)
BRAND_STEP = 3
BRAND_SHARE = (0.45, 0.25, 0.20, 0.10)
# ungrouped tags; every product also gets a grouped tag brand:<its brand>
TAGS = ("eco", "premium", "bulk", "new", "clearance")
PRICE_SIGMA = 0.55
ZIPF_EXPONENT = 0.85
BUNDLED_PRODUCT_SHARE = 0.30
TWO_BUNDLE_SHARE = 0.20  # of the bundled products, in a second bundle too
NO_COST_PRODUCT_SHARE = 0.03
LINE_COST_EMPTY_SHARE = 0.10
BUNDLE_KINDS = ("Starter Kit", "Value Pack", "Pro Set", "Essentials", "Season Bundle")

# --- returns, targets, fx --------------------------------------------------------------------
RETURN_SHARE = 0.025
LATE_RETURN_SHARE = 0.3  # of the single-line returns: filed under the original order id
LATE_RETURN_LINE_NUMBER = 31  # line keys stay below 32 (see the line sort key)
FULL_RETURNER_SHARE = 0.002  # of the customers (at least 1): return everything they bought
TARGET_CUSTOMER_SHARE = 0.30
EUR_RATE_MEAN = 1.10

# --- bad rows: code -> (kind, description); each kind gets `BAD_ROW_SHARE * lines` rows -----
BAD_ROW_SHARE = 0.0004
BAD_KINDS: dict[str, tuple[int, ...]] = {
    "unparseable_number": (11, 12),  # quantity 'abc' / unit_price '12,5x'
    "non_finite_number": (13, 14),  # quantity 'NaN' / unit_price '1e400' (casts to Infinity)
    "unparseable_date": (21, 22),  # '2024-13-45' / 'not a date'
    "missing_key": (31, 32, 33),  # empty order_id / customer_id / product_id
    "duplicate_line": (40,),  # exact repeat of an existing line
    "unknown_customer": (50,),
    "unknown_product": (60,),
    "future_date": (70,),  # year 2099
    "negative_unit_price": (80,),
    "currency_without_rate": (90,),  # GBP
}
CURRENCIES = ("USD", "EUR", "GBP")


@dataclass(frozen=True)
class _Span:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Index of the last day (day 0 is `start`)."""
        return (self.end - self.start).days

    @property
    def epoch_offset(self) -> int:
        return (self.start - EPOCH).days


def _log(msg: str) -> None:
    print(f"generate: {msg}", flush=True)


def _validate(
    lines: int, customers: int | None, products: int | None, seed: int, years: int, end_date: str
) -> tuple[int, int, _Span]:
    if lines < MIN_LINES:
        raise SpendlensError(f"--lines must be at least {MIN_LINES:,} (got {lines:,})")
    n_c = max(50, lines // 100) if customers is None else customers
    n_p = max(20, lines // 200) if products is None else products
    if n_c < 10:
        raise SpendlensError(f"--customers must be at least 10 (got {n_c})")
    if n_p < 10:
        raise SpendlensError(f"--products must be at least 10 (got {n_p})")
    if seed < 0:
        raise SpendlensError(f"--seed must be a non-negative integer (got {seed})")
    if not 1 <= years <= 30:
        raise SpendlensError(f"--years must be between 1 and 30 (got {years})")
    try:
        end = dt.date.fromisoformat(end_date)
    except ValueError:
        raise SpendlensError(f"--end-date must be a date like 2026-06-30 (YYYY-MM-DD), got {end_date!r}") from None
    if end.year - years < 1900 or end.year > 2090:
        raise SpendlensError(f"--end-date {end_date} with --years {years} is out of range")
    day = 28 if (end.month, end.day) == (2, 29) else end.day
    start = dt.date(end.year - years, end.month, day)
    return n_c, n_p, _Span(start, end)


def _pick(rng: np.random.Generator, words: tuple[str, ...] | list[str], n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), n)]


def _day_weights(span: _Span) -> np.ndarray:
    """Relative order volume per segment and day: season x weekday x growth, shape (5, days+1)."""
    dates = pd.date_range(span.start, span.end, freq="D")
    month = dates.month.to_numpy() - 1
    dom = dates.day.to_numpy()
    w = MONTH_FACTOR[month].copy()
    w[(month == 10) & (dom >= 24)] *= 1.4  # Black Friday / Cyber Monday week
    w[(month == 11) & (dom >= 24) & (dom <= 26)] *= 0.25  # Christmas
    w[(month == 0) & (dom == 1)] *= 0.25
    t = np.arange(len(dates)) / 365.25
    w *= 1.0 + GROWTH_PER_YEAR * t
    weekday = dates.day_of_week.to_numpy()
    return SEG_WEEKDAY[:, weekday] * w[None, :]


def _fx_series(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Daily EUR->USD rate: mean-reverting random walk kept in 1.05..1.15, 4 decimals."""
    shocks = rng.normal(0.0, 0.004, n_days)
    rate = np.empty(n_days)
    x = EUR_RATE_MEAN + rng.uniform(-0.03, 0.03)
    for i in range(n_days):  # one step per calendar day, not per line
        x += 0.02 * (EUR_RATE_MEAN - x) + shocks[i]
        x = min(max(x, 1.051), 1.149)
        rate[i] = x
    return np.round(rate, 4)


def _exact_total(rng: np.random.Generator, k: np.ndarray, total: int, k_max: int) -> np.ndarray:
    """Nudge per-order line counts by +-1 at random orders until they sum to `total`."""
    k = k.copy()
    for _ in range(100):
        diff = int(k.sum()) - total
        if diff == 0:
            break
        eligible = np.flatnonzero(k > 1) if diff > 0 else np.flatnonzero(k < k_max)
        if len(eligible) == 0:
            break
        pick = rng.choice(eligible, size=min(abs(diff), len(eligible)), replace=False)
        k[pick] += -1 if diff > 0 else 1
    return k


def _distinct_products(rng: np.random.Generator, line_order: np.ndarray, p: np.ndarray, n_p: int) -> np.ndarray:
    """Draw one product per line from `p`, redrawing until the products of an order differ."""
    prod = rng.choice(n_p, size=len(line_order), p=p).astype(np.int64)
    todo = np.arange(len(line_order))  # lines of orders that may still hold duplicates
    for round_ in range(200):
        key = line_order[todo] * n_p + prod[todo]
        order = np.argsort(key, kind="stable")
        sk = key[order]
        dup = np.zeros(len(sk), dtype=bool)
        dup[1:] = sk[1:] == sk[:-1]
        if not dup.any():
            break
        dup_lines = todo[order[dup]]
        # after a few rounds fall back to uniform draws so tiny catalogues converge quickly
        if round_ < 10:
            prod[dup_lines] = rng.choice(n_p, size=len(dup_lines), p=p)
        else:
            prod[dup_lines] = rng.integers(0, n_p, len(dup_lines))
        bad_orders = np.unique(line_order[dup_lines])
        todo = todo[np.isin(line_order[todo], bad_orders)]
    return prod


def generate(
    out: Path,
    lines: int,
    customers: int | None,
    products: int | None,
    seed: int,
    years: int,
    end_date: str,
    fmt: str,
    bad_rows: bool,
) -> None:
    """Write the six input files (`<name>.csv` or `<name>.parquet`) into `out`."""
    if fmt not in FORMATS:
        raise SpendlensError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    n_c, n_p, span = _validate(lines, customers, products, seed, years, end_date)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SpendlensError(f"--out {out} exists and is not a folder; pass a folder path")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    D = span.days
    _log(
        f"{lines:,} lines, {n_c:,} customers, {n_p:,} products, {span.start} .. {span.end}, "
        f"seed {seed}, {fmt}{'' if bad_rows else ', no bad rows'}"
    )

    fx = _fx_series(rng, D + 1)
    prod = _make_products(rng, n_p)
    cust = _make_customers(rng, n_c, span)
    n_bad_each = max(3, round(lines * BAD_ROW_SHARE)) if bad_rows else 0
    n_bad = n_bad_each * len(BAD_KINDS)
    n_returns = max(2, round(lines * RETURN_SHARE))
    n_good = lines - n_returns - n_bad
    ol = _make_order_lines(rng, cust, prod, span, fx, n_good, n_returns, n_bad_each)
    _log(
        f"{ol.n_purchase:,} purchase lines in {ol.n_orders:,} orders, {ol.n_return:,} returns, "
        f"{ol.n_bad:,} bad rows ({time.perf_counter() - t0:.1f}s)"
    )
    targets = _make_targets(rng, cust, ol, span, fx)

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false").fetchall()
    con.execute("SET preserve_insertion_order = true").fetchall()  # rows in file order
    try:
        _write_all(con, out, fmt, bad_rows, cust, prod, ol, targets, span, fx, t0)
    finally:
        con.close()
    _log(f"done in {time.perf_counter() - t0:.1f}s -> {out}")


# --- customers -------------------------------------------------------------------------------


@dataclass
class _Customers:
    n: int
    seg: np.ndarray  # 0..4
    created: np.ndarray  # day index (negative = before the window)
    first: np.ndarray  # first purchase day
    last: np.ndarray  # last possible purchase day (churn) or D
    one_time: np.ndarray
    prospect: np.ndarray
    intensity: np.ndarray
    currency: np.ndarray  # 0 USD, 1 EUR
    name: np.ndarray
    manager: np.ndarray
    has_manager: np.ndarray
    opt_in: np.ndarray


def _make_customers(rng: np.random.Generator, n: int, span: _Span) -> _Customers:
    D = span.days
    seg = rng.choice(5, size=n, p=SEGMENT_SHARE)
    pre = rng.random(n) < PRE_WINDOW_SHARE
    # the others sign up at a steady pace over the window
    created_in = np.floor(rng.random(n) * D).astype(np.int64)
    created_pre = -rng.integers(1, 3 * 365, n)
    created = np.where(pre, created_pre, created_in)
    one_time = rng.random(n) < ONE_TIME_SHARE
    # customers from before the window buy from its first day on (a one-time buyer on one day of
    # it); new customers make their first purchase a few days after sign-up
    first = np.where(
        pre,
        np.where(one_time, np.floor(rng.random(n) * D), 0),
        created_in + np.floor(rng.exponential(10.0, n)),
    ).astype(np.int64)
    first = np.minimum(first, D)
    prospect = (rng.random(n) < PROSPECT_SHARE) & ~one_time
    churn = (rng.random(n) < CHURN_SHARE) & ~one_time
    lifetime = 30 + np.floor(rng.exponential(CHURN_MEAN_DAYS, n)).astype(np.int64)
    last = np.where(churn, np.minimum(first + lifetime, D), D)
    last = np.where(one_time, first, last)
    intensity = rng.lognormal(0.0, INTENSITY_SIGMA, n) * SEG_ORDER_RATE[seg]
    currency = (rng.random(n) < EUR_CUSTOMER_SHARE).astype(np.int8)

    person = (seg == 0) | (seg == 1)
    person_name = _pick(rng, FIRST_NAMES, n) + " " + _pick(rng, LAST_NAMES, n)
    suffix = _pick(rng, COMPANY_SUFFIXES, n)
    company = _pick(rng, COMPANY_WORDS, n) + " " + _pick(rng, COMPANY_KINDS, n)
    sep = np.where(np.char.startswith(suffix.astype(str), ","), "", " ").astype(object)
    company = company + np.where(suffix == "", "", sep + suffix)
    # a few names with double quotes (RFC 4180 quoting has to cope)
    quoted = rng.random(n) < 0.002
    company = np.where(quoted, '"' + company + '"', company)
    name = np.where(person, person_name, company)
    managers = ACCOUNT_MANAGERS[: int(np.clip(n // 1500, 4, len(ACCOUNT_MANAGERS)))]
    has_manager = rng.random(n) < SEG_HAS_MANAGER[seg]
    manager = np.where(has_manager, _pick(rng, managers, n), None).astype(object)
    opt_in = rng.random(n) < SEG_OPT_IN[seg]
    return _Customers(
        n=n,
        seg=seg,
        created=created,
        first=first,
        last=last,
        one_time=one_time,
        prospect=prospect,
        intensity=intensity,
        currency=currency,
        name=name,
        manager=manager,
        has_manager=has_manager,
        opt_in=opt_in,
    )


# --- products --------------------------------------------------------------------------------


@dataclass
class _Products:
    n: int
    category: np.ndarray
    list_cents: np.ndarray  # list price in USD cents at the window start
    cost_cents: np.ndarray  # unit cost in USD cents, -1 = none
    popularity: np.ndarray  # Zipf probabilities
    name: np.ndarray
    tags: np.ndarray
    bundle_product: np.ndarray  # product_bundles rows
    bundle_id: np.ndarray
    bundle_names: np.ndarray  # per bundle


def _category_brands(category: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """The brand of each product from its category and a uniform draw in 0..len(BRANDS)-1: the
    draw picks the category's k-th brand with probability BRAND_SHARE[k] (exactly, as the shares
    are multiples of 1 / len(BRANDS))."""
    cut = np.round(np.cumsum(BRAND_SHARE) * len(BRANDS))
    slot = np.searchsorted(cut, draw, side="right")
    return np.asarray(BRANDS, dtype=object)[(category * BRAND_STEP + slot) % len(BRANDS)]


def _make_products(rng: np.random.Generator, n: int) -> _Products:
    n_cat = int(min(len(CATEGORIES), max(8, n // 3)))
    cat_weight = rng.dirichlet(np.full(n_cat, 2.0))
    category = np.concatenate([np.arange(n_cat), rng.choice(n_cat, size=n - n_cat, p=cat_weight)])
    category = rng.permutation(category)
    # tags: 1..3 distinct from the vocabulary, written in vocabulary order
    n_tags = rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15])
    rank = np.argsort(rng.random((n, len(TAGS))), axis=1)
    has_tag = np.argsort(rank, axis=1) < n_tags[:, None]
    mask = (has_tag * (1 << np.arange(len(TAGS)))).sum(axis=1)
    lookup = np.array(
        ["|".join(t for i, t in enumerate(TAGS) if m >> i & 1) for m in range(1 << len(TAGS))],
        dtype=object,
    )
    tags = lookup[mask]  # the ungrouped tags; the brand tag is added below
    median = np.array([c[1] for c in CATEGORIES])[category]
    price = rng.lognormal(np.log(median), PRICE_SIGMA)
    price *= np.where(has_tag[:, TAGS.index("premium")], 1.4, 1.0)
    price *= np.where(has_tag[:, TAGS.index("clearance")], 0.75, 1.0)
    list_cents = np.maximum(49, np.round(price * 100)).astype(np.int64)
    cost_cents = np.round(list_cents * rng.uniform(0.55, 0.80, n)).astype(np.int64)
    rank_pop = rng.permutation(n) + 1
    # a few products without any cost, taken from the less popular half of the catalogue
    tail = np.flatnonzero(rank_pop > n // 2)
    no_cost = rng.choice(tail, size=max(1, round(n * NO_COST_PRODUCT_SHARE)), replace=False)
    cost_cents[no_cost] = -1
    popularity = rank_pop ** (-ZIPF_EXPONENT)
    popularity /= popularity.sum()

    nouns = np.array([c[2] for c in CATEGORIES], dtype=object)
    noun = nouns[category, rng.integers(0, 5, n)]
    model = (
        np.asarray(list("ABCDEFGHKLMNPRSTVXZ"), dtype=object)[rng.integers(0, 19, n)]
        + "-"
        + rng.integers(100, 1000, n).astype(str).astype(object)
    )
    brand = _category_brands(category, rng.integers(0, len(BRANDS), n))
    name = brand + " " + noun + " " + model
    tags = "brand:" + brand + "|" + tags

    # bundles: ~30% of products; same-category runs cut into bundles of 2..6 products
    bundled = np.flatnonzero(rng.random(n) < BUNDLED_PRODUCT_SHARE)
    if len(bundled) < 2:
        bundled = rng.permutation(n)[:2]
    bundled = bundled[np.lexsort((rng.random(len(bundled)), category[bundled]))]
    sizes = rng.integers(2, 7, len(bundled))
    starts = np.cumsum(sizes) - sizes
    starts = starts[starts < len(bundled)]
    n_bundles = len(starts)
    first_bundle = np.zeros(len(bundled), dtype=np.int64)
    first_bundle[starts[1:]] = 1
    first_bundle = np.cumsum(first_bundle)
    second = rng.random(len(bundled)) < TWO_BUNDLE_SHARE
    if n_bundles > 1 and second.any():
        shift = rng.integers(1, n_bundles, int(second.sum()))
        second_bundle = (first_bundle[second] + shift) % n_bundles
        b_prod = np.concatenate([bundled, bundled[second]])
        b_id = np.concatenate([first_bundle, second_bundle])
    else:
        b_prod, b_id = bundled, first_bundle
    order = np.lexsort((b_prod, b_id))
    b_prod, b_id = b_prod[order], b_id[order]
    lead_cat = category[bundled[starts]]
    cat_names = np.array([c[0] for c in CATEGORIES], dtype=object)
    bundle_names = (
        cat_names[lead_cat]
        + " "
        + _pick(rng, BUNDLE_KINDS, n_bundles)
        + " "
        + (np.arange(n_bundles) + 1).astype(str).astype(object)
    )
    return _Products(n, category, list_cents, cost_cents, popularity, name, tags, b_prod, b_id, bundle_names)


# --- orders and lines ------------------------------------------------------------------------


@dataclass
class _OrderLines:
    """All order lines in file order; integer codes that `_write_all` turns into text."""

    order_num: np.ndarray  # 1-based, chronological
    line_number: np.ndarray
    cust: np.ndarray  # 0-based customer index (>= n for unknown customers)
    prod: np.ndarray  # 0-based product index (>= n for unknown products)
    day: np.ndarray
    quantity: np.ndarray
    price_cents: np.ndarray
    amount_cents: np.ndarray
    cost_cents: np.ndarray  # -1 = empty
    currency: np.ndarray
    bad: np.ndarray  # 0 = good, else a code from BAD_KINDS
    n_orders: int
    n_purchase: int
    n_return: int
    n_bad: int


def _make_order_lines(
    rng: np.random.Generator,
    cu: _Customers,
    pr: _Products,
    span: _Span,
    fx: np.ndarray,
    n_good: int,
    n_returns: int,
    n_bad_each: int,
) -> _OrderLines:
    D = span.days
    k_max = min(8, pr.n)
    # how many orders: weight by intensity x active days, one order at least for buyers
    k_mean = 1.0 + np.minimum(SEG_MEAN_LINES - 1.0, k_max - 1)
    buyer = ~cu.prospect
    repeat = buyer & ~cu.one_time
    w = np.where(repeat, cu.intensity * (cu.last - cu.first + 1), 0.0)
    if w.sum() == 0:
        w = buyer.astype(float)
    expected_k = (w * k_mean[cu.seg]).sum() / w.sum()
    n_orders = max(1, round(n_good / expected_k))
    n_buyers = int(buyer.sum())
    if n_orders >= n_buyers:
        counts = buyer.astype(np.int64)
        extra = rng.choice(cu.n, size=n_orders - n_buyers, p=w / w.sum())
        counts += np.bincount(extra, minlength=cu.n)
    else:  # more customers than orders: only some customers buy
        counts = np.bincount(rng.choice(cu.n, size=n_orders, p=buyer / buyer.sum()), minlength=cu.n)
        counts = np.where(cu.one_time, np.minimum(counts, 1), counts)
    o_cust = np.repeat(np.arange(cu.n), counts)
    n_o = len(o_cust)

    # order dates: inverse CDF of the segment's daily weights inside [first, last]
    cdf = np.zeros((5, D + 2))
    cdf[:, 1:] = np.cumsum(_day_weights(span), axis=1)
    lo, hi = cu.first[o_cust], cu.last[o_cust]
    seg = cu.seg[o_cust]
    u = rng.random(n_o)
    o_day = np.empty(n_o, dtype=np.int64)
    for s in range(5):  # one vectorised pass per segment
        m = seg == s
        c = cdf[s]
        target = c[lo[m]] + u[m] * (c[hi[m] + 1] - c[lo[m]])
        o_day[m] = np.clip(np.searchsorted(c, target, side="right") - 1, lo[m], hi[m])
    # a new customer's first order is on the first-purchase day
    first_of_cust = np.cumsum(counts)[counts > 0] - counts[counts > 0]
    first_of_cust = first_of_cust[cu.created[o_cust[first_of_cust]] >= 0]
    o_day[first_of_cust] = cu.first[o_cust[first_of_cust]]

    # lines per order: 1..8, segment dependent, nudged to hit the requested total exactly
    k = 1 + np.minimum(rng.poisson(SEG_MEAN_LINES[seg] - 1.0), k_max - 1)
    k = _exact_total(rng, k, n_good, k_max)
    line_order = np.repeat(np.arange(n_o), k)
    n_l = len(line_order)
    line_number = (np.arange(n_l) - np.repeat(np.cumsum(k) - k, k) + 1).astype(np.int64)
    l_prod = _distinct_products(rng, line_order, pr.popularity, pr.n)
    l_cust = o_cust[line_order]
    l_seg = cu.seg[l_cust]
    l_day = o_day[line_order]
    l_cur = cu.currency[l_cust]

    # quantity: lognormal by segment, cheaper products in larger quantities
    list_usd = pr.list_cents[l_prod] / 100.0
    mu = np.log(SEG_QTY_MEDIAN[l_seg]) + 0.25 * np.log(50.0 / list_usd)
    qty = np.clip(np.round(rng.lognormal(mu, SEG_QTY_SIGMA[l_seg])), 1, 5000).astype(np.int64)
    # price: list price x drift x segment discount x occasional promotion, EUR via the day's rate
    drift = 1.0 + PRICE_DRIFT_PER_YEAR * l_day / 365.25
    day_month = pd.date_range(span.start, span.end, freq="D").month.to_numpy() - 1
    promo_p = np.where(day_month[l_day] >= 10, 0.15, 0.07)
    promo = np.where(rng.random(n_l) < promo_p, rng.uniform(0.7, 0.95, n_l), 1.0)
    to_cur = np.where(l_cur == 1, 1.0 / fx[l_day], 1.0)
    price = pr.list_cents[l_prod] * drift * SEG_PRICE_FACTOR[l_seg] * promo * to_cur
    price = np.maximum(1, np.round(price)).astype(np.int64)
    cost = np.round(pr.cost_cents[l_prod] * drift * rng.normal(1.0, 0.02, n_l) * to_cur)
    cost = cost.astype(np.int64)
    cost[(pr.cost_cents[l_prod] < 0) | (rng.random(n_l) < LINE_COST_EMPTY_SHARE)] = -1

    # returns: a few customers return everything they bought (one return order mirroring
    # each of their orders); the rest are single-line returns of random earlier purchases
    last_o = np.full(cu.n, -1, dtype=np.int64)
    np.maximum.at(last_o, o_cust, o_day)
    eligible = np.flatnonzero((last_o >= 0) & (last_o < D))
    n_full = min(len(eligible), max(1, round(cu.n * FULL_RETURNER_SHARE)))
    # prefer one-time buyers, then customers with the fewest orders
    pref = np.lexsort((rng.random(len(eligible)), counts[eligible], ~cu.one_time[eligible]))
    full_cust = np.zeros(cu.n, dtype=bool)
    full_cust[eligible[pref[:n_full]]] = True
    full_lines = np.flatnonzero(full_cust[l_cust])
    candidates = np.flatnonzero(~full_cust[l_cust] & (l_day < D))
    n_rand = min(len(candidates), max(0, n_returns - len(full_lines)))
    rand_lines = np.sort(rng.choice(candidates, size=n_rand, replace=False))
    ret_src = np.concatenate([full_lines, rand_lines])
    q_src = qty[ret_src]
    partial = (q_src > 1) & (rng.random(len(ret_src)) < 0.4)
    partial[: len(full_lines)] = False
    ret_qty = -np.where(partial, rng.integers(1, np.maximum(q_src, 2)), q_src)
    full_src, full_inv = np.unique(line_order[full_lines], return_inverse=True)
    full_o_day = np.minimum(D, o_day[full_src] + rng.geometric(1 / 10, len(full_src)))
    rand_day = np.minimum(D, l_day[rand_lines] + rng.geometric(1 / 14, n_rand))
    ret_day = np.concatenate([full_o_day[full_inv], rand_day])
    ret_order = np.concatenate([n_o + full_inv, n_o + len(full_src) + np.arange(n_rand)])
    # a full return keeps the line layout of the order it returns
    ret_line_no = np.concatenate([line_number[full_lines], np.ones(n_rand, dtype=np.int64)])
    # a share of the single-line returns is filed later under the original order id (line 31,
    # one per order), as many shops do: booked on its own date, it must not move the order
    rand_orders = line_order[rand_lines]
    _, first_of_order = np.unique(rand_orders, return_index=True)
    late = np.zeros(n_rand, dtype=bool)
    late[first_of_order] = rng.random(len(first_of_order)) < LATE_RETURN_SHARE
    ret_order[len(full_lines):][late] = rand_orders[late]
    ret_line_no[len(full_lines):][late] = LATE_RETURN_LINE_NUMBER
    n_ret_orders = len(full_src) + n_rand
    ret_o_cust = np.concatenate([o_cust[full_src], l_cust[rand_lines]])
    ret_o_day = np.concatenate([full_o_day, rand_day])

    # bad rows: each from a USD purchase line of a normal customer, bad in exactly one way
    bad_code = np.concatenate([np.resize(np.array(codes, dtype=np.int64), n_bad_each) for codes in BAD_KINDS.values()])
    pool = np.flatnonzero((l_cur == 0) & ~full_cust[l_cust])
    if len(pool) == 0:
        pool = np.arange(n_l)
    tmpl = rng.choice(pool, size=len(bad_code), replace=len(pool) < len(bad_code))
    is_dup = bad_code == 40
    new_rows = ~is_dup
    n_bad_orders = int(new_rows.sum())
    bad_order = np.full(len(bad_code), -1, dtype=np.int64)
    bad_order[new_rows] = n_o + n_ret_orders + np.arange(n_bad_orders)
    bad_order[is_dup] = line_order[tmpl[is_dup]]
    bad_line_no = np.where(is_dup, line_number[tmpl], 1)
    bad_cust = l_cust[tmpl].copy()
    bad_prod = l_prod[tmpl].copy()
    m = bad_code == 50
    bad_cust[m] = cu.n + np.arange(int(m.sum()))
    m = bad_code == 60
    bad_prod[m] = pr.n + np.arange(int(m.sum()))
    bad_price = price[tmpl].copy()
    bad_price[bad_code == 80] *= -1
    bad_cur = l_cur[tmpl].copy()
    bad_cur[bad_code == 90] = 2
    bad_o_cust = bad_cust[new_rows]
    bad_o_day = l_day[tmpl[new_rows]]

    # number orders chronologically (day, customer, random tie-break)
    all_o_cust = np.concatenate([o_cust, ret_o_cust, bad_o_cust])
    all_o_day = np.concatenate([o_day, ret_o_day, bad_o_day])
    shuffle = rng.permutation(len(all_o_day))  # random tie-break for same customer and day
    key = all_o_day[shuffle] * (int(all_o_cust.max()) + 1) + all_o_cust[shuffle]
    rank = shuffle[np.argsort(key, kind="stable")]
    order_num = np.empty(len(rank), dtype=np.int64)
    order_num[rank] = np.arange(1, len(rank) + 1)

    src_ret = ret_src
    cat = np.concatenate
    f_order = order_num[cat([line_order, ret_order, bad_order])]
    f_line = cat([line_number, ret_line_no, bad_line_no])
    f_dup = cat([np.zeros(n_l + len(ret_src), dtype=np.int64), is_dup.astype(np.int64)])
    perm = np.argsort((f_order * 32 + f_line) * 2 + f_dup)  # keys are unique
    ret_price = price[src_ret]
    return _OrderLines(
        order_num=f_order[perm],
        line_number=f_line[perm],
        cust=cat([l_cust, l_cust[src_ret], bad_cust])[perm],
        prod=cat([l_prod, l_prod[src_ret], bad_prod])[perm],
        day=cat([l_day, ret_day, l_day[tmpl]])[perm],
        quantity=cat([qty, ret_qty, qty[tmpl]])[perm],
        price_cents=cat([price, ret_price, bad_price])[perm],
        amount_cents=cat([qty * price, ret_qty * ret_price, qty[tmpl] * bad_price])[perm],
        cost_cents=cat([cost, cost[src_ret], cost[tmpl]])[perm],
        currency=cat([l_cur, l_cur[src_ret], bad_cur]).astype(np.int8)[perm],
        bad=cat([np.zeros(n_l + len(ret_src), dtype=np.int64), bad_code]).astype(np.int8)[perm],
        n_orders=len(rank),
        n_purchase=n_l,
        n_return=len(ret_src),
        n_bad=len(bad_code),
    )


# --- sales targets ---------------------------------------------------------------------------


@dataclass
class _Targets:
    cust: np.ndarray
    month: np.ndarray  # months since 1970-01 (numpy datetime64[M] as int)
    amount_cents: np.ndarray


def _make_targets(rng: np.random.Generator, cu: _Customers, ol: _OrderLines, span: _Span, fx: np.ndarray) -> _Targets:
    good = (ol.bad == 0) & (ol.cust < cu.n)
    g_cust = ol.cust[good]
    usd = ol.amount_cents[good] * np.where(ol.currency[good] == 1, fx[ol.day[good]], 1.0)
    revenue = np.bincount(g_cust, weights=usd, minlength=cu.n)
    last_day = np.full(cu.n, -1, dtype=np.int64)
    np.maximum.at(last_day, g_cust, ol.day[good])
    start_m = np.datetime64(span.start, "M").astype(np.int64)
    end_m = np.datetime64(span.end, "M").astype(np.int64)
    last_m = (np.datetime64(span.start) + last_day.astype("timedelta64[D]")).astype("datetime64[M]").astype(np.int64)
    has = last_day >= 0
    n_t = round(cu.n * TARGET_CUSTOMER_SHARE)
    # a few lapsed customers with targets but no spend in the target months
    lapsed_pool = np.flatnonzero(has & (last_m <= end_m - 12) & (last_m >= start_m))
    n_lapsed = min(len(lapsed_pool), max(2, round(n_t * 0.03)))
    lapsed = rng.choice(lapsed_pool, size=n_lapsed, replace=False)
    active_pool = np.flatnonzero(has & (last_day >= span.days - 365))
    active_pool = np.setdiff1d(active_pool, lapsed)
    n_active = min(len(active_pool), n_t - n_lapsed)
    # account-managed customers are far more likely to get targets
    weight = np.where(cu.has_manager[active_pool], 6.0, 1.0)
    if n_active > 0:
        active = rng.choice(active_pool, size=n_active, replace=False, p=weight / weight.sum())
    else:
        active = np.zeros(0, dtype=np.int64)
    chosen = np.sort(np.concatenate([active, lapsed]))
    n_months = rng.integers(12, 19, len(chosen))
    is_lapsed = np.isin(chosen, lapsed)
    n_months = np.where(is_lapsed, np.minimum(n_months, end_m - last_m[chosen]), n_months)
    first_m = np.maximum(end_m - n_months + 1, start_m)
    n_months = end_m - first_m + 1
    t_cust = np.repeat(chosen, n_months)
    t_month = np.repeat(first_m, n_months) + (
        np.arange(n_months.sum()) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    )
    active_months = np.maximum(1.0, (cu.last - np.maximum(cu.first, 0) + 1) / 30.44)
    monthly = revenue[t_cust] / active_months[t_cust]
    season = MONTH_FACTOR[t_month % 12] / MONTH_FACTOR.mean()
    stretch = np.repeat(rng.uniform(0.9, 1.3, len(chosen)), n_months)
    amount = np.maximum(50.0, np.round(monthly * season * stretch / 1000.0) * 10.0)
    return _Targets(t_cust, t_month, (amount * 100).astype(np.int64))


# --- writing ---------------------------------------------------------------------------------


def _id_width(n: int, minimum: int) -> int:
    return max(minimum, len(str(n)))


def _write_all(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    fmt: str,
    bad_rows: bool,
    cu: _Customers,
    pr: _Products,
    ol: _OrderLines,
    tg: _Targets,
    span: _Span,
    fx: np.ndarray,
    t0: float,
) -> None:
    csv = fmt == "csv"
    money = "DECIMAL(18,2)" if csv else "DOUBLE"
    wc = _id_width(int(ol.cust.max()) + 1, 6)
    wp = _id_width(int(ol.prod.max()) + 1, 5)
    wo = _id_width(ol.n_orders, 7)
    epoch = span.epoch_offset

    def date32(days: np.ndarray) -> pa.Array:
        return pa.array((days + epoch).astype(np.int32), type=pa.date32())

    def cents(c: np.ndarray, empty: np.ndarray | None = None) -> pa.Array:
        return pa.array(c / 100.0, mask=empty)

    def write(name: str, table: pa.Table, select: str, suffix: str = "") -> None:
        path = out / f"{name}.{fmt}"
        tmp = out / f".{name}.{fmt}.tmp"
        con.register("src", table)
        options = "FORMAT csv, HEADER true" if csv else "FORMAT parquet, COMPRESSION zstd"
        con.execute(f"COPY ({select} FROM src{suffix}) TO '{_sql_path(tmp)}' ({options})").fetchall()
        con.unregister("src")
        os.replace(tmp, path)
        other = out / f"{name}.{'parquet' if csv else 'csv'}"
        if other.exists():
            other.unlink()
        _log(f"wrote {path.name} ({table.num_rows:,} rows, {time.perf_counter() - t0:.1f}s)")

    cid = f"'C' || lpad((cust + 1)::VARCHAR, {wc}, '0')"
    pid = f"'P' || lpad((prod + 1)::VARCHAR, {wp}, '0')"

    table = pa.table(
        {
            "order_num": ol.order_num,
            "line_number": ol.line_number.astype(np.int32),
            "cust": ol.cust,
            "prod": ol.prod,
            "d": date32(ol.day),
            "quantity": ol.quantity,
            "price": cents(ol.price_cents),
            "amount": cents(ol.amount_cents),
            "cost": cents(ol.cost_cents, empty=ol.cost_cents == -1),
            "cur": ol.currency,
            "bad": ol.bad,
        }
    )
    cur = "CASE cur WHEN 0 THEN 'USD' WHEN 1 THEN 'EUR' ELSE 'GBP' END"
    if bad_rows:
        # text columns so they can carry the unparseable values
        future = "make_date(2099, month(d), CASE WHEN month(d) = 2 AND day(d) = 29 THEN 28 ELSE day(d) END)"
        select = f"""SELECT
            CASE WHEN bad = 31 THEN NULL ELSE 'O' || lpad(order_num::VARCHAR, {wo}, '0') END
                AS order_id,
            line_number,
            CASE WHEN bad = 32 THEN NULL ELSE {cid} END AS customer_id,
            CASE WHEN bad = 33 THEN NULL ELSE {pid} END AS product_id,
            CASE bad WHEN 21 THEN '2024-13-45' WHEN 22 THEN 'not a date'
                WHEN 70 THEN {future}::VARCHAR ELSE d::VARCHAR END AS ordered_at,
            CASE bad WHEN 11 THEN 'abc' WHEN 13 THEN 'NaN' ELSE quantity::VARCHAR END AS quantity,
            CASE bad WHEN 12 THEN '12,5x' WHEN 14 THEN '1e400'
                ELSE price::DECIMAL(18,2)::VARCHAR END AS unit_price,
            amount::{money} AS line_amount,
            cost::{money} AS unit_cost,
            {cur} AS currency"""
    else:
        select = f"""SELECT
            'O' || lpad(order_num::VARCHAR, {wo}, '0') AS order_id,
            line_number,
            {cid} AS customer_id,
            {pid} AS product_id,
            d AS ordered_at,
            quantity::INTEGER AS quantity,
            price::{money} AS unit_price,
            amount::{money} AS line_amount,
            cost::{money} AS unit_cost,
            {cur} AS currency"""
    write("order_lines", table, select)
    del table

    cust = np.arange(cu.n)
    write(
        "customers",
        pa.table(
            {
                "cust": cust,
                "customer_name": pa.array(cu.name.astype(str)),
                "segment": pa.array(np.asarray(SEGMENTS, dtype=object)[cu.seg], type=pa.string()),
                "account_manager": pa.array(cu.manager, type=pa.string()),
                "created_at": date32(cu.created),
                "email_opt_in": cu.opt_in,
            }
        ),
        # with bad rows, one customer has an unreadable created_at (kept, the field nulled)
        f"SELECT {cid} AS customer_id, customer_name, segment, account_manager, "
        + ("CASE WHEN cust = 0 THEN 'last spring' ELSE created_at::VARCHAR END AS created_at, "
           if bad_rows else "created_at, ")
        + "email_opt_in",
    )
    cat_names = np.array([c[0] for c in CATEGORIES], dtype=object)
    write(
        "products",
        pa.table(
            {
                "prod": np.arange(pr.n),
                "product_name": pa.array(pr.name.astype(str)),
                "category": pa.array(cat_names[pr.category].astype(str)),
                "tags": pa.array(pr.tags.astype(str)),
                "cost": cents(pr.cost_cents, empty=pr.cost_cents == -1),
            }
        ),
        # with bad rows, two products have a bad optional cost (kept, their cost missing)
        f"SELECT {pid} AS product_id, product_name, category, tags, "
        + ("CASE prod WHEN 0 THEN 'n/a' WHEN 1 THEN 'NaN' ELSE cost::VARCHAR END AS unit_cost"
           if bad_rows else f"cost::{money} AS unit_cost"),
    )
    wb = _id_width(len(pr.bundle_names), 4)
    write(
        "product_bundles",
        pa.table(
            {
                "bundle": pr.bundle_id,
                "bundle_name": pa.array(pr.bundle_names[pr.bundle_id].astype(str)),
                "prod": pr.bundle_product,
            }
        ),
        f"SELECT 'B' || lpad((bundle + 1)::VARCHAR, {wb}, '0') AS bundle_id, bundle_name, {pid} AS product_id"
        # with bad rows: a member that is no product, and a repeated membership (both set aside)
        + (f" FROM src UNION ALL SELECT 'B' || lpad('1', {wb}, '0'), 'Unknown member', 'P-NONE'"
           f" UNION ALL (SELECT 'B' || lpad((bundle + 1)::VARCHAR, {wb}, '0'), bundle_name, {pid}"
           if bad_rows and len(pr.bundle_id) else ""),
        suffix=" LIMIT 1)" if bad_rows and len(pr.bundle_id) else "",
    )
    write(
        "sales_targets",
        pa.table(
            {
                "cust": tg.cust,
                "month": pa.array(tg.month.astype("datetime64[M]").astype("datetime64[D]")),
                "amount": cents(tg.amount_cents),
            }
        ),
        f"SELECT {cid} AS customer_id, month::DATE AS month, amount::{money} AS target_amount",
    )
    write(
        "fx_rates",
        pa.table({"d": date32(np.arange(span.days + 1)), "rate": fx}),
        f"SELECT 'EUR' AS currency, d AS rate_date, rate::{'DECIMAL(10,4)' if csv else 'DOUBLE'} AS rate_to_reporting",
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
