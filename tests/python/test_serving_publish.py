"""Safe publishing with real processes: `spendlens build` runs as a subprocess in a temporary
home (its own target/ and exports/) on the tiny fixture, while BI readers, kills and a second
build happen around it. The tests run in file order and share the published state."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
TINY = PROJECT_DIR / "tests" / "fixtures" / "tiny"
PASSING = "{data_quality_max_issue_pct: 100}"
MART = "data_quality_issues"


class Home:
    """A folder a build runs in: target/, exports/, dbt's own target and log folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            k: v for k, v in os.environ.items()
            if k not in {"SPENDLENS_DB", "SPENDLENS_TARGET_DIR", "SPENDLENS_EXPORTS_DIR",
                         "SPENDLENS_HOME", "SPENDLENS_EXPORTS_KEEP"}
        }
        self.env.update({
            "PYTHONPATH": str(PROJECT_DIR),
            "DBT_TARGET_PATH": str(root / "dbt_target"),
            "DBT_LOG_PATH": str(root / "logs"),
            "SPENDLENS_TEMP_DIR": str(root / "duckdb_tmp"),
            "SPENDLENS_PROGRESS": "1",
            "PYTHONUNBUFFERED": "1",
        })

    @property
    def raw(self) -> Path:
        """Its own copy of the tiny fixture: same dbt vars every build, so dbt parses once."""
        return self.root / "raw"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def db(self) -> Path:
        return self.root / "target" / "spendlens.duckdb"

    def build_args(self, raw: Path, dbt_vars: str = PASSING) -> list[str]:
        return [sys.executable, "-m", "spendlens", "build", "--data", str(raw), "--vars", dbt_vars]

    def start(self, raw: Path, dbt_vars: str = PASSING, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.build_args(raw, dbt_vars), cwd=self.root,
                                env={**self.env, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, raw: Path, dbt_vars: str = PASSING, timeout: float = 240,
            **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.build_args(raw, dbt_vars), cwd=self.root,
                              env={**self.env, **env}, capture_output=True, text=True,
                              timeout=timeout)

    def published(self) -> dict[str, str]:
        """sha256 of every published file, plus where exports/ points."""
        hashes = {"exports ->": os.readlink(self.exports)}
        for path in sorted(self.exports.iterdir()):
            hashes[f"exports/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        hashes["target/spendlens.duckdb"] = hashlib.sha256(self.db.read_bytes()).hexdigest()
        return hashes

    def count(self, db: Path) -> int:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(f"select count(*) from marts.{MART}").fetchall()[0][0]
        finally:
            con.close()


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"build failed:\n{result.stdout[-3000:]}\n{result.stderr}"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    built = Home(tmp_path_factory.mktemp("serving_home"))
    shutil.copytree(TINY, built.raw)
    _ok(built.run(built.raw))
    return built


def test_first_build_publishes_exports_and_database(home: Home) -> None:
    assert home.exports.is_symlink()
    names = sorted(p.name for p in home.exports.iterdir())
    with duckdb.connect(str(home.db), read_only=True) as con:
        marts = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()]
    assert MART in marts
    assert names == sorted([*(f"{m}.parquet" for m in marts), "spendlens.duckdb"])
    assert home.count(home.exports / "spendlens.duckdb") == home.count(home.db) > 0
    assert not list((home.root / "target" / "builds").iterdir())  # the build folder was moved


def test_second_build_while_one_runs_exits_at_once(home: Home) -> None:
    first = home.start(home.raw)
    _wait_for_lock(home, first)
    started = time.monotonic()
    second = home.run(home.raw, timeout=30)
    elapsed = time.monotonic() - started
    assert second.returncode == 1
    assert re.search(rf"already running \(pid {first.pid}, started at \S+\)", second.stderr)
    assert second.stderr.count("\n") == 1  # one message, no traceback
    assert elapsed < 10, f"the second build took {elapsed:.1f}s to give up"
    _kill(first)  # (a whole build here would only repeat the other tests)


def _wait_for_lock(home: Home, proc: subprocess.Popen[str]) -> None:
    lock = home.root / "target" / "spendlens-build.lock"
    deadline = time.monotonic() + 60
    while f"pid {proc.pid}," not in (lock.read_text() if lock.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None, "the build never locked"
        time.sleep(0.05)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def _assert_complete(home: Home, expected_count: int) -> None:
    """What readers see is one complete version: every file opens, the counts agree."""
    assert home.count(home.exports / "spendlens.duckdb") == expected_count
    assert home.count(home.db) == expected_count


def test_killed_build_leaves_published_marts_unchanged(home: Home) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    before = home.published()
    count = home.count(home.db)

    # 1. killed at a random moment while dbt runs
    proc = home.start(home.raw)
    time.sleep(rng.uniform(0.5, 6.0))
    _kill(proc)
    assert home.published() == before, f"seed {seed}"

    # 2. killed right when publishing starts (exports being written, then swapped)
    proc = home.start(home.raw)
    for line in proc.stdout:
        if "publishing the marts" in line:
            time.sleep(rng.uniform(0.0, 0.05))
            break
    _kill(proc)
    after = home.published()
    if after != before:  # the swap may have completed just before the kill: then all is new
        assert after["exports ->"] != before["exports ->"], f"seed {seed}"
    _assert_complete(home, count)

    # 3. the lock of a killed build is gone: the next build gets it (a whole build that
    #    succeeds and cleans up after the kills follows in the reader test)
    proc = home.start(home.raw)
    _wait_for_lock(home, proc)
    _kill(proc)
    assert home.published() == after


READER = textwrap.dedent("""
    import json, sys, time, duckdb
    exports_db, target_db, stop = sys.argv[1:4]
    seen = {"exports": set(), "target": set()}
    errors, queries = [], 0
    def count(con):
        return con.execute("select count(*) from marts.data_quality_issues").fetchall()[0][0]
    cons = {"exports": duckdb.connect(exports_db, read_only=True),
            "target": duckdb.connect(target_db, read_only=True)}
    print("ready", flush=True)
    import os
    while not os.path.exists(stop):
        for name, con in cons.items():
            try:
                seen[name].add(count(con))
                queries += 1
            except Exception as exc:
                errors.append(f"{name}: {exc}")
        time.sleep(0.01)
    after = {}
    for name, con in cons.items():
        con.close()
        path = exports_db if name == "exports" else target_db
        con = duckdb.connect(path, read_only=True)
        after[name] = count(con)
        con.close()
    print(json.dumps({"seen": {k: sorted(v) for k, v in seen.items()}, "errors": errors,
                      "queries": queries, "after": after}))
""")


def test_bi_reader_keeps_working_during_build_and_sees_new_data_after(home: Home) -> None:
    old_count = home.count(home.db)
    old_version = home.exports.resolve()
    stop = home.root / "stop-reader"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(home.exports / "spendlens.duckdb"), str(home.db),
         str(stop)],
        cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert reader.stdout.readline().strip() == "ready"
    with open(home.raw / "order_lines.csv", "a") as f:  # one more bad line: one more issue
        f.write("O99,1,C001,P1,2024-03-02,1,-5,1,USD\n")
    # keep only one version, so the old one would go if the open-file check did not protect it
    result = home.run(home.raw, SPENDLENS_EXPORTS_KEEP="1")
    stop.touch()
    out, err = reader.communicate(timeout=60)
    _ok(result)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == [], err
    assert report["queries"] > 20
    assert report["seen"] == {"exports": [old_count], "target": [old_count]}
    assert report["after"] == {"exports": old_count + 1, "target": old_count + 1}
    assert old_version.exists(), "a version still open by a reader was deleted"
    assert home.exports.resolve() != old_version
    # this build came after the killed ones: their temporary folders are gone
    versions = home.root / "exports.versions"
    assert not [p for p in versions.iterdir() if p.name.startswith("tmp-")]
    assert not list(home.root.glob(".exports.tmp-*"))
    assert len(list((home.root / "target" / "builds").iterdir())) <= 2  # kept failed builds


def test_failing_data_quality_check_publishes_nothing_and_says_what_to_do(home: Home) -> None:
    before = home.published()
    result = home.run(home.raw, "{data_quality_max_issue_pct: 0}")
    assert result.returncode == 1
    message = result.stderr
    assert message.startswith("spendlens build: the build failed; nothing was published")
    assert "assert_data_quality_issue_share_below_threshold" in message
    # the share, the threshold, the setting and where to look (issue 18)
    assert re.search(r"Data quality: \d+ of \d+ order lines \([0-9.]+%\) were set aside", message)
    assert "more than data_quality_max_issue_pct = 0%" in message
    assert "marts.data_quality_issues" in message
    assert "Traceback" not in message
    kept = Path(re.search(r"kept for inspection: (\S+)", message).group(1))
    con = duckdb.connect(str(kept), read_only=True)
    try:
        listed = con.execute("select count(*) from marts.data_quality_issues "
                             "where source_file = 'order_lines' and not is_row_kept").fetchall()[0][0]
    finally:
        con.close()
    assert listed > 0
    assert home.published() == before
