"""Rally's markers read by position agree with the marker grammar's regex."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from threadlog.markers import RALLY_MARKER, UUID, _rally_marker

TASK = "af5e63fc-1e6f-473a-8c62-b48136499c1b"


def by_regex(messages: pl.Series) -> pl.DataFrame:
    groups = messages.str.extract_groups(RALLY_MARKER).struct.unnest()
    return groups.with_columns(pl.col("error").str.strip_chars_start(" "))


def by_position(messages: pl.Series) -> pl.DataFrame:
    return messages.to_frame("m").select(_rally_marker(pl.col("m")).alias("x")).unnest("x")


@pytest.mark.parametrize("case", ["c04-failures", "c07-multi-workload"])
def test_every_real_marker_reads_the_same(case_store, case):
    """On every message of two real Rally runs, both readings give the same fields."""
    store, _ = case_store(case, "thread")
    messages = pl.read_parquet(store / "records.parquet")["message"]
    assert_frame_equal(by_position(messages), by_regex(messages))


@pytest.mark.parametrize(
    "message",
    [
        f"Task {TASK} | ITER: 12 START",
        f"Task {TASK} | ITER: 12 END: OK",
        f"Task {TASK} | ITER: 3 END: Error KeyError: 'Dummy test exception'",
        f"Task {TASK} | ITER: 3 END: Error DummyScenarioException: a: b\nsecond line",
        f"Task {TASK} | ITER: x START",
        f"Task {TASK[:-1]}g | ITER: 1 START",
        f"Task {TASK} | ITER: 1 STARTED",
        f"Task {TASK} | ITER: 1 END: Maybe",
        "Task short | ITER: 1 START",
        "| ITER: 1 START",
    ],
)
def test_edge_cases_read_the_same(message):
    """Malformed and multi-line markers are read (or refused) exactly as the regex does."""
    messages = pl.Series([message])
    assert_frame_equal(by_position(messages), by_regex(messages))
    assert UUID in RALLY_MARKER
