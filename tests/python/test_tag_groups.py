"""Tag groups (issue 19, item 9): with discovery_match_tag_groups, product discovery narrows to
products sharing a tag of those groups (`brand:Acme`) with the customer's purchases, not any tag.
On the hand-made fixture tests/fixtures/tag_groups (every expected row worked out in its
README), built with groups null and [brand]; on the generated data, recomputed with pandas from
the raw products file; and the setting's validation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltProjects, run_dbt_build

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "tag_groups"
SELECT = "+customer_product_recommendations"
N = 5  # recommendations_per_reason (default)

# (customer, reason, rank, product, score, reason_basis): the README's two tables
ANY_TAG = [
    ("C1", "also_bought", 1, "P3", 1, "P1"),
    ("C1", "also_bought", 2, "P4", 1, "P1"),
    ("C1", "also_bought", 3, "P5", 1, "P1"),
    ("C1", "also_bought", 4, "P6", 1, "P1"),
    ("C1", "popular_category_not_bought", 1, "P4", 30, "Lighting"),
    ("C1", "popular_category_not_bought", 2, "P5", 20, "Lighting"),
    ("C1", "popular_category_not_bought", 3, "P6", 10, "Garden"),
    ("C1", "popular_in_segment", 1, "P3", 60, "Retail"),
    ("C1", "popular_in_segment", 2, "P4", 30, "Retail"),
    ("C1", "popular_in_segment", 3, "P5", 20, "Retail"),
    ("C1", "popular_in_segment", 4, "P6", 10, "Retail"),
    ("C3", "also_bought", 1, "P1", 1, "P3"),
    ("C3", "also_bought", 2, "P4", 1, "P3"),
    ("C3", "also_bought", 3, "P5", 1, "P3"),
    ("C3", "also_bought", 4, "P6", 1, "P3"),
    ("C3", "popular_category_not_bought", 1, "P4", 30, "Lighting"),
    ("C3", "popular_category_not_bought", 2, "P5", 20, "Lighting"),
]
SAME_BRAND = [
    ("C1", "also_bought", 1, "P2", 1, "P1"),
    ("C1", "also_bought", 2, "P4", 1, "P1"),
    ("C1", "popular_category_not_bought", 1, "P4", 30, "Lighting"),
    ("C1", "popular_in_segment", 1, "P2", 40, "Retail"),
    ("C1", "popular_in_segment", 2, "P4", 30, "Retail"),
    ("C3", "also_bought", 1, "P5", 1, "P3"),
    ("C3", "popular_category_not_bought", 1, "P5", 20, "Lighting"),
    ("C4", "also_bought", 1, "P1", 1, "P2"),
    ("C4", "also_bought", 2, "P4", 1, "P2"),
    ("C4", "popular_category_not_bought", 1, "P4", 30, "Lighting"),
]


def _build(raw: Path, folder: Path, groups: list[str] | None, **extra: object) -> duckdb.DuckDBPyConnection:
    db = folder / "spendlens.duckdb"
    folder.mkdir(parents=True)
    run_dbt_build(raw, db, {"discovery_match_tags": True, "discovery_match_tag_groups": groups, **extra},
                  select=SELECT)
    return duckdb.connect(str(db), read_only=True)


def _recommendations(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return [
        (customer, reason, rank, product, float(score), basis)
        for customer, reason, rank, product, score, basis in con.execute(
            "select customer_id, reason, rank, product_id, score, reason_basis "
            "from marts.customer_product_recommendations order by customer_id, reason, rank"
        ).fetchall()
    ]


@pytest.fixture(scope="module")
def fixture_builds(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("tag_groups")
    cons = {"any": _build(FIXTURE, root / "any", None), "brand": _build(FIXTURE, root / "brand", ["brand"])}
    yield cons
    for con in cons.values():
        con.close()


def test_any_shared_tag_makes_a_candidate_when_no_groups_are_set(fixture_builds) -> None:
    assert _recommendations(fixture_builds["any"]) == ANY_TAG


def test_brand_group_keeps_only_products_of_a_brand_the_customer_bought(fixture_builds) -> None:
    assert _recommendations(fixture_builds["brand"]) == SAME_BRAND
    # the clearance-only overlaps of C1 (P3, P5, P6) are gone with the brand group
    any_tag = {(c, p) for c, _, _, p, _, _ in ANY_TAG}
    same_brand = {(c, p) for c, _, _, p, _, _ in SAME_BRAND}
    assert {("C1", "P3"), ("C1", "P5"), ("C1", "P6")} <= any_tag - same_brand


@pytest.mark.parametrize(
    ("groups", "match_tags", "message"),
    [
        ("brand", True, "discovery_match_tag_groups is 'brand', not a list"),
        ([], True, "discovery_match_tag_groups is an empty list"),
        (["brand", "make:r"], True, "discovery_match_tag_groups[1] is 'make:r'"),
        (["brand"], False, "but discovery_match_tags is not true"),
    ],
)
def test_a_wrong_setting_stops_the_build_naming_it(tmp_path: Path, groups: object, match_tags: bool,
                                                   message: str) -> None:
    result = run_dbt_build(FIXTURE, tmp_path / "spendlens.duckdb",
                           {"discovery_match_tags": match_tags, "discovery_match_tag_groups": groups},
                           select="customer_product_recommendations", check=False)
    assert result.returncode != 0
    assert message in result.stdout


# -- generated data: recomputed with pandas from the raw products file --------------------------


def _brand_tags(tags: str) -> set[str]:
    """The `brand:<value>` tags of a `|`-separated list: the group before the first ':' compared
    trimmed and case-insensitive, the value trimmed and non-empty; ungrouped tags are left out."""
    found = set()
    for tag in (tags or "").split("|"):
        group, colon, value = tag.strip().partition(":")
        if colon and group.strip() and group.strip().lower() == "brand" and value.strip():
            found.add(value.strip())
    return found


@pytest.fixture(scope="module")
def generated(projects: BuiltProjects, tmp_path_factory: pytest.TempPathFactory):
    """The generated data (30,000 lines with bad rows) built with the groups [' Brand ']
    (trimmed, any case), its usable lines, the raw products' brands and the recommendations."""
    raw = projects.raw("generated")
    con = _build(raw, tmp_path_factory.mktemp("tag_groups_generated") / "brand", [" Brand "],
                 data_quality_max_issue_pct=100)
    as_of = pd.Timestamp(con.execute("select as_of_date from intermediate.int_analysis_dates").fetchone()[0])
    lines = con.execute(
        "select customer_id, product_id, ordered_date, quantity, spend_amount "
        "from intermediate.int_order_lines_validated where dq_reason is null"
    ).df()
    lines["ordered_date"] = pd.to_datetime(lines["ordered_date"])
    lines = lines[lines["ordered_date"] <= as_of]
    products = pd.read_csv(raw / "products.csv", dtype=str, keep_default_na=False)
    brands = {pid: _brand_tags(tags) for pid, tags in zip(products["product_id"], products["tags"], strict=True)}
    segments = con.execute(
        "select customer_id, coalesce(segment, '') as segment from intermediate.int_customers_summarised"
    ).df()
    recommendations = con.execute(
        "select customer_id, product_id, reason, rank, score from marts.customer_product_recommendations"
    ).df()
    yield {"as_of": as_of, "lines": lines, "brands": brands, "segments": segments,
           "recommendations": recommendations}
    con.close()


def _history_and_customer_brands(lines: pd.DataFrame, brands: dict[str, set[str]]):
    """Every customer x product in the history, and per customer the brands of the products they
    bought (a net positive quantity on some day; a product only returned does not count)."""
    history = set(zip(lines["customer_id"], lines["product_id"], strict=True))
    daily = lines.groupby(["customer_id", "product_id", "ordered_date"])["quantity"].sum()
    bought = daily[daily > 0].reset_index()[["customer_id", "product_id"]].drop_duplicates()
    customer_brands: dict[str, set[str]] = {}
    for customer, product in zip(bought["customer_id"], bought["product_id"], strict=True):
        customer_brands.setdefault(customer, set()).update(brands.get(product, set()))
    return history, customer_brands


def test_generated_recommendations_share_a_brand_and_were_never_bought(generated) -> None:
    history, customer_brands = _history_and_customer_brands(generated["lines"], generated["brands"])
    recommendations = generated["recommendations"]
    assert len(recommendations) > 500
    assert set(recommendations["reason"]) == {"also_bought", "popular_in_segment", "popular_category_not_bought"}
    for customer, product in zip(recommendations["customer_id"], recommendations["product_id"], strict=True):
        assert (customer, product) not in history, (customer, product)
        assert generated["brands"][product] & customer_brands.get(customer, set()), (customer, product)


def test_generated_popular_in_segment_is_the_top_of_the_same_brand_products(generated) -> None:
    """The whole list, not only its members: every eligible best seller of the segment, in order."""
    history, customer_brands = _history_and_customer_brands(generated["lines"], generated["brands"])
    lines = generated["lines"]
    recent = lines[lines["ordered_date"] > generated["as_of"] - pd.DateOffset(months=12)]
    sales = recent.merge(generated["segments"], on="customer_id").groupby(
        ["segment", "product_id"], as_index=False)["spend_amount"].sum()
    sales = sales[sales["spend_amount"] > 0]
    expected = generated["segments"].merge(sales, on="segment")
    eligible = [
        (customer, product) not in history
        and bool(generated["brands"].get(product, set()) & customer_brands.get(customer, set()))
        for customer, product in zip(expected["customer_id"], expected["product_id"], strict=True)
    ]
    expected = expected[eligible].sort_values(
        ["customer_id", "spend_amount", "product_id"], ascending=[True, False, True])
    expected = expected.groupby("customer_id").head(N)
    actual = generated["recommendations"]
    actual = actual[actual["reason"] == "popular_in_segment"].sort_values(["customer_id", "rank"])
    assert len(expected) > 100
    assert list(zip(actual["customer_id"], actual["product_id"], strict=True)) == list(
        zip(expected["customer_id"], expected["product_id"], strict=True))
    assert actual["score"].to_numpy() == pytest.approx(expected["spend_amount"].to_numpy(), rel=1e-9)
