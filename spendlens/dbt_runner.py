"""`spendlens build`: runs dbt in-process into a new DuckDB file and publishes it only when every
model and test passed; every failure ends in one SpendlensError that says what to do.

Steps (docs/architecture.md, section Serving):
1. take the build lock (a second build exits at once);
2. copy the published database (if any) to target/builds/build-<id>/ as the starting point, so
   incremental models and `--select` builds keep everything else;
3. `dbt build --store-failures` into that copy, with a progress display;
4. on success: export the marts to a new version of exports/ and swap it in, then replace
   target/spendlens.duckdb by the new file; on failure: publish nothing, keep the build folder.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from spendlens.errors import SpendlensError
from spendlens.progress import Progress, progress_enabled
from spendlens.project import PROJECT_DIR, raw_path
from spendlens.publish import (
    Layout,
    build_lock,
    clean_builds,
    layout_from_env,
    new_build_dir,
    replace_file,
)


def _vars(data: Path | None, as_of: str | None, extra_vars: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if extra_vars:
        import yaml  # dbt depends on PyYAML

        try:
            parsed = yaml.safe_load(extra_vars)
        except yaml.YAMLError as exc:
            raise SpendlensError(
                f"--vars is not valid YAML ({exc}): write e.g. '{{rfm_bins: 4}}'"
            ) from exc
        if not isinstance(parsed, dict):
            raise SpendlensError(
                f"--vars must be a YAML mapping such as '{{rfm_bins: 4}}', got {extra_vars!r}"
            )
        values.update(_plain(parsed))
    if data is not None:
        folder = data.resolve()
        if not folder.is_dir():
            raise SpendlensError(
                f"input folder {data} does not exist: pass --data with the folder of the "
                "input files"
            )
        values["raw_path"] = str(folder)
    elif not values.get("raw_path"):
        folder = raw_path()
        if not folder.is_dir():
            raise SpendlensError(
                f"input folder {folder} does not exist: pass --data with the folder of the input "
                "files, or create sample data with `spendlens generate --out data/raw`"
            )
        values["raw_path"] = str(folder)
    if as_of is not None:
        from datetime import date

        try:
            date.fromisoformat(as_of)
        except ValueError as exc:
            raise SpendlensError(f"--as-of {as_of!r} is not a date: use YYYY-MM-DD") from exc
        values["as_of_date"] = as_of
    return values


def _plain(value: Any) -> Any:
    """YAML values as dbt takes them: an unquoted date (as_of_date: 2024-03-31) becomes its
    ISO text, inside lists and mappings too."""
    from datetime import date

    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value.isoformat() if isinstance(value, date) else value


def build_values(data: Path | None, as_of: str | None, extra_vars: str | None) -> dict[str, Any]:
    """The dbt vars of a build: --vars, the input folder (raw_path) and the as-of date."""
    return _vars(data, as_of, extra_vars)


def dbt_target_path() -> Path:
    return Path(os.environ.get("DBT_TARGET_PATH") or PROJECT_DIR / "target")


def dbt_log_file() -> Path:
    return Path(os.environ.get("DBT_LOG_PATH") or PROJECT_DIR / "logs") / "dbt.log"


def run_dbt(args: list[str], callbacks: list[Callable[[Any], None]] | None = None) -> Any:
    """Invoke dbt with the project's own profiles; returns dbt's result object."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR))
    profiles = os.environ["DBT_PROFILES_DIR"]
    full = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", profiles]
    try:
        return dbtRunner(callbacks=callbacks or []).invoke(full)
    finally:
        _release_duckdb()


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open in the process after a run; close it so the file
    is checkpointed (no .wal) and can be moved and reopened read-only."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager._ENV = None
    gc.collect()


def _short(message: str | None) -> str:
    """The informative part of a dbt node message: drop its 'X Error in model m (path)' header
    and the '> in macro ...' trace, keep the first two remaining lines."""
    kept = [
        line.strip() for line in (message or "").strip().splitlines()
        if line.strip() and not line.strip().startswith(">")
    ]
    if len(kept) > 1 and " Error in " in kept[0]:
        kept = kept[1:]
    return " ".join(kept[:2])


def _failure_lines(result: Any) -> list[str]:
    lines: list[str] = []
    node_results = getattr(result.result, "results", None) or []
    for node_result in node_results:
        status = str(node_result.status).lower()
        if status not in {"error", "fail", "runtime error"}:
            continue
        node = node_result.node
        kinds = {"test": "data test", "unit_test": "unit test"}
        kind = kinds.get(node.resource_type, node.resource_type)
        lines.append(f"  {status}: {kind} {node.name}: {_short(node_result.message)}")
        if node.resource_type == "test" and status == "fail":
            table = f"{node.schema}.{node.alias}"
            lines.append(f"    failing rows: select * from {table}")
    skipped = sum(str(r.status).lower() == "skipped" for r in node_results)
    if lines and skipped:
        lines.append(f"  ({skipped} downstream nodes were skipped)")
    return lines


def _failure_message(result: Any, build_db: Path, layout: Layout) -> str:
    if layout.published_db.exists():
        kept = f" ({layout.exports_dir} and {layout.published_db} still hold the last good build)"
    else:
        kept = ""
    inspect = (
        f"The failed build is kept for inspection: {build_db}\n"
        f"  (open it with: duckdb -readonly {build_db})\n"
        f"dbt's log: {dbt_log_file()}"
    )
    failed = _failure_lines(result)
    if not failed:
        exc = result.exception
        text = str(exc).strip() if exc is not None else "dbt reported a failure (see its log)"
        return (
            f"dbt could not run; nothing was published{kept}.\n  {text}\n{inspect}\n"
            "Fix the file, column or setting named above and run `spendlens build` again."
        )
    return (
        f"the build failed; nothing was published{kept}. Failed:\n"
        + "\n".join(failed)
        + f"\n{inspect}\nFix the input or the setting named above and run `spendlens build` again."
    )


def _mart_models() -> set[str] | None:
    """Relation names of the project's models in schema marts, from dbt's manifest."""
    manifest = dbt_target_path() / "manifest.json"
    try:
        nodes = json.loads(manifest.read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return None
    return {
        (n.get("alias") or n["name"])
        for n in nodes
        if n.get("resource_type") == "model" and n.get("schema") == "marts"
    }


def _drop_orphan_marts(build_db: Path) -> None:
    """The build starts from a copy of the published database: drop relations in schema marts
    that are no longer models of the project, so exports hold exactly the current marts."""
    import duckdb

    models = _mart_models()
    if models is None:
        return
    con = duckdb.connect(str(build_db))
    try:
        rows = con.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'marts' and table_catalog = current_database()"
        ).fetchall()
        for name, table_type in rows:
            if name not in models:
                kind = "view" if table_type == "VIEW" else "table"
                con.execute(f'drop {kind} marts."{name}"')
    finally:
        con.close()


def build(
    data: Path | None = None,
    as_of: str | None = None,
    full_refresh: bool = False,
    extra_vars: str | None = None,
    select: str | None = None,
) -> int:
    """`spendlens build`: dbt build (seeds, models, tests) into a new file, then publish."""
    values = _vars(data, as_of, extra_vars)
    layout = layout_from_env()
    progress = Progress(enabled=progress_enabled())
    with build_lock(layout):
        clean_builds(layout)
        build_dir = new_build_dir(layout)
        build_db = build_dir / layout.published_db.name  # same file name = same DuckDB catalog
        if layout.published_db.is_file():
            progress.step(f"starting from a copy of {layout.published_db}")
            shutil.copyfile(layout.published_db, build_db)
        progress.step(f"dbt build into {build_db}")
        args = ["build", "--store-failures", "--vars", json.dumps(values)]
        if progress.enabled:
            # our display replaces dbt's console lines; its log file (logs/dbt.log) stays
            log_file_level = os.environ.get("DBT_LOG_LEVEL_FILE", "debug")
            args += ["--log-level", "none", "--log-level-file", log_file_level]
        if full_refresh:
            args.append("--full-refresh")
        if select:
            args += ["--select", select]
        previous_db = os.environ.get("SPENDLENS_DB")
        os.environ["SPENDLENS_DB"] = str(build_db)
        try:
            result = run_dbt(args, callbacks=[progress])
        finally:
            progress.finish()
            if previous_db is None:
                os.environ.pop("SPENDLENS_DB", None)
            else:
                os.environ["SPENDLENS_DB"] = previous_db
        if not result.success:
            raise SpendlensError(_failure_message(result, build_db, layout))
        _warn_if_stale(build_db, values)
        _publish(build_db, layout, progress)
        shutil.rmtree(build_dir, ignore_errors=True)
    return 0


def _warn_if_stale(build_db: Path, values: dict[str, Any]) -> None:
    """One line on stderr when the newest usable line is older than freshness_warn_after_days."""
    from spendlens.freshness import DEFAULT_WARN_AFTER_DAYS, stale_warning

    try:
        warn_after = int(values.get("freshness_warn_after_days", DEFAULT_WARN_AFTER_DAYS))
        message = stale_warning(build_db, warn_after)
    except (ValueError, TypeError, duckdb.Error):
        return  # a partial --select build may lack the table; the warning is advice only
    if message:
        print(f"spendlens build: {message}", file=sys.stderr)


def _publish(build_db: Path, layout: Layout, progress: Progress) -> None:
    from spendlens.export import publish_exports

    _drop_orphan_marts(build_db)
    progress.step(f"publishing the marts to {layout.exports_dir}")
    marts: list[str] = []
    try:
        version = publish_exports(build_db, layout.exports_dir, "parquet", on_mart=marts.append)
    except OSError as exc:
        raise SpendlensError(
            f"the build passed but writing {layout.exports_dir} failed ({exc}); nothing was "
            f"published. Free disk space or fix permissions and run `spendlens build` again "
            f"(the built database is kept: {build_db})"
        ) from exc
    replace_file(build_db, layout.published_db)
    progress.step(
        f"published {len(marts)} mart(s) to {layout.exports_dir} (version {version.name}) "
        f"and {layout.published_db}"
    )
