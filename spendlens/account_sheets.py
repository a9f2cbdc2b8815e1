"""`spendlens report --customer ID | --customers-from FILE | --top-at-risk N [--out DIR]`: one HTML
account sheet per customer for the account manager before a call, and an index page.

Built only from the published marts (read-only, like the main report; the reporting currency
code comes from the same place as the main report's). Each sheet is DIR/<file name>.html, the
customer id itself when it is a safe file name, else a cleaned id plus a hash of the id; the
sheets share one plotly.min.js in DIR (measured in docs/report.md: inlining it would make every
sheet about 5 MB, sharing keeps each under 100 KB). index.html lists the sheets of the run.
Settings are the `account_sheet_*` dbt vars of dbt_project.yml, overridable with --vars.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.offline

from spendlens.account_sheet_data import RunFacts, SheetData, check_known, finite, load_sheets, run_facts, top_at_risk
from spendlens.account_sheet_page import PLOTLY_FILE, SHEET_STYLE, render_sheet
from spendlens.errors import SpendlensError
from spendlens.project import PROJECT_DIR
from spendlens.publish import layout_from_env
from spendlens.report import STYLE, _connect
from spendlens.talking_points import Settings, money

DEFAULT_DIR = Path("reports/accounts")
INDEX = "index.html"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
# Names a sheet must not take: the index and plotly in the folder, and Windows device names.
RESERVED = {"index", "plotly", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10))}


def write_account_sheets(out_dir: Path | None = None, customers: Iterable[str] = (), customers_from: Path | None = None,
                         top: int | None = None, db: Path | None = None, extra_vars: str | Mapping | None = None
                         ) -> list[Path]:
    """Writes the sheets of the given customers (then the top `top` at risk) and index.html into
    out_dir (default reports/accounts); returns the sheet paths in order."""
    out_dir = out_dir if out_dir is not None else DEFAULT_DIR
    if out_dir.suffix.lower() in {".html", ".htm"} or out_dir.is_file():
        raise SpendlensError(f"--out {out_dir} must be a folder for the account sheets (e.g. reports/accounts), "
                             "not a file")
    values = project_vars(extra_vars)
    settings = Settings.from_vars(values)
    wanted = _unique([*customers, *(read_ids(customers_from) if customers_from is not None else [])])
    if not wanted and top is None:
        raise SpendlensError("name the customers: --customer ID (repeatable), --customers-from FILE or --top-at-risk N")
    if top is not None and top < 1:
        raise SpendlensError(f"--top-at-risk needs a positive number of customers, got {top}")
    db = db if db is not None else layout_from_env().published_db
    con = _connect(db)
    try:
        facts = run_facts(con, db, settings, values.get("reporting_currency"))
        _check_windows(facts)
        if wanted:
            check_known(con, wanted)
        chosen = list(wanted)
        if top is not None:
            chosen = _unique(chosen + top_at_risk(con, top, settings.top_at_risk_value_share))
        if not chosen:
            raise SpendlensError(f"{db} has no customers to write sheets for: check the build's customers file")
        sheets = load_sheets(con, chosen, facts)
    finally:
        con.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    _share_plotly(out_dir)
    names = file_names(chosen)
    written = []
    for sheet in sheets:
        path = out_dir / names[sheet.customer_id]
        _write(path, render_sheet(sheet, facts))
        written.append(path)
    how = _how_chosen(len(wanted), top, settings)
    _write(out_dir / INDEX, render_index(sheets, names, facts, how))
    largest = max(p.stat().st_size for p in written)
    print(f"wrote {len(written)} account sheet{'s' if len(written) > 1 else ''} and {out_dir / INDEX} "
          f"(largest sheet {largest / 1e3:.0f} kB, plus the shared {PLOTLY_FILE}) from {db}")
    return written


# -- settings and inputs -----------------------------------------------------------------------

def project_vars(extra_vars: str | Mapping | None = None, project_file: Path | None = None) -> dict[str, Any]:
    """The `vars:` of dbt_project.yml, updated with --vars (YAML mapping text or a mapping)."""
    import yaml  # dbt depends on PyYAML

    project_file = project_file or PROJECT_DIR / "dbt_project.yml"
    try:
        values = dict((yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}).get("vars") or {})
    except (OSError, yaml.YAMLError) as exc:
        raise SpendlensError(f"cannot read the vars of {project_file}: {exc}") from exc
    if isinstance(extra_vars, str):
        try:
            parsed = yaml.safe_load(extra_vars)
        except yaml.YAMLError as exc:
            raise SpendlensError(f"--vars is not valid YAML ({exc}): write e.g. '{{account_sheet_drop_pct: 20}}'") \
                from exc
        if not isinstance(parsed, dict):
            raise SpendlensError(f"--vars must be a YAML mapping such as '{{account_sheet_drop_pct: 20}}', "
                                 f"got {extra_vars!r}")
        values.update(parsed)
    elif extra_vars:
        values.update(extra_vars)
    return values


def read_ids(path: Path) -> list[str]:
    """Customer ids from a file: one per line (blank lines and lines starting with # skipped), or a
    CSV file whose header has a customer_id column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpendlensError(f"cannot read --customers-from {path}: {exc.strerror or exc}") from exc
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if lines and "customer_id" in [c.strip().lower() for c in next(csv.reader([lines[0]]))]:
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        column = next(c for c in reader.fieldnames or [] if c.strip().lower() == "customer_id")
        ids = [(row.get(column) or "").strip() for row in reader]
    else:
        ids = [line.strip() for line in lines]
    ids = [i for i in ids if i]
    if not ids:
        raise SpendlensError(f"--customers-from {path} lists no customer id: write one id per line, "
                             "or a CSV file with a customer_id column")
    return ids


def file_names(customer_ids: list[str]) -> dict[str, str]:
    """The sheet file name of each id: the id itself when it is a plain safe name (letters,
    digits, '-', '_', inner dots; not a reserved name), else the id cleaned to those characters
    plus '-' and 10 hex digits of its SHA-256; names that differ only in case are hashed too."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for customer_id in customer_ids:
        stem = customer_id
        if (not SAFE_NAME.fullmatch(stem) or len(stem) > 100 or stem.split(".")[0].lower() in RESERVED
                or stem.lower() in taken):
            slug = re.sub(r"[^A-Za-z0-9_-]+", "_", customer_id).strip("_-")[:60] or "customer"
            digest = hashlib.sha256(customer_id.encode("utf-8", "surrogatepass")).hexdigest()
            stem, length = f"{slug}-{digest[:10]}", 10
            while stem.lower() in taken:  # a clash of hashed names: take more of the hash
                length += 4
                stem = f"{slug}-{digest[:length]}"
        taken.add(stem.lower())
        names[customer_id] = stem + ".html"
    return names


def _check_windows(facts: RunFacts) -> None:
    """A window var that names no spend window of the build would silence its rule: say so."""
    names = [w["window_name"] for w in facts.windows]
    if not names:
        return
    s = facts.settings
    for var, window in (("change_window", s.change_window), ("wallet_window", s.wallet_window),
                        ("margin_window", s.margin_window)):
        if window not in names:
            raise SpendlensError(f"var account_sheet_{var} is {window!r}, which is not a spend window of this "
                                 f"build ({', '.join(names)}): set it to one of them (dbt_project.yml or --vars)")


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _how_chosen(named: int, top: int | None, settings: Settings) -> str:
    parts = []
    if named:
        parts.append(f"{named} customer{'s' if named > 1 else ''} named on the command line")
    if top is not None:
        parts.append(f"the {top} most valuable customers with the highest churn risk (top "
                     f"{100 * settings.top_at_risk_value_share:g}% by total CLV, then churn risk, then risk score, "
                     "highest first)")
    return " and ".join(parts)


# -- files ---------------------------------------------------------------------------------------

def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)  # a reader never sees half a page


def _share_plotly(out_dir: Path) -> None:
    """plotly.min.js once in the folder, rewritten only when it is not this plotly's."""
    script = plotly.offline.get_plotlyjs()
    target = out_dir / PLOTLY_FILE
    if not target.is_file() or target.stat().st_size != len(script.encode()) \
            or target.read_text(encoding="utf-8") != script:
        _write(target, script)


# -- index ---------------------------------------------------------------------------------------

def render_index(sheets: list[SheetData], names: dict[str, str], facts: RunFacts, how: str) -> str:
    rows = []
    for number, sheet in enumerate(sheets, 1):
        h = sheet.headline
        clv = _e(money(h["predicted_clv"], facts.currency)) if finite(h.get("predicted_clv")) else "n/a"
        first = sheet.points[0].text if sheet.points else ""
        rows.append(
            f'<tr data-customer="{_e(sheet.customer_id)}"><td class="num">{number}</td>'
            f'<td><a href="{_e(names[sheet.customer_id])}">{_e(h.get("customer_name") or sheet.customer_id)}</a>'
            f' <span class="pid">{_e(sheet.customer_id)}</span></td>'
            f'<td>{_e(h.get("segment") or "")}</td><td>{_e(h.get("account_manager") or "")}</td>'
            f'<td>{_e(h.get("persona") or "")}</td><td>{_e(h.get("risk_score_band") or "")}</td>'
            f'<td class="num">{_num(h.get("risk_score"), "{:.1f}")}</td>'
            f'<td class="num">{_num(h.get("churn_risk"), "{:.0%}")}</td>'
            f'<td class="num">{clv}</td><td class="num">{len(sheet.points)}</td><td>{_e(first)}</td></tr>')
    as_of = f"{facts.as_of_date:%Y-%m-%d}" if facts.as_of_date else "n/a"
    title = f"Account sheets as of {as_of}"
    return INDEX_PAGE.format(
        title=_e(title), style=STYLE + SHEET_STYLE, how=_e(how), db=_e(facts.db.name),
        written=f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC", count=len(sheets), rows="".join(rows))


def _num(value: Any, spec: str) -> str:
    return _e(spec.format(value)) if finite(value) else "n/a"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


INDEX_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spendlens report --customer">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<main>
<header><h1>{title}</h1><p class="source">{count} sheets: {how} · from {db} · written {written}</p></header>
<section class="card" id="sheets">
<div class="scroll"><table class="data index">
<thead><tr><th>#</th><th>customer</th><th>segment</th><th>account manager</th><th>persona</th><th>risk band</th>
<th>risk score</th><th>churn risk</th><th>predicted CLV</th><th>points</th><th>first talking point</th></tr></thead>
<tbody>{rows}</tbody>
</table></div>
</section>
<footer>Written by <code>spendlens report</code>; docs/report.md (Account sheets) explains the sheets.</footer>
</main>
</body>
</html>
"""
