"""The synthetic data generator: determinism, size, realism and the planted bad rows.

Every expectation is computed here from the written files with pandas, independently of the
generator's own bookkeeping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from spendlens.cli import main
from spendlens.errors import SpendlensError
from spendlens.generate import INPUTS, generate

LINES = 20_000
END = "2026-06-30"
ARGS = dict(lines=LINES, customers=None, products=None, seed=7, years=3, end_date=END)
KEYS = ["order_id", "customer_id", "product_id"]
VOCABULARY = ["eco", "premium", "bulk", "new", "clearance"]  # the ungrouped product tags, in order
# the ten bad-row kinds of the input contract
KINDS = [
    "unparseable_number",
    "non_finite_number",
    "unparseable_date",
    "missing_key",
    "duplicate_line",
    "unknown_customer",
    "unknown_product",
    "future_date",
    "negative_unit_price",
    "currency_without_rate",
]


def _run(out: Path, fmt: str = "csv", bad_rows: bool = True, **overrides: object) -> Path:
    generate(out=out, fmt=fmt, bad_rows=bad_rows, **{**ARGS, **overrides})  # type: ignore[arg-type]
    return out


def _is_float_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("gen_csv"))


@pytest.fixture(scope="module")
def data(csv_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: _read_csv(csv_dir, name) for name in INPUTS}


@pytest.fixture(scope="module")
def classified(data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """order_lines with parsed columns and one boolean column per bad-row kind."""
    ol = data["order_lines"].copy()
    known_cur = set(data["fx_rates"]["currency"]) | {"USD"}
    qty = pd.to_numeric(ol["quantity"], errors="coerce")
    price = pd.to_numeric(ol["unit_price"], errors="coerce")
    date = pd.to_datetime(ol["ordered_at"], format="%Y-%m-%d", errors="coerce")
    ol["q"], ol["price"], ol["date"] = qty, price, date
    ol["amount"] = pd.to_numeric(ol["line_amount"], errors="coerce")
    has_key = (ol[KEYS] != "").all(axis=1)
    # text Python reads as a float but not a finite one (NaN, 1e400) vs text it cannot read
    readable = [ol[c].map(_is_float_text) for c in ("quantity", "unit_price")]
    ol["unparseable_number"] = ~readable[0] | ~readable[1]
    ol["non_finite_number"] = (readable[0] & ~np.isfinite(qty.fillna(np.inf))) | (
        readable[1] & ~np.isfinite(price.fillna(np.inf)))
    ol["unparseable_date"] = date.isna()
    ol["missing_key"] = ~has_key
    ol["duplicate_line"] = has_key & ol.duplicated(["order_id", "line_number"])
    ol["unknown_customer"] = (ol["customer_id"] != "") & ~ol["customer_id"].isin(data["customers"]["customer_id"])
    ol["unknown_product"] = (ol["product_id"] != "") & ~ol["product_id"].isin(data["products"]["product_id"])
    ol["future_date"] = date > pd.Timestamp(END)
    ol["negative_unit_price"] = price < 0
    ol["currency_without_rate"] = ~ol["currency"].isin(known_cur)
    ol["bad"] = ol[KINDS].any(axis=1)
    return ol


@pytest.fixture(scope="module")
def clean(classified: pd.DataFrame, data: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Good lines with line_amount converted to USD through fx_rates."""
    good = classified[~classified["bad"]].copy()
    fx = data["fx_rates"].assign(
        date=pd.to_datetime(data["fx_rates"]["rate_date"]),
        rate=pd.to_numeric(data["fx_rates"]["rate_to_reporting"]),
    )[["currency", "date", "rate"]]
    good = good.merge(fx, on=["currency", "date"], how="left")
    good.loc[good["currency"] == "USD", "rate"] = 1.0
    good["usd"] = good["amount"] * good["rate"]
    return good


def test_writes_exactly_the_six_csv_files(csv_dir: Path) -> None:
    assert sorted(p.name for p in csv_dir.iterdir()) == sorted(f"{n}.csv" for n in INPUTS)


def test_same_arguments_give_identical_bytes(csv_dir: Path, tmp_path: Path) -> None:
    again = _run(tmp_path / "again")
    for name in INPUTS:
        assert (again / f"{name}.csv").read_bytes() == (csv_dir / f"{name}.csv").read_bytes(), name
    other = _run(tmp_path / "other_seed", seed=8)
    assert (other / "order_lines.csv").read_bytes() != (csv_dir / "order_lines.csv").read_bytes()


def test_line_count_close_to_request(data: dict[str, pd.DataFrame]) -> None:
    assert abs(len(data["order_lines"]) - LINES) <= 0.05 * LINES
    # defaults: customers = lines // 100, products = lines // 200
    assert len(data["customers"]) == LINES // 100
    assert len(data["products"]) == LINES // 200


def test_ids_are_text_with_leading_zeros(data: dict[str, pd.DataFrame]) -> None:
    assert data["customers"]["customer_id"].str.fullmatch(r"C\d{6}").all()
    assert data["products"]["product_id"].str.fullmatch(r"P\d{5}").all()
    assert data["customers"]["customer_id"].iloc[0] == "C000001"
    assert data["customers"]["customer_id"].is_unique
    assert data["products"]["product_id"].is_unique
    order_ids = data["order_lines"]["order_id"]
    assert order_ids[order_ids != ""].str.fullmatch(r"O\d{7}").all()


def test_every_bad_row_kind_is_present(classified: pd.DataFrame) -> None:
    counts = classified[KINDS].sum()
    assert (counts >= 3).all(), counts.to_dict()
    share = classified["bad"].mean()
    assert 0.001 <= share <= 0.006, share
    # each planted row is bad in exactly one way
    assert (classified.loc[classified["bad"], KINDS].sum(axis=1) == 1).all()
    # the sub-variants named in the contract
    assert (classified["quantity"] == "abc").any()
    assert (classified["unit_price"] == "12,5x").any()
    assert {"2024-13-45", "not a date"} <= set(classified["ordered_at"])
    for key in KEYS:
        assert (classified[key] == "").any(), key
    assert (classified["date"].dt.year == 2099).any()
    assert (classified["currency"] == "GBP").any()


def test_duplicates_are_exact_repeats(classified: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    raw = data["order_lines"]
    dup_key = classified["duplicate_line"]
    exact = raw.duplicated(keep="first")
    assert (dup_key == exact).all()


def test_no_bad_rows_when_switched_off(tmp_path: Path) -> None:
    out = _run(tmp_path, bad_rows=False, lines=5_000)
    ol = _read_csv(out, "order_lines")
    customers = set(_read_csv(out, "customers")["customer_id"])
    products = set(_read_csv(out, "products")["product_id"])
    assert pd.to_numeric(ol["quantity"], errors="coerce").notna().all()
    assert (pd.to_numeric(ol["unit_price"], errors="coerce") >= 0).all()
    dates = pd.to_datetime(ol["ordered_at"], format="%Y-%m-%d", errors="coerce")
    assert dates.notna().all() and (dates <= pd.Timestamp(END)).all()
    assert not ol.duplicated(["order_id", "line_number"]).any()
    assert ol["customer_id"].isin(customers).all() and ol["product_id"].isin(products).all()
    assert set(ol["currency"]) <= {"USD", "EUR"}


def test_revenue_is_pareto_skewed(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    revenue = clean.groupby("customer_id")["usd"].sum().reindex(data["customers"]["customer_id"]).fillna(0)
    top = revenue.sort_values(ascending=False).head(len(revenue) // 5).sum()
    assert 0.5 <= top / revenue.sum() <= 0.9


def test_product_popularity_is_skewed(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    lines_per_product = clean["product_id"].value_counts()
    top10 = lines_per_product.head(len(data["products"]) // 10).sum()
    assert top10 / lines_per_product.sum() > 0.25  # uniform would be 0.10


def test_returns_follow_a_purchase(clean: pd.DataFrame) -> None:
    returns = clean[clean["q"] < 0]
    assert 0.015 <= len(returns) / len(clean) <= 0.035
    buys = clean[clean["q"] > 0].groupby(["customer_id", "product_id"])["date"].min()
    first_buy = returns.join(buys.rename("first_buy"), on=["customer_id", "product_id"])
    assert (first_buy["first_buy"] < first_buy["date"]).all()
    # at least one customer returned everything they bought
    per_product = (
        clean.assign(bought=clean["q"].clip(lower=0))
        .groupby(["customer_id", "product_id"])
        .agg(bought=("bought", "sum"), net=("q", "sum"))
    )
    per_customer = (
        per_product.assign(kept=per_product["net"] != 0)
        .groupby("customer_id")
        .agg(bought=("bought", "sum"), kept=("kept", "sum"))
    )
    assert ((per_customer["bought"] > 0) & (per_customer["kept"] == 0)).sum() >= 1


def test_amounts_and_costs(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    assert ((clean["q"] * clean["price"] - clean["amount"]).abs() < 0.005).all()
    line_cost_empty = (clean["unit_cost"] == "").mean()
    assert 0.05 <= line_cost_empty <= 0.2
    products = data["products"]
    assert (products["unit_cost"] == "").sum() >= 1
    cost = pd.to_numeric(products["unit_cost"], errors="coerce")
    usd = clean[clean["currency"] == "USD"].merge(products.assign(pcost=cost)[["product_id", "pcost"]], on="product_id")
    ratio = (usd["pcost"] / usd["price"]).median()
    assert 0.5 <= ratio <= 0.85


def test_eur_lines_all_have_a_rate(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    eur = clean[clean["currency"] == "EUR"]
    assert 0.02 <= len(eur) / len(clean) <= 0.25
    assert eur["rate"].notna().all()
    assert set(clean["currency"]) == {"USD", "EUR"}
    fx = data["fx_rates"]
    assert set(fx["currency"]) == {"EUR"}
    rates = pd.to_numeric(fx["rate_to_reporting"])
    assert rates.between(1.05, 1.15).all()
    days = pd.to_datetime(fx["rate_date"])
    start = pd.Timestamp(END) - pd.DateOffset(years=3)
    assert days.min() <= start and days.max() >= pd.Timestamp(END)
    assert days.is_unique and (days.diff().dropna() == pd.Timedelta(days=1)).all()


def test_orders_dates_and_seasonality(clean: pd.DataFrame) -> None:
    start = pd.Timestamp(END) - pd.DateOffset(years=3)
    assert clean["date"].between(start, pd.Timestamp(END)).all()
    buys = clean[clean["q"] > 0].assign(line=lambda b: b["line_number"].astype(int))
    per_order = buys.groupby("order_id").agg(
        k=("product_id", "size"),
        distinct=("product_id", "nunique"),
        max_line=("line", "max"),
        customers=("customer_id", "nunique"),
        days=("date", "nunique"),
    )
    assert per_order["k"].between(1, 8).all() and per_order["k"].max() >= 6
    assert (per_order["distinct"] == per_order["k"]).all()
    assert (per_order["max_line"] == per_order["k"]).all()
    assert (per_order["customers"] == 1).all() and (per_order["days"] == 1).all()
    month = buys["date"].dt.month
    per_day = buys.groupby(month)["usd"].sum() / buys.groupby(month)["date"].nunique()
    assert per_day[[11, 12]].mean() > 1.3 * per_day[[7, 8]].mean()
    weekday = buys.drop_duplicates("order_id")["date"].dt.day_of_week.value_counts()
    assert weekday[6] < 0.7 * weekday[1]  # fewer orders on Sundays than Tuesdays


def test_customer_life_cycles(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    buys = clean[clean["q"] > 0]
    per_customer = buys.groupby("customer_id").agg(
        first=("date", "min"), last=("date", "max"), orders=("order_id", "nunique")
    )
    end = pd.Timestamp(END)
    assert (per_customer["orders"] == 1).mean() >= 0.03  # one-time buyers
    assert (per_customer["last"] < end - pd.Timedelta(days=180)).mean() >= 0.1  # churned
    assert (per_customer["first"] > end - pd.DateOffset(years=1)).mean() >= 0.1  # acquired late
    customers = data["customers"]
    segments = customers["segment"].value_counts()
    assert {"Retail", "Online", "Trade", "Distributor"} <= set(segments.index)
    assert 0 < (customers["segment"] == "").sum() <= 0.06 * len(customers)
    created = pd.to_datetime(customers.set_index("customer_id")["created_at"], format="%Y-%m-%d",
                             errors="coerce")
    # one planted unreadable created_at (kept by the ledger, the field nulled)
    assert customers["created_at"].tolist()[0] == "last spring" and created.isna().sum() == 1
    created = created.reindex(per_customer.index).dropna()
    assert (created <= per_customer["first"].reindex(created.index)).all()
    assert set(customers["email_opt_in"]) == {"true", "false"}


def test_products_and_bundles(data: dict[str, pd.DataFrame]) -> None:
    products, bundles = data["products"], data["product_bundles"]
    assert 8 <= products["category"].nunique() <= 15
    # tags: one grouped brand:<brand> tag first, the brand the product's name starts with, then
    # 1..3 ungrouped tags in vocabulary order
    tags = products["tags"].str.split("|")
    brand_tag = tags.str[0]
    assert brand_tag.str.fullmatch(r"brand:[A-Z][a-z]+").all()
    assert (brand_tag.str.removeprefix("brand:") == products["product_name"].str.split(" ").str[0]).all()
    plain = tags.str[1:]
    assert plain.map(len).between(1, 3).all()
    assert plain.map(lambda t: t == [v for v in VOCABULARY if v in t]).all()
    assert not plain.explode().str.contains(":").any()
    in_bundle = products["product_id"].isin(bundles["product_id"]).mean()
    assert 0.2 <= in_bundle <= 0.4
    assert (bundles.groupby("product_id").size() >= 2).any()
    # the planted unusable rows: one repeated membership and one member that is no product
    assert bundles.duplicated(["bundle_id", "product_id"]).sum() == 1
    assert (~bundles["product_id"].isin(products["product_id"])).sum() == 1
    assert products["unit_cost"].tolist()[:2] == ["n/a", "NaN"]


def test_brands_are_a_few_per_category_skewed_and_tags_set_prices(tmp_path: Path) -> None:
    """A big catalogue: each category is sold under 4 brands, the leader with about 45 % of its
    products and the smallest about 10 %; premium products cost about x1.4, clearance x0.75."""
    products = _read_csv(_run(tmp_path, lines=1_000, products=2_400, bad_rows=False), "products")
    tags = products["tags"].str.split("|")
    products["brand"] = tags.str[0].str.removeprefix("brand:")
    counts = products.groupby("category")["brand"].value_counts()  # largest first per category
    assert (counts.groupby(level="category").size() == 4).all()
    # pooled over the categories: the products of each category's 1st, 2nd, 3rd, 4th brand
    by_place = counts.groupby(level="category").cumcount()
    shares = counts.groupby(by_place.to_numpy()).sum() / len(products)
    assert shares.round(2).tolist() == pytest.approx([0.45, 0.25, 0.20, 0.10], abs=0.03), shares
    # a brand may span categories, but no brand is in every category
    assert products.groupby("brand")["category"].nunique().max() < products["category"].nunique()
    cost = pd.to_numeric(products["unit_cost"], errors="coerce")
    relative = cost / cost.groupby(products["category"]).transform("median")
    premium, clearance = tags.map(lambda t: "premium" in t), tags.map(lambda t: "clearance" in t)
    plain = relative[~premium & ~clearance].median()
    assert 1.25 <= relative[premium & ~clearance].median() / plain <= 1.6
    assert 0.65 <= relative[clearance & ~premium].median() / plain <= 0.85


def test_sales_targets(clean: pd.DataFrame, data: dict[str, pd.DataFrame]) -> None:
    targets = data["sales_targets"].assign(
        month=lambda t: pd.to_datetime(t["month"]), amount=lambda t: pd.to_numeric(t["target_amount"])
    )
    n_customers = len(data["customers"])
    per_customer = targets.groupby("customer_id")["month"].agg(["size", "min", "max"])
    assert 0.2 <= len(per_customer) / n_customers <= 0.35
    assert per_customer["size"].between(12, 18).all()
    assert (targets["month"].dt.day == 1).all() and (targets["amount"] > 0).all()
    assert (per_customer["max"] == pd.Timestamp(END).replace(day=1)).all()
    spend_from = clean.merge(per_customer["min"].rename("from"), on="customer_id")
    spent = set(spend_from.loc[spend_from["date"] >= spend_from["from"], "customer_id"])
    assert len(set(per_customer.index) - spent) >= 1  # targets without spend


def test_csv_and_parquet_hold_the_same_data(csv_dir: Path, tmp_path: Path) -> None:
    pq_dir = _run(tmp_path, fmt="parquet")
    assert sorted(p.name for p in pq_dir.iterdir()) == sorted(f"{n}.parquet" for n in INPUTS)
    for name in INPUTS:
        text = _read_csv(csv_dir, name)
        table = pd.read_parquet(pq_dir / f"{name}.parquet")
        assert list(table.columns) == list(text.columns), name
        assert len(table) == len(text), name
        for col in table.columns:
            got, want = table[col], text[col]
            if pd.api.types.is_bool_dtype(got):
                got = got.map({True: "true", False: "false"})
                assert (got == want).all(), (name, col)
            elif pd.api.types.is_numeric_dtype(got):
                pd.testing.assert_series_equal(got.astype(float), pd.to_numeric(want).astype(float), check_names=False)
            else:
                got = got.astype(str).where(got.notna(), "")
                assert (got.to_numpy() == want.to_numpy()).all(), (name, col)


def test_parquet_types(tmp_path: Path) -> None:
    typed = pq.read_schema(_run(tmp_path / "typed", fmt="parquet", bad_rows=False) / "order_lines.parquet")
    assert str(typed.field("quantity").type) == "int32"
    assert str(typed.field("unit_price").type) == "double"
    assert str(typed.field("ordered_at").type) == "date32[day]"
    assert str(typed.field("order_id").type) == "string"
    loose = pq.read_schema(_run(tmp_path / "loose", fmt="parquet") / "order_lines.parquet")
    for col in ("quantity", "unit_price", "ordered_at"):
        assert str(loose.field(col).type) == "string", col
    assert str(loose.field("line_amount").type) == "double"


def test_switching_format_removes_the_other_copy(tmp_path: Path) -> None:
    _run(tmp_path, fmt="csv", lines=2_000)
    _run(tmp_path, fmt="parquet", lines=2_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.parquet" for n in INPUTS)


def test_small_catalogue_and_other_dates(tmp_path: Path) -> None:
    _run(tmp_path, lines=3_000, customers=15, products=10, years=1, end_date="2024-02-29")
    ol = _read_csv(tmp_path, "order_lines")
    assert abs(len(ol) - 3_000) <= 150
    good = pd.to_datetime(ol["ordered_at"], format="%Y-%m-%d", errors="coerce")
    good = good[good.dt.year < 2090]
    assert good.min() >= pd.Timestamp("2023-02-28") and good.max() <= pd.Timestamp("2024-02-29")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lines": 10}, "--lines"),
        ({"end_date": "2026-13-01"}, "--end-date"),
        ({"years": 0}, "--years"),
        ({"customers": 3}, "--customers"),
        ({"products": 2}, "--products"),
        ({"fmt": "xlsx"}, "format"),
    ],
)
def test_bad_arguments_raise_actionable_errors(tmp_path: Path, overrides: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {**ARGS, "fmt": "csv", "bad_rows": True, **overrides}
    with pytest.raises(SpendlensError, match=message):
        generate(out=tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--lines", "2000", "--out", str(tmp_path), "--seed", "1"]) == 0
    assert (tmp_path / "order_lines.csv").exists()
    assert "generate:" in capsys.readouterr().out
    assert main(["generate", "--lines", "5", "--out", str(tmp_path)]) == 1
