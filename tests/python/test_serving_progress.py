"""The progress display and the failure message, fed with dbt-shaped events and results."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace as NS

from spendlens.dbt_runner import _failure_message, _short
from spendlens.progress import Progress
from spendlens.publish import Layout


def _event(name: str, **data: object) -> NS:
    return NS(info=NS(name=name), data=NS(**data))


def _finished(node: str, resource_type: str, status: str, message: str = "") -> NS:
    return _event("NodeFinished",
                  node_info=NS(unique_id=f"{resource_type}.x.{node}", node_name=node,
                               resource_type=resource_type, node_status=status),
                  run_result=NS(status=status, message=message))


def test_plain_lines_count_finished_nodes_against_the_total() -> None:
    out = io.StringIO()
    progress = Progress(stream=out, is_tty=False)
    progress(_event("LogStartLine", total=3, index=1))
    progress(_finished("stg_a", "model", "success"))
    progress(_finished("b", "model", "skipped"))
    progress(_finished("assert_x", "test", "fail", "Got 1 result"))
    progress(_event("SQLQuery"))  # other events are ignored
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # skipped nodes are counted, not printed
    assert lines[0].endswith("1/3 success model stg_a")
    assert lines[1].endswith("3/3 fail    test assert_x")
    assert [o.name for o in progress.failures()] == ["assert_x"]


def test_terminal_gets_one_redrawn_bar() -> None:
    out = io.StringIO()
    progress = Progress(stream=out, is_tty=True)
    progress(_event("LogStartLine", total=2, index=1))
    progress(_finished("a", "model", "success"))
    progress(_finished("b", "model", "success"))
    progress.finish()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[" + "#" * 12 + "." * 12 + "] 1/2" in text and "[" + "#" * 24 + "] 2/2" in text


def test_a_broken_event_never_breaks_the_build() -> None:
    progress = Progress(stream=io.StringIO(), is_tty=False)
    progress(_event("NodeFinished"))  # no node_info: ignored
    assert progress.done == 0


def test_short_message_keeps_the_reason_not_the_header() -> None:
    message = (
        "Compilation Error in model stg_shop__customers (models/staging/shop/stg.sql)\n"
        "  Required input file customers.csv (or customers.parquet) not found in /d.\n"
        "  \n  > in macro read_raw_file (macros/read_raw_file.sql)\n"
    )
    expected = "Required input file customers.csv (or customers.parquet) not found in /d."
    assert _short(message) == expected
    assert _short("Got 1 result, configured to fail if != 0") == (
        "Got 1 result, configured to fail if != 0")


def test_failure_message_names_failed_test_its_rows_and_the_kept_build(tmp_path: Path) -> None:
    test_node = NS(name="assert_share_below", resource_type="test", schema="dbt_test__audit",
                   alias="assert_share_below")
    model_node = NS(name="m", resource_type="model", schema="marts", alias="m")
    result = NS(exception=None, result=NS(results=[
        NS(status="fail", node=test_node, message="Got 1 result, configured to fail if != 0"),
        NS(status="skipped", node=model_node, message=""),
        NS(status="success", node=model_node, message="OK"),
    ]))
    layout = Layout(published_db=tmp_path / "target" / "spendlens.duckdb",
                    exports_dir=tmp_path / "exports")
    build_db = tmp_path / "target" / "builds" / "build-1" / "spendlens.duckdb"
    text = _failure_message(result, build_db, layout)
    assert text.startswith("the build failed; nothing was published. Failed:\n")
    assert "  fail: data test assert_share_below: Got 1 result" in text
    assert "failing rows: select * from dbt_test__audit.assert_share_below" in text
    assert "(1 downstream nodes were skipped)" in text
    assert f"kept for inspection: {build_db}" in text
    assert text.endswith("run `spendlens build` again.")
