"""The project's own generic data tests (tests/dbt/generic), run as dbt compiled them on a
built database, must find exactly the bad rows planted in a copy of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
from conftest import BuiltProjects

PROFILE_KEYS = ["customer_id", "item_level", "item_id", "window_name"]


def _compiled_test(built: Path, prefix: str) -> str:
    results = json.loads((built.parent / "dbt_target" / "run_results.json").read_text())["results"]
    return next(r["compiled_code"] for r in results if r["unique_id"].startswith(f"test.spendlens.{prefix}"))


def test_unique_combination_reports_each_repeated_key_with_its_count(projects: BuiltProjects,
                                                                     tmp_path: Path) -> None:
    built = projects.db("tiny")
    sql = _compiled_test(built, "unique_combination_customer_spend_profile_")
    copy = tmp_path / "spendlens.duckdb"  # the same file name: the compiled SQL names the catalog
    shutil.copy(built, copy)
    with duckdb.connect(str(copy)) as con:
        assert con.execute(sql).fetchall() == []
        # the first row (by every column) three times in all, the second twice
        con.execute("insert into marts.customer_spend_profile "
                    "select * from marts.customer_spend_profile order by all limit 2")
        con.execute("insert into marts.customer_spend_profile "
                    "select * from marts.customer_spend_profile order by all limit 1")
        rows = con.execute("select * from marts.customer_spend_profile").df()
        counts = rows.groupby(PROFILE_KEYS, dropna=False).size()
        expected = sorted((*key, int(n)) for key, n in counts[counts > 1].items())
        found = sorted(tuple(row) for row in con.execute(sql).fetchall())
    assert len(expected) == 2
    assert sorted(n for *_, n in expected) == [2, 3]
    assert found == expected
