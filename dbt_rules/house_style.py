"""The house style of the spendlens dbt project, checked on dbt's manifest by dbt-score.

Each rule returns a violation for an item that breaks it; `make lint` fails on any (the
project and every item must score 10). An exception is written in pyproject.toml under the
rule's `exceptions` with the reason beside it.
"""


import re
from pathlib import Path

from dbt_score import Macro, Model, RuleViolation, rule

PROJECT = "spendlens"
LAYER_PREFIX = {"staging": "stg_", "intermediate": "int_"}
DISPATCHED = re.compile(r"^(default|duckdb|spark)__")


def _layer(model: Model) -> str | None:
    parts = Path(model.original_file_path).parts
    return parts[1] if len(parts) > 2 and parts[0] == "models" else None  # noqa: PLR2004


def _is_mart(model: Model) -> bool:
    return _layer(model) == "marts"


@rule
def named_by_layer(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Staging models are stg_<source>__<entity>s, intermediate models int_..., marts neither."""
    if model.name in (exceptions or []):
        return None
    layer = _layer(model)
    if layer == "staging":
        source = Path(model.original_file_path).parts[2]
        if not model.name.startswith(f"stg_{source}__"):
            return RuleViolation(message=f"a staging model of {source} is named stg_{source}__<entity>s")
    elif layer == "intermediate":
        if not model.name.startswith("int_"):
            return RuleViolation(message="an intermediate model is named int_<entity>_<verb>")
    elif layer == "marts":
        if model.name.startswith(("stg_", "int_")):
            return RuleViolation(message="a mart has no stg_/int_ prefix")
    else:
        return RuleViolation(message="a model lives under models/staging, intermediate or marts")
    return None


@rule
def described(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Every model has a description."""
    if model.name not in (exceptions or []) and not model.description.strip():
        return RuleViolation(message="the model has no description")
    return None


@rule
def public_columns_described(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Every column of a mart (the public models) is described."""
    if not _is_mart(model) or model.name in (exceptions or []):
        return None
    missing = [c.name for c in model.columns if not c.description.strip()]
    if missing:
        return RuleViolation(message=f"columns without a description: {', '.join(missing[:5])}")
    return None


@rule
def mart_contract_enforced(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Every mart enforces its contract (names and types of its columns)."""
    if not _is_mart(model) or model.name in (exceptions or []):
        return None
    if not (model.config.get("contract") or {}).get("enforced"):
        return RuleViolation(message="the mart does not enforce a contract")
    return None


@rule
def mart_has_grain_test(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Every mart tests its grain: unique on a column, or unique_combination on its key."""
    if not _is_mart(model) or model.name in (exceptions or []):
        return None
    tests = [t.type for t in model.tests] + [t.type for c in model.columns for t in c.tests]
    if not any(name in {"unique", "unique_combination"} for name in tests):
        return RuleViolation(message="the mart has no grain test (unique or unique_combination)")
    return None


@rule
def mart_not_reading_staging(model: Model, exceptions: list[str] | None = None) -> RuleViolation | None:
    """A mart reads intermediate models or other marts, never staging or raw sources."""
    if not _is_mart(model) or model.name in (exceptions or []):
        return None
    parents = model.depends_on.get("nodes", [])
    direct = [p.split(".")[-1] for p in parents if p.split(".")[-1].startswith("stg_") or p.startswith("source.")]
    if direct:
        return RuleViolation(message=f"the mart reads {', '.join(direct)} directly")
    return None


@rule
def macro_documented(macro: Macro, exceptions: list[str] | None = None) -> RuleViolation | None:
    """Every macro of the project says what it does: a description in yml, or a Jinja comment
    right before its definition. Adapter implementations (default__, duckdb__, spark__) are
    documented by the macro that dispatches to them."""
    if macro.package_name != PROJECT or DISPATCHED.match(macro.name) or macro.name in (exceptions or []):
        return None
    if macro.description.strip():
        return None
    path = Path(macro.original_file_path)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    kind, name = "macro", macro.name
    if macro.name.startswith("test_"):
        kind, name = "test", macro.name.removeprefix("test_")
    elif macro.name.startswith("materialization_"):  # materialization_<name>_<adapter>
        kind, name = "materialization", macro.name.removeprefix("materialization_").rsplit("_", 1)[0]
    match = re.search(r"\{%-?\s*" + kind + r"\s+" + re.escape(name) + r"\s*[(,]", text)
    if match is None:
        return RuleViolation(message="the macro's definition was not found in its file")
    before = text[: match.start()].rstrip()
    if before.endswith("#}") or re.match(r"\s*\{#", text[match.end():].split("%}", 1)[-1]):
        return None
    return RuleViolation(message="the macro has no comment right before it (or a yml description)")
