"""`dbt docs` is complete: every model, seed and source, and every column the warehouse really has
(target/catalog.json), carries a non-empty description in the manifest, and the exposures exist.

Runs `dbt docs generate` against the session's tiny build (tests/python/conftest.py), so the
catalog lists the relations exactly as dbt built them. Nothing is exempt: a relation or column
added without a description fails here, naming it.

Standalone: `python tests/python/test_dbt_docs.py <target dir>` prints what is missing from the
manifest.json and catalog.json of an earlier `dbt docs generate`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCUMENTED_TYPES = ("model", "seed", "source")
EXPOSURES = ("spendlens_exports", "spendlens_report")


def load_artifacts(target: Path) -> tuple[dict, dict]:
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    return manifest, catalog


def _manifest_node(manifest: dict, unique_id: str) -> dict | None:
    return manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id)


def _catalog_entries(catalog: dict) -> dict[str, dict]:
    entries = {**catalog.get("nodes", {}), **catalog.get("sources", {})}
    return {uid: entry for uid, entry in entries.items() if uid.split(".")[0] in DOCUMENTED_TYPES}


def missing_descriptions(manifest: dict, catalog: dict) -> list[str]:
    """Every catalog relation or column without a non-empty manifest description, one line each
    (`<unique_id>` for the relation, `<unique_id>.<column>` for a column), sorted."""
    missing: list[str] = []
    for uid, entry in _catalog_entries(catalog).items():
        node = _manifest_node(manifest, uid)
        if node is None:
            missing.append(f"{uid} (in the catalog but not in the manifest)")
            continue
        if not (node.get("description") or "").strip():
            missing.append(uid)
        described = {
            name.lower()
            for name, column in node.get("columns", {}).items()
            if (column.get("description") or "").strip()
        }
        for column in entry.get("columns", {}).values():
            if column["name"].lower() not in described:
                missing.append(f"{uid}.{column['name']}")
    return sorted(missing)


def undescribed_manifest_nodes(manifest: dict) -> list[str]:
    """Models, seeds and sources of this project without a node description, whether or not they
    made it into the catalog, plus source columns without one (the sources are read from files by
    the macro read_raw_file, so they are no relations and the catalog never lists them)."""
    missing: list[str] = []
    for uid, node in {**manifest["nodes"], **manifest["sources"]}.items():
        if node.get("resource_type") not in DOCUMENTED_TYPES or node.get("package_name") != "spendlens":
            continue
        if not (node.get("description") or "").strip():
            missing.append(uid)
        if node["resource_type"] == "source":
            if not node.get("columns"):
                missing.append(f"{uid} (no columns listed)")
            missing += [
                f"{uid}.{name}" for name, column in node.get("columns", {}).items()
                if not (column.get("description") or "").strip()
            ]
    return sorted(missing)


def run_docs_generate(raw: Path, db: Path, target: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SPENDLENS_DB": str(db),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target.parent / "dbt_logs"),
        "SPENDLENS_TEMP_DIR": str(target.parent / "duckdb_tmp"),
    }
    values = {"raw_path": str(raw), "data_quality_max_issue_pct": 100}
    args = [str(BIN / "dbt"), "docs", "generate", "--profiles-dir", str(PROJECT_DIR), "--project-dir",
            str(PROJECT_DIR), "--vars", json.dumps(values)]
    return subprocess.run(args, env=env, capture_output=True, text=True, cwd=PROJECT_DIR)


@pytest.fixture(scope="module")
def artifacts(projects, tmp_path_factory) -> tuple[dict, dict]:
    # a copy: other tests keep read-only connections to the shared build open, and DuckDB lets
    # no other process open a file read-write while one does
    folder = tmp_path_factory.mktemp("dbt_docs")
    db = folder / "db" / "spendlens.duckdb"
    db.parent.mkdir()
    shutil.copy(projects.db("tiny"), db)
    target = folder / "target"
    result = run_docs_generate(projects.raw("tiny"), db, target)
    assert result.returncode == 0, f"dbt docs generate failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    return load_artifacts(target)


def test_catalog_lists_the_built_relations(artifacts):
    manifest, catalog = artifacts
    entries = _catalog_entries(catalog)
    kinds = {uid.split(".")[0] for uid in entries}
    assert {"model", "seed"} <= kinds, kinds
    built = [
        uid for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "ephemeral"
        and node["config"].get("enabled", True)
    ]
    not_in_catalog = sorted(set(built) - set(entries))
    assert not not_in_catalog, f"built but missing from catalog.json: {not_in_catalog}"
    assert all(entry.get("columns") for entry in entries.values())


def test_every_catalog_relation_and_column_is_described(artifacts):
    manifest, catalog = artifacts
    missing = missing_descriptions(manifest, catalog)
    assert not missing, f"{len(missing)} relations/columns without a description:\n" + "\n".join(missing)


def test_every_model_seed_and_source_is_described(artifacts):
    manifest, _ = artifacts
    missing = undescribed_manifest_nodes(manifest)
    assert not missing, "without a description:\n" + "\n".join(missing)


@pytest.mark.parametrize("name", EXPOSURES)
def test_exposure_exists(artifacts, name):
    manifest, _ = artifacts
    exposure = manifest["exposures"].get(f"exposure.spendlens.{name}")
    assert exposure is not None, f"exposure {name} missing; exposures: {sorted(manifest['exposures'])}"
    assert exposure["description"].strip()
    assert exposure["depends_on"]["nodes"], f"exposure {name} depends on nothing"


def test_check_fails_on_a_missing_description(artifacts):
    """The check itself can fail: blank one column's description and it is reported."""
    manifest, catalog = artifacts
    uid, entry = next(iter(sorted(_catalog_entries(catalog).items())))
    column = next(iter(entry["columns"].values()))["name"]
    broken = json.loads(json.dumps(manifest))
    node = _manifest_node(broken, uid)
    for name in list(node["columns"]):
        if name.lower() == column.lower():
            node["columns"][name]["description"] = ""
    node["description"] = " "
    assert {uid, f"{uid}.{column}"} <= set(missing_descriptions(broken, catalog))


if __name__ == "__main__":
    found = missing_descriptions(*load_artifacts(Path(sys.argv[1])))
    print("\n".join(found) or "all described")
    sys.exit(1 if found else 0)
