"""The house-style linter (issue 23, item 4): dbt-score with the rules of dbt_rules/ passes on
the project and fails, naming the rule, on a manifest broken on purpose in each way it checks."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, PROJECT_DIR


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    target = tmp_path_factory.mktemp("score")
    env_vars = {"SPENDLENS_RAW_PATH": str(PROJECT_DIR / "tests" / "fixtures" / "tiny"),
                "SPENDLENS_DB": str(target / "x.duckdb"), "DBT_TARGET_PATH": str(target),
                "DBT_LOG_PATH": str(target / "logs")}
    subprocess.run([str(BIN / "dbt"), "parse", "--quiet", "--profiles-dir", str(PROJECT_DIR)],
                   cwd=PROJECT_DIR, env={**os.environ, **env_vars}, check=True)
    return json.loads((target / "manifest.json").read_text())


def _score(manifest: dict, path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(json.dumps(manifest))
    return subprocess.run([str(BIN / "dbt-score"), "lint", "--manifest", str(path)],
                          cwd=PROJECT_DIR, capture_output=True, text=True)


def _node(manifest: dict, name: str) -> dict:
    return next(n for n in manifest["nodes"].values() if n.get("name") == name and n["resource_type"] == "model")


def test_the_project_passes(manifest: dict, tmp_path: Path) -> None:
    result = _score(manifest, tmp_path / "m.json")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Project score: 10.0" in result.stdout.replace("\x1b[1m", "").replace("\x1b[0m", "")


def _broken(manifest: dict, how: str, tmp_path: Path) -> dict:
    broken = json.loads(json.dumps(manifest))
    mart = _node(broken, "customer_rfm")
    if how == "mart_contract_enforced":
        mart["config"]["contract"]["enforced"] = False
    elif how == "public_columns_described":
        next(iter(mart["columns"].values()))["description"] = ""
    elif how == "mart_not_reading_staging":
        mart["depends_on"]["nodes"].append("model.spendlens.stg_shop__customers")
    elif how == "named_by_layer":
        _node(broken, "int_orders_summarised")["name"] = "orders_summarised"
    elif how == "mart_has_grain_test":
        for node in broken["nodes"].values():
            if node["resource_type"] == "test" and mart["unique_id"] in node.get("depends_on", {}).get("nodes", []):
                node["depends_on"]["nodes"] = []
                node["attached_node"] = None
    elif how == "macro_documented":
        source = tmp_path / "undocumented.sql"
        source.write_text("{% macro safe_divide(a, b) -%}\n    a / b\n{%- endmacro %}\n")
        macro = broken["macros"]["macro.spendlens.safe_divide"]
        macro["original_file_path"] = str(source)
        macro["description"] = ""
    return broken


@pytest.mark.parametrize("rule", ["mart_contract_enforced", "public_columns_described", "mart_not_reading_staging",
                                  "named_by_layer", "mart_has_grain_test", "macro_documented"])
def test_each_rule_fails_a_broken_copy(manifest: dict, rule: str, tmp_path: Path) -> None:
    result = _score(_broken(manifest, rule, tmp_path), tmp_path / "m.json")
    assert result.returncode != 0
    assert f"house_style.{rule}" in result.stdout
