"""The CDNOW and Superstore importers, checked against sums computed from the raw files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from spendlens.cli import main
from spendlens.errors import SpendlensError
from spendlens.importers import import_cdnow, import_superstore


def _datasets() -> Path:
    """SPENDLENS_DATASETS, else shared/datasets beside the work tree (CI), else /work/shared."""
    if "SPENDLENS_DATASETS" in os.environ:
        return Path(os.environ["SPENDLENS_DATASETS"])
    beside = Path(__file__).resolve().parents[3] / "shared" / "datasets"
    return beside if beside.exists() else Path("/work/shared/datasets")


DATASETS = _datasets()
CDNOW = DATASETS / "cdnow" / "CDNOW_master.txt"
SUPERSTORE = DATASETS / "superstore" / "superstore.csv"


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="raise")


# --- CDNOW -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_raw() -> pd.DataFrame:
    if not CDNOW.exists():
        pytest.skip(f"{CDNOW} not present (set SPENDLENS_DATASETS)")
    return pd.read_csv(CDNOW, sep=r"\s+", dtype=str)


@pytest.fixture(scope="module")
def cdnow(cdnow_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdnow")
    # stale files from an earlier data set in the same folder must disappear
    (out / "fx_rates.csv").write_text("currency,rate_date,rate_to_reporting\n")
    (out / "sales_targets.parquet").write_bytes(b"stale")
    (out / "customers.parquet").write_bytes(b"stale")
    import_cdnow(CDNOW, out)
    return out


def test_cdnow_files(cdnow: Path) -> None:
    assert sorted(p.name for p in cdnow.iterdir()) == [
        "customers.csv",
        "order_lines.csv",
        "products.csv",
    ]


def test_cdnow_lines_and_totals(cdnow: Path, cdnow_raw: pd.DataFrame) -> None:
    ol = _read(cdnow, "order_lines")
    assert len(ol) == len(cdnow_raw) == 69_659
    assert _num(ol["line_amount"]).sum() == pytest.approx(_num(cdnow_raw["dollar_value"]).sum(), abs=1e-6)
    assert _num(ol["quantity"]).sum() == _num(cdnow_raw["number_of_cds"]).sum()
    # file order is kept, so the columns line up with the raw file row by row
    assert (ol["customer_id"].to_numpy() == cdnow_raw["customer_id"].to_numpy()).all()
    assert (_num(ol["line_amount"]).to_numpy() == _num(cdnow_raw["dollar_value"]).to_numpy()).all()
    qty, price = _num(ol["quantity"]), _num(ol["unit_price"])
    assert (qty * price - _num(ol["line_amount"])).abs().max() < 1e-9
    assert (ol["unit_cost"] == "").all() and (ol["currency"] == "USD").all()
    assert (ol["product_id"] == "CD").all()
    dates = pd.to_datetime(ol["ordered_at"], format="%Y-%m-%d")
    assert (dates.dt.strftime("%Y%m%d").to_numpy() == cdnow_raw["date"].to_numpy()).all()


def test_cdnow_orders(cdnow: Path, cdnow_raw: pd.DataFrame) -> None:
    ol = _read(cdnow, "order_lines")
    pairs = cdnow_raw.groupby(["customer_id", "date"]).ngroups
    assert ol["order_id"].nunique() == pairs == 67_591
    assert (ol["order_id"] == ol["customer_id"] + "-" + cdnow_raw["date"]).all()
    line = ol["line_number"].astype(int)
    expected = ol.groupby("order_id").cumcount() + 1
    assert (line == expected).all()
    assert not ol.duplicated(["order_id", "line_number"]).any()


def test_cdnow_customers_keep_leading_zeros(cdnow: Path, cdnow_raw: pd.DataFrame) -> None:
    customers = _read(cdnow, "customers")
    assert len(customers) == cdnow_raw["customer_id"].nunique() == 23_570
    assert customers["customer_id"].str.fullmatch(r"\d{5}").all()
    assert customers["customer_id"].iloc[0] == "00001"
    assert (customers["customer_name"] == "Customer " + customers["customer_id"]).all()
    assert (customers["segment"] == "").all()
    assert set(_read(cdnow, "order_lines")["customer_id"]) == set(customers["customer_id"])
    products = _read(cdnow, "products")
    assert products.to_dict("records") == [
        {"product_id": "CD", "product_name": "CD", "category": "Music", "tags": "", "unit_cost": ""}
    ]


# --- Superstore ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def superstore_raw() -> pd.DataFrame:
    if not SUPERSTORE.exists():
        pytest.skip(f"{SUPERSTORE} not present (set SPENDLENS_DATASETS)")
    return pd.read_csv(SUPERSTORE, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def superstore(superstore_raw: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("superstore")
    (out / "order_lines.parquet").write_bytes(b"stale")
    import_superstore(SUPERSTORE, out)
    return out


def test_superstore_files(superstore: Path) -> None:
    assert sorted(p.name for p in superstore.iterdir()) == [
        "customers.csv",
        "order_lines.csv",
        "product_bundles.csv",
        "products.csv",
    ]


def test_superstore_lines_and_totals(superstore: Path, superstore_raw: pd.DataFrame) -> None:
    ol = _read(superstore, "order_lines")
    raw = superstore_raw
    assert len(ol) == len(raw) == 9_994
    sales, profit = _num(raw["Sales"]), _num(raw["Profit"])
    qty, price, cost = _num(ol["quantity"]), _num(ol["unit_price"]), _num(ol["unit_cost"])
    amount = _num(ol["line_amount"])
    assert amount.sum() == pytest.approx(sales.sum(), abs=1e-6)
    assert (qty * cost).sum() == pytest.approx((sales - profit).sum(), abs=1e-6)
    assert qty.sum() == _num(raw["Quantity"]).sum()
    # full precision: quantity x unit_price gives back Sales, quantity x unit_cost Sales - Profit
    assert (qty * price - amount).abs().max() < 1e-9
    assert ((qty * cost) - (sales - profit).to_numpy()).abs().max() < 1e-9
    assert ol["order_id"].nunique() == raw["Order ID"].nunique()
    assert (ol["currency"] == "USD").all()


def test_superstore_order_layout(superstore: Path, superstore_raw: pd.DataFrame) -> None:
    ol = _read(superstore, "order_lines")
    raw = superstore_raw.assign(row_id=_num(superstore_raw["Row ID"])).sort_values("row_id")
    # output is in Row ID order; line numbers count 1..k within an order in that order
    assert (ol["order_id"].to_numpy() == raw["Order ID"].to_numpy()).all()
    assert (ol["product_id"].to_numpy() == raw["Product ID"].to_numpy()).all()
    expected = raw.groupby("Order ID").cumcount() + 1
    assert (ol["line_number"].astype(int).to_numpy() == expected.to_numpy()).all()
    iso = pd.to_datetime(raw["Order Date"], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")
    assert (ol["ordered_at"].to_numpy() == iso.to_numpy()).all()


def test_superstore_customers_and_products(superstore: Path, superstore_raw: pd.DataFrame) -> None:
    raw = superstore_raw
    customers = _read(superstore, "customers")
    assert len(customers) == raw["Customer ID"].nunique() == 793
    assert customers["customer_id"].is_unique
    want = raw.drop_duplicates("Customer ID").set_index("Customer ID")
    got = customers.set_index("customer_id")
    assert (got["customer_name"] == want.loc[got.index, "Customer Name"]).all()
    assert (got["segment"] == want.loc[got.index, "Segment"]).all()

    products = _read(superstore, "products")
    assert products["product_id"].is_unique
    assert len(products) == raw["Product ID"].nunique() == 1_862
    first = raw.assign(row_id=_num(raw["Row ID"])).sort_values("row_id")
    first = first.drop_duplicates("Product ID").set_index("Product ID")
    got = products.set_index("product_id")
    assert (got["product_name"] == first.loc[got.index, "Product Name"]).all()
    assert (got["category"] == first.loc[got.index, "Category"]).all()
    assert (raw.groupby("Product ID")["Product Name"].nunique() > 1).sum() > 0  # names differ


def test_superstore_bundles(superstore: Path, superstore_raw: pd.DataFrame) -> None:
    bundles = _read(superstore, "product_bundles")
    pairs = superstore_raw[["Sub-Category", "Product ID"]].drop_duplicates()
    assert len(bundles) == len(pairs)
    assert bundles["bundle_id"].nunique() == superstore_raw["Sub-Category"].nunique() == 17
    assert (bundles["bundle_id"] == bundles["bundle_name"]).all()
    assert not bundles.duplicated(["bundle_id", "product_id"]).any()
    got = set(zip(bundles["bundle_id"], bundles["product_id"], strict=True))
    assert got == set(zip(pairs["Sub-Category"], pairs["Product ID"], strict=True))


# --- errors ----------------------------------------------------------------------------------


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(SpendlensError, match="not found"):
        import_cdnow(tmp_path / "nope.txt", tmp_path / "out")
    with pytest.raises(SpendlensError, match="not found"):
        import_superstore(tmp_path / "nope.csv", tmp_path / "out")
    with pytest.raises(SpendlensError, match="not a file"):
        import_cdnow(tmp_path, tmp_path / "out")


def test_wrong_file_is_a_user_error(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(SpendlensError, match="CDNOW"):
        import_cdnow(other, tmp_path / "out")
    with pytest.raises(SpendlensError, match="Superstore"):
        import_superstore(other, tmp_path / "out")
    bad_date = tmp_path / "bad.txt"
    bad_date.write_text(" customer_id  date number_of_cds  dollar_value\r\n 00001 1997XX01  1   11.77\r\n")
    with pytest.raises(SpendlensError, match="YYYYMMDD"):
        import_cdnow(bad_date, tmp_path / "out")


def test_small_cdnow_file(tmp_path: Path) -> None:
    src = tmp_path / "mini.txt"
    src.write_text(
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00007 19970101  2   10.00\r\n"
        " 00007 19970101  1    0.00\r\n"
        " 00012 19970301  3   29.97\r\n"
        " 00007 19970105  1    7.50\r\n"
        " 00012 19970302  0    0.00\r\n"
    )
    out = tmp_path / "out"
    assert main(["import", "cdnow", str(src), "--out", str(out)]) == 0
    ol = _read(out, "order_lines")
    assert ol[["order_id", "line_number", "customer_id"]].values.tolist() == [
        ["00007-19970101", "1", "00007"],
        ["00007-19970101", "2", "00007"],
        ["00012-19970301", "1", "00012"],
        ["00007-19970105", "1", "00007"],
        ["00012-19970302", "1", "00012"],
    ]
    assert _num(ol["unit_price"]).tolist() == [5.0, 0.0, 9.99, 7.5, 0.0]  # 0 CDs: price 0
    assert main(["import", "cdnow", str(tmp_path / "absent.txt"), "--out", str(out)]) == 1
