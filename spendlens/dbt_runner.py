"""Runs dbt in-process through dbtRunner and turns its result into one clear message."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spendlens.errors import SpendlensError
from spendlens.project import PROJECT_DIR


def _vars(data: Path | None, as_of: str | None, extra_vars: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if extra_vars:
        import yaml  # dbt depends on PyYAML

        parsed = yaml.safe_load(extra_vars)
        if not isinstance(parsed, dict):
            raise SpendlensError(f"--vars must be a YAML mapping such as '{{rfm_bins: 4}}', got {extra_vars!r}")
        values.update(parsed)
    if data is not None:
        folder = data.resolve()
        if not folder.is_dir():
            raise SpendlensError(f"input folder {data} does not exist: pass --data with the folder of the input files")
        values["raw_path"] = str(folder)
    if as_of is not None:
        from datetime import date

        try:
            date.fromisoformat(as_of)
        except ValueError as exc:
            raise SpendlensError(f"--as-of {as_of!r} is not a date: use YYYY-MM-DD") from exc
        values["as_of_date"] = as_of
    return values


def run_dbt(args: list[str]) -> Any:
    """Invoke dbt with the project's own profiles; returns dbt's result object."""
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR))
    full = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", os.environ["DBT_PROFILES_DIR"]]
    return dbtRunner().invoke(full)


def _failures(result: Any) -> list[str]:
    lines: list[str] = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(node_result.status).lower()
        if status in {"error", "fail"}:
            name = node_result.node.name
            message = (node_result.message or "").strip().splitlines()
            lines.append(f"  {status}: {name}: {message[0] if message else ''}")
    return lines


def build(
    data: Path | None = None,
    as_of: str | None = None,
    full_refresh: bool = False,
    extra_vars: str | None = None,
    select: str | None = None,
) -> int:
    """`spendlens build`: dbt seed + run + test (dbt build) with the given settings."""
    values = _vars(data, as_of, extra_vars)
    db = Path(os.environ.get("SPENDLENS_DB", "target/spendlens.duckdb"))
    db.parent.mkdir(parents=True, exist_ok=True)
    args = ["build", "--vars", json.dumps(values)]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    result = run_dbt(args)
    if result.success:
        return 0
    failed = _failures(result)
    if result.exception is not None and not failed:
        raise SpendlensError(f"dbt could not run: {result.exception}")
    detail = "\n".join(failed) if failed else "  (see the dbt log above)"
    raise SpendlensError(
        "the build failed; nothing was published. Failed nodes:\n"
        + detail
        + "\nFix the input or the setting named above and run `spendlens build` again."
    )
