"""Issue 10, security of inputs and outputs (docs/security.md).

The hostile fixture (tests/fixtures/hostile, made by make_hostile.py) is built once with
`spendlens build` under umask 027 and exported with `spendlens export` as CSV and Parquet. The
tests check that every hostile value is kept as data (no failure, no lost or merged rows, ids
with their leading zeros, SQL text as text), that CSV exports cannot run as spreadsheet
formulas and read back to the marts' values, that file names come from mart names only, that
no file is world-writable, that the repository holds no secret, and that the HTML report runs
no injected script in a real browser.
"""

from __future__ import annotations

import csv
import html.parser
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from spendlens.errors import SpendlensError
from spendlens.export import FORMULA_TRIGGERS, mart_names

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOSTILE = PROJECT_DIR / "tests" / "fixtures" / "hostile"
INPUTS = ["order_lines", "customers", "products", "product_bundles", "sales_targets", "fx_rates"]
CHROMIUM = Path("/usr/bin/chromium")

HYPERLINK = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SQL = "'); drop table customers; --"
UNICODE = "Zoë 東京 🍣🎉"


def read_input(name: str) -> pd.DataFrame:
    """An input CSV as the text it holds (RFC 4180 quoting, nothing turned into NaN)."""
    return pd.read_csv(HOSTILE / f"{name}.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8")


def as_kept(value: str) -> str:
    """The one documented normalisation of text on read: NUL bytes are removed."""
    return value.replace("\x00", "")


def as_key(value: str) -> str | None:
    """Ids, segments, categories and tags are also trimmed of spaces; empty means null."""
    return as_kept(value).strip(" ") or None


def csv_cell(value: str | None) -> str | None:
    """What the CSV export writes for a text value: a `'` before a formula trigger."""
    return "'" + value if value and value.startswith(FORMULA_TRIGGERS) else value


# -- the build ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostileBuild:
    root: Path
    db: Path
    csv_dir: Path
    parquet_dir: Path


def _spendlens(args: list[str], root: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "SPENDLENS_HOME": str(root),
        "SPENDLENS_DB": str(root / "target" / "spendlens.duckdb"),
        "SPENDLENS_TEMP_DIR": str(root / "target" / "duckdb_tmp"),
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DBT_LOG_PATH": str(root / "dbt_logs"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "SPENDLENS_PROGRESS": "0",
    }
    result = subprocess.run([sys.executable, "-m", "spendlens", *args], cwd=root, env=env,
                            capture_output=True, text=True, preexec_fn=lambda: os.umask(0o027))
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-60:])
        raise AssertionError(f"spendlens {args[0]} failed:\n{tail}\n{result.stderr[-3000:]}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileBuild:
    root = tmp_path_factory.mktemp("hostile")
    _spendlens(["build", "--data", str(HOSTILE)], root)
    # --out used as given: relative to the working folder, with a space in it
    _spendlens(["export", "--format", "csv", "--out", "csv exports"], root)
    _spendlens(["export", "--format", "parquet", "--out", "parquet"], root)
    return HostileBuild(root, root / "target" / "spendlens.duckdb", root / "csv exports",
                        root / "parquet")


@pytest.fixture(scope="module")
def con(hostile: HostileBuild):
    connection = duckdb.connect(str(hostile.db), read_only=True)
    yield connection
    connection.close()


def marts_with_types(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position").fetchall()
    marts: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        marts.setdefault(table, []).append((column, data_type))
    return marts


def sort_rows(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))


# -- the fixture -------------------------------------------------------------------------------
def test_fixture_files_are_what_the_script_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(HOSTILE))
    try:
        import make_hostile
    finally:
        sys.path.remove(str(HOSTILE))
    make_hostile.main(tmp_path)
    for name in INPUTS:
        assert (tmp_path / f"{name}.csv").read_bytes() == (HOSTILE / f"{name}.csv").read_bytes(), name


def test_fixture_holds_every_hostile_value() -> None:
    text = "\n".join((HOSTILE / f"{name}.csv").read_text(encoding="utf-8") for name in INPUTS)
    customers = read_input("customers")
    products = read_input("products")
    bundles = read_input("product_bundles")
    names = set(customers.customer_name) | set(products.product_name) | set(bundles.bundle_name)
    for value in [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", SCRIPT, IMG, SQL, UNICODE,
                  "\tTabbed", "\rCarriage", "nul\x00byte"]:
        assert value in names, value
    assert any(len(name) == 10_000 for name in names)
    assert any("\n" in name for name in names) and any("," in name for name in names)
    assert any("'" in name and '"' in name for name in names)
    for value in ["00042", "../../etc/passwd", SQL, HYPERLINK, "\tC-tab", "\rC-cr", SCRIPT]:
        assert value in set(customers.customer_id), value
    assert {HYPERLINK, SCRIPT, "+1+1"} <= set(customers.segment)
    assert "00042" in set(products.product_id) and "00042" in set(bundles.bundle_id)
    assert any(SCRIPT in tags for tags in products.tags)
    assert "\x00" in text
    assert len(read_input("order_lines")) >= 300


# -- hostile input is data ---------------------------------------------------------------------
def test_every_input_row_is_kept(con: duckdb.DuckDBPyConnection) -> None:
    for name in INPUTS:
        staged = con.execute(f"select count(*) from staging.stg_shop__{name}").fetchone()[0]
        assert staged == len(read_input(name)), name
    lines = read_input("order_lines")
    usable = con.execute("select count(*) from intermediate.int_order_lines_validated "
                         "where dq_reason is null").fetchone()[0]
    issues = con.execute("select order_id, reason from marts.data_quality_issues "
                         "where source_file = 'order_lines' order by 1").fetchall()
    assert usable + len(issues) == len(lines)
    assert [order_id for order_id, _ in issues] == ["BAD-1", "BAD-2", "BAD-3"]
    for table in ["int_customers_validated", "int_products_validated"]:
        set_aside = con.execute(f"select count(*) from intermediate.{table} "
                                "where dq_reason is not null").fetchone()[0]
        assert set_aside == 0, table


def test_customers_and_products_are_kept_byte_equal(con: duckdb.DuckDBPyConnection) -> None:
    customers = read_input("customers")
    expected = sorted(
        (as_key(r.customer_id), as_kept(r.customer_name), as_key(r.segment),
         as_key(r.account_manager))
        for r in customers.itertuples())
    kept = con.execute("select customer_id, customer_name, segment, account_manager "
                       "from intermediate.int_customers_validated order by 1").fetchall()
    assert kept == expected
    summarised = con.execute("select customer_id, customer_name, segment "
                             "from intermediate.int_customers_summarised order by 1").fetchall()
    assert summarised == [row[:3] for row in expected]  # every customer bought something

    products = read_input("products")
    expected_products = sorted(
        (as_key(r.product_id), as_kept(r.product_name), as_key(r.category) or "Uncategorised",
         as_key(r.tags)) for r in products.itertuples())
    kept_products = con.execute("select product_id, product_name, category, tags "
                                "from intermediate.int_products_validated order by 1").fetchall()
    assert kept_products == expected_products

    bundles = read_input("product_bundles")
    expected_bundles = sorted((as_key(r.bundle_id), as_kept(r.bundle_name), as_key(r.product_id))
                              for r in bundles.itertuples())
    kept_bundles = con.execute("select bundle_id, bundle_name, product_id "
                               "from staging.stg_shop__product_bundles order by all").fetchall()
    assert kept_bundles == expected_bundles

    lines = read_input("order_lines")
    expected_lines = sorted((as_key(r.order_id), as_key(r.customer_id), as_key(r.product_id))
                            for r in lines.itertuples())
    kept_lines = con.execute("select order_id, customer_id, product_id "
                             "from staging.stg_shop__order_lines order by all").fetchall()
    assert kept_lines == expected_lines
    # the one normalisation is visible: the NUL byte is gone, the rest of the name is there
    assert ("C-nul", "nulbyte") in [(k[0], k[1]) for k in kept]
    assert any(len(name) == 10_000 for _, name, _, _ in kept)


def test_ids_are_text_with_leading_zeros_in_every_mart(con: duckdb.DuckDBPyConnection) -> None:
    customer_ids = {as_key(v) for v in read_input("customers").customer_id}
    product_ids = {as_key(v) for v in read_input("products").product_id}
    bundle_ids = {as_key(v) for v in read_input("product_bundles").bundle_id}
    names = dict(zip(read_input("customers").customer_id.map(as_key),
                     read_input("customers").customer_name.map(as_kept), strict=True))
    marts = marts_with_types(con)
    assert marts, "no marts built"
    checked = []
    for mart, columns in marts.items():
        types = dict(columns)
        for column, data_type in columns:
            if column.endswith("_id"):
                assert data_type == "VARCHAR", f"{mart}.{column} is {data_type}, not text"
        if "customer_id" in types:
            values = {r[0] for r in con.execute(
                f'select distinct customer_id from marts."{mart}" where customer_id is not null'
            ).fetchall()}
            unknown = values - customer_ids - ({"=EVIL()"} if mart == "data_quality_issues" else set())
            assert not unknown, f"{mart}: ids not in the input {sorted(unknown)[:5]}"
            if mart != "data_quality_issues":
                assert {"00042", "00007", SQL, "../../etc/passwd", "\rC-cr"} <= values, mart
                checked.append(mart)
        if "customer_name" in types and "customer_id" in types:
            pairs = con.execute(f'select distinct customer_id, customer_name from marts."{mart}"'
                                ).fetchall()
            assert all(names[i] == n for i, n in pairs), f"{mart}: a customer name changed"
        if "product_id" in types:
            values = {r[0] for r in con.execute(
                f'select distinct product_id from marts."{mart}" where product_id is not null'
            ).fetchall()}
            assert values <= product_ids, mart
    assert checked, "no mart with customer_id"
    items = dict(con.execute(
        "select item_level, list(distinct item_id) from marts.customer_spend_profile group by 1"
    ).fetchall())
    assert "00042" in items["product"] and "00042" in items["bundle"]
    assert set(items["product"]) <= product_ids and set(items["bundle"]) <= bundle_ids


def test_sql_text_stays_text(con: duckdb.DuckDBPyConnection) -> None:
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables")
              .fetchall()}
    assert {"stg_shop__customers", "stg_shop__products", "stg_shop__order_lines"} <= tables
    row = con.execute("select customer_name from intermediate.int_customers_summarised "
                      "where customer_id = ?", [SQL]).fetchone()
    assert row == (SQL,)


# -- CSV exports: no formulas, valid RFC 4180, the marts' values -------------------------------
def test_csv_export_neutralises_formulas_and_reads_back(
    hostile: HostileBuild, con: duckdb.DuckDBPyConnection
) -> None:
    marts = marts_with_types(con)
    negative_numbers = 0
    prefixed = 0
    for mart, columns in marts.items():
        path = hostile.csv_dir / f"{mart}.csv"
        raw = path.read_bytes()
        header = ",".join(column for column, _ in columns)
        assert raw.startswith(header.encode() + b"\r\n") and raw.endswith(b"\r\n"), mart
        with path.open(newline="", encoding="utf-8") as f:
            records = list(csv.reader(f, strict=True))
        assert all(len(r) == len(columns) for r in records), f"{mart}: ragged CSV"

        rows = con.execute(f'select * from marts."{mart}"').fetchall()
        text = [data_type == "VARCHAR" for _, data_type in columns]
        expected = [tuple(csv_cell(v) if t else v for v, t in zip(row, text, strict=True))
                    for row in rows]
        prefixed += sum(a != b for row, exp in zip(rows, expected, strict=True)
                        for a, b in zip(row, exp, strict=True))

        types = {column: data_type for column, data_type in columns}
        back = duckdb.execute(
            "select * from read_csv(?, header = true, delim = ',', quote = '\"', escape = '\"', "
            f"allow_quoted_nulls = false, parallel = false, columns = {types})", [str(path)]
        ).fetchall()
        assert sort_rows(back) == sort_rows(expected), f"{mart}: duckdb read-back differs"

        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        assert len(frame) == len(rows), mart
        for index, (column, data_type) in enumerate(columns):
            cells = frame[column].tolist()
            if data_type == "VARCHAR":
                want = ["" if row[index] is None else row[index] for row in expected]
                assert sorted(cells) == sorted(want), f"{mart}.{column}: pandas read-back differs"
                starts = [c for c in cells if c.startswith(FORMULA_TRIGGERS)]
                assert not starts, f"{mart}.{column}: formula trigger in {starts[:3]}"
            elif data_type in {"DOUBLE", "BIGINT", "INTEGER"}:
                got = sorted(float(c) for c in cells if c != "")
                want_numbers = sorted(float(r[index]) for r in rows if r[index] is not None)
                assert got == want_numbers, f"{mart}.{column}: numbers changed"
                negative_numbers += sum(c.startswith("-") for c in cells)
    assert prefixed > 0, "no hostile text reached a CSV export: the check proved nothing"
    assert negative_numbers > 0, "no negative number in any export: -5 must stay -5"


def test_parquet_export_is_not_altered(
    hostile: HostileBuild, con: duckdb.DuckDBPyConnection
) -> None:
    for mart in marts_with_types(con):
        rows = con.execute(f'select * from marts."{mart}"').fetchall()
        back = duckdb.execute("select * from read_parquet(?)",
                              [str(hostile.parquet_dir / f"{mart}.parquet")]).fetchall()
        assert sort_rows(back) == sort_rows(rows), mart
    ids = {r[0] for r in duckdb.execute(
        "select customer_id from read_parquet(?)",
        [str(hostile.parquet_dir / "customer_classifications.parquet")]).fetchall()}
    assert {HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\tC-tab"} <= ids  # no prefix in Parquet


# -- paths and file names ----------------------------------------------------------------------
def test_export_file_names_come_from_mart_names_only(
    hostile: HostileBuild, con: duckdb.DuckDBPyConnection
) -> None:
    marts = mart_names(con)  # information_schema only
    assert marts == sorted(marts_with_types(con))
    assert sorted(p.name for p in hostile.csv_dir.iterdir()) == sorted(f"{m}.csv" for m in marts)
    assert sorted(p.name for p in hostile.parquet_dir.iterdir()) == sorted(
        [f"{m}.parquet" for m in marts] + ["spendlens.duckdb"])
    everything = list(hostile.root.rglob("*"))
    assert not [p for p in everything if "passwd" in p.name or p.name == "etc"]
    assert (hostile.root / "csv exports").is_symlink()  # --out was used as given


def test_a_mart_name_that_is_not_a_plain_name_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "evil.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute('create table marts."../../etc/passwd" as select 1 as x')
    try:
        with pytest.raises(SpendlensError, match="cannot be used as file names"):
            mart_names(con)
    finally:
        con.close()


# -- files on disk and secrets -----------------------------------------------------------------
def test_no_file_is_world_writable_under_umask_027(hostile: HostileBuild) -> None:
    writable = []
    for path in [hostile.root, *hostile.root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.stat().st_mode & stat.S_IWOTH:
            writable.append(str(path.relative_to(hostile.root)))
    assert not writable, f"world-writable: {writable[:10]}"
    # the data files follow the umask: nothing for other users
    for path in [hostile.db, *hostile.csv_dir.resolve().glob("*.csv"),
                 *hostile.parquet_dir.resolve().glob("*.parquet")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
    views = hostile.parquet_dir.resolve() / "spendlens.duckdb"
    assert stat.S_IMODE(views.stat().st_mode) == 0o444  # read-only by design


SECRET_IN_CONFIG = re.compile(
    r"""^\s*["']?(password|passwd|pwd|secret|client_secret|token|access_token|api_key|apikey|
    access_key|secret_key|private_key|aws_secret_access_key)["']?\s*[:=]\s*
    (?!\s*$)(?!\s*["']?\{\{)(?!\s*["']?\$\{)(?!\s*null\b)(?!\s*~)(?!\s*["']{2})""",
    re.IGNORECASE | re.VERBOSE)
SECRET_ANYWHERE = re.compile(
    r"AKIA[0-9A-Z]{16}|-----BEGIN (RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----|"
    r"gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,}")
CONFIG_SUFFIXES = {".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".env", ".json",
                   ".properties"}


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (PROJECT_DIR / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True,
                            check=True).stdout.decode().split("\0")
    return [PROJECT_DIR / name for name in listed if name]


def test_no_secret_in_the_repository() -> None:
    found = []
    for path in tracked_files():
        if not path.is_file() or path == Path(__file__).resolve():
            continue
        if path.name in {".env", "id_rsa", "id_ed25519"} or path.suffix in {".pem", ".key"}:
            found.append(f"{path.name}: a key or env file is tracked")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if SECRET_ANYWHERE.search(text):
            found.append(f"{path.name}: {SECRET_ANYWHERE.search(text).group(0)[:12]}...")
        if path.suffix in CONFIG_SUFFIXES or path.name == "profiles.yml":
            found += [f"{path.name}: {line.strip()[:40]}" for line in text.splitlines()
                      if SECRET_IN_CONFIG.match(line)]
    assert not found, f"possible secrets: {found}"


def test_profiles_take_every_setting_from_the_environment() -> None:
    text = (PROJECT_DIR / "profiles.yml").read_text()
    for line in text.splitlines():
        key = re.match(r"^\s*(\w+)\s*:\s*(\S.*)$", line)
        if key and key.group(1) in {"user", "password", "token", "host", "path", "schema"}:
            assert "env_var(" in key.group(2), f"profiles.yml: {line.strip()}"
    assert SECRET_IN_CONFIG.match("password: hunter2")  # the secret check can fail
    assert not SECRET_IN_CONFIG.match("password: \"{{ env_var('PW') }}\"")


# -- the HTML report in a real browser ---------------------------------------------------------
# Loaded before anything else on the page: records every alert/confirm/prompt, console.error
# and error event on the <html> element, where --dump-dom shows it.
PROBE = """<script>(function () {
  var log = [];
  function record(kind, args) {
    log.push(kind + ': ' + Array.prototype.join.call(args, ' '));
    document.documentElement.setAttribute('data-probe', JSON.stringify(log));
  }
  window.alert = function () { record('alert', arguments); };
  window.confirm = function () { record('confirm', arguments); return false; };
  window.prompt = function () { record('prompt', arguments); return null; };
  var error = console.error;
  console.error = function () { record('console.error', arguments); error.apply(console, arguments); };
  window.addEventListener('error', function (e) {
    record('error', [e.message || (e.target && e.target.tagName) || 'error']);
  }, true);
})();</script>"""


class _Dom(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in {"script", "style"}:
            self._stack.append(tag)
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._stack:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def open_in_chromium(page: Path, tmp_path: Path) -> tuple[list[str], _Dom]:
    """Loads `page` (with the probe first in <head>) in headless Chromium, lets its scripts run
    and returns what the probe recorded and the resulting DOM."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium missing: run scripts/install_chromium.sh")
    source = page.read_text(encoding="utf-8")
    head = re.search(r"<head[^>]*>", source, re.IGNORECASE)
    at = head.end() if head else 0
    probed = tmp_path / f"probed_{page.name}"
    probed.write_text(source[:at] + PROBE + source[at:], encoding="utf-8")
    result = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000",
         "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    root = next((attrs for tag, attrs in dom.elements if tag == "html"), {})
    return json.loads(root.get("data-probe") or "[]"), dom


def injected_elements(dom: _Dom) -> list[str]:
    """Elements that the hostile values would have made had they been parsed as HTML."""
    found = [f"<{tag} src={attrs.get('src')}>" for tag, attrs in dom.elements
             if tag == "img" and attrs.get("src") == "x"]
    found += [f"<{tag} {name}=...>" for tag, attrs in dom.elements for name, value in attrs.items()
              if name.startswith("on") and "alert" in (value or "")]
    # `<script>alert(1)</script>` parsed as HTML is a script whose whole text is alert(1); the
    # same text inside a chart's JSON string is data (a broken string would be an error event)
    found += [f"<script>{s[:30]}" for s in dom.scripts if s.strip() == "alert(1)"]
    return found


def test_browser_probe_catches_an_unescaped_page(tmp_path: Path) -> None:
    """The check below can fail: a page with the payloads pasted in unescaped is caught."""
    page = tmp_path / "unescaped.html"
    page.write_text(f"<!doctype html><html><head><title>t</title></head><body><p>{IMG}</p>"
                    f"<div>{SCRIPT}</div></body></html>", encoding="utf-8")
    events, dom = open_in_chromium(page, tmp_path)
    assert any(e.startswith("alert") for e in events)
    assert injected_elements(dom)


def test_report_with_hostile_data_runs_no_script(
    hostile: HostileBuild, tmp_path: Path
) -> None:
    report = pytest.importorskip("spendlens.report")
    out = tmp_path / "report.html"
    report.write_report(out, db=hostile.db)
    events, dom = open_in_chromium(out, tmp_path)
    assert not events, f"the report ran code or failed in the browser: {events[:5]}"
    assert not injected_elements(dom), injected_elements(dom)[:5]
    visible = "".join(dom.text)
    # the hostile segment names are shown as the text they are
    assert SCRIPT in visible and HYPERLINK in visible, "hostile names not visible as text"
