"""Read-side views: a logical thread's timeline, for logs with or without Rally iterations."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from tests.conftest import OPENSTACK
from threadlog.cli import app
from threadlog.ingest import IngestOptions, ingest
from threadlog.store import Store
from threadlog.views import thread_timeline


def test_thread_timeline_lists_the_threads_records(case_store):
    """--thread shows exactly the records of that logical thread, in order, from offset 0."""
    store, _ = case_store("c04-failures", "thread")
    records = pl.read_parquet(store / "records.parquet")
    uid = records["thread_uid"].value_counts(sort=True)["thread_uid"][0]
    row, timeline = thread_timeline(Store.open(store), uid)
    expected = records.filter(pl.col("thread_uid") == uid)["line"].to_list()
    assert timeline["line"].to_list() == expected
    assert timeline["offset_s"][0] == 0.0
    assert row["records"] == len(expected)


def test_thread_timeline_of_a_public_log(tmp_path):
    """A log without Rally markers still has threads to show: here a restarted oslo agent."""
    store = tmp_path / "s"
    ingest([str(OPENSTACK / "l3-agent.log")], IngestOptions(store=str(store)))
    result = CliRunner().invoke(app, ["timeline", "--thread", "27650/-#1", "--store", str(store)])
    assert result.exit_code == 0, result.stderr
    assert "thread 27650/-#1" in result.stdout
    assert "Logging enabled!" in result.stdout


def test_timeline_needs_one_subject(case_store):
    """Naming neither an iteration nor a thread (or both) is a one-line user error."""
    store, _ = case_store("c04-failures", "thread")
    for args in ([], ["--iteration", "1", "--thread", "x"]):
        result = CliRunner().invoke(app, ["timeline", *args, "--store", str(store)])
        assert result.exit_code == 1
        assert "--iteration N" in result.stderr


def test_unknown_thread_is_a_user_error(case_store):
    """A thread_uid that is not in the store says how to list them."""
    store, _ = case_store("c04-failures", "thread")
    result = CliRunner().invoke(app, ["timeline", "--thread", "1/2#3", "--store", str(store)])
    assert result.exit_code == 1
    assert "threadlog threads" in result.stderr


def test_info_shows_the_stored_summary(case_store):
    """`threadlog info` prints the summary of the parse that made the store, as table or JSON."""
    store, summary = case_store("c07-multi-workload", "thread")
    runner = CliRunner()
    table = runner.invoke(app, ["info", "--store", str(store)])
    assert table.exit_code == 0, table.stderr
    assert "1,880" in table.stdout
    assert "total 821, ok 766, error 55" in table.stdout
    shown = json.loads(runner.invoke(app, ["info", "--json", "--store", str(store)]).stdout)
    assert shown["records"] == summary["records"] == 1880
    assert shown["logical_threads"] == summary["logical_threads"]
