"""Reconstruction scored against the ground truth of real Rally runs."""

from __future__ import annotations

import polars as pl
import pytest

from tests.conftest import CASES, truth


def score(case: str, records: pl.DataFrame) -> dict[str, float | int]:
    """Thread recovery, iteration attribution and false attributions, as the corpus defines them.

    Thread recovery: the share of true threads whose header records are exactly the records
    of one predicted thread_uid. Attribution: the share of in-iteration header records whose
    (task, workload, iteration) is right. False: records outside every iteration given one.
    """
    t = truth(case).filter((pl.col("kind") == "header") & pl.col("thread_ident").is_not_null())
    j = t.select("line", "true_thread_uid", "task", "workload", "iteration").join(
        records.select(
            "line",
            "thread_uid",
            pl.col("task").alias("p_task"),
            pl.col("workload").alias("p_wl"),
            pl.col("iteration").alias("p_it"),
        ),
        on="line",
        how="left",
    )
    pred_size = j.group_by("thread_uid").agg(pl.len().alias("p_size"))
    per_true = (
        j.group_by("true_thread_uid")
        .agg(pl.len().alias("t_size"), pl.col("thread_uid").n_unique().alias("n"), pl.col("thread_uid").first())
        .join(pred_size, on="thread_uid", how="left")
    )
    recovered = per_true.filter((pl.col("n") == 1) & (pl.col("p_size") == pl.col("t_size"))).height
    inside = j.filter(pl.col("iteration").is_not_null())
    right = inside.filter(
        (pl.col("p_task") == pl.col("task"))
        & (pl.col("p_wl") == pl.col("workload"))
        & (pl.col("p_it") == pl.col("iteration"))
    ).height
    false = j.filter(pl.col("iteration").is_null() & pl.col("p_it").is_not_null()).height
    return {
        "thread_recovery": recovered / per_true.height,
        "attribution": right / inside.height,
        "false": false,
    }


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("variant", ["thread", "blog"])
def test_threads_and_iterations_match_truth(case_store, case, variant):
    """Every true thread is recovered exactly and every iteration record attributed right."""
    store, _ = case_store(case, variant)
    records = pl.read_parquet(store / "records.parquet")
    assert score(case, records) == {"thread_recovery": 1.0, "attribution": 1.0, "false": 0}


def test_naive_pid_ident_is_far_from_truth(case_store):
    """The baseline the corpus warns about: (pid, ident) alone recovers almost no thread."""
    store, _ = case_store("c04-failures", "thread")
    records = pl.read_parquet(store / "records.parquet").with_columns(thread_uid=pl.format("{}/{}", "pid", "thread"))
    assert score("c04-failures", records)["thread_recovery"] < 0.02


def _truth_iterations(case: str) -> pl.DataFrame:
    t = truth(case).filter((pl.col("kind") == "header") & pl.col("iteration").is_not_null())
    return t.group_by("task", "workload", "iteration").agg(
        pl.col("line").min().alias("first_line"), pl.col("line").max().alias("last_line")
    )


@pytest.mark.parametrize("case", CASES)
def test_default_format_iterations_start_and_end_where_truth_says(case_store, case):
    """Without idents, every iteration still starts and ends on the truth's lines."""
    store, _ = case_store(case, "default")
    ours = pl.read_parquet(store / "iterations.parquet")
    expected = _truth_iterations(case)
    joined = expected.join(ours, on=["task", "workload", "iteration"], how="full", suffix="_ours")
    assert joined.height == expected.height == ours.height
    assert (joined["first_line"] == joined["first_line_ours"]).all()
    assert (joined["last_line"] == joined["last_line_ours"]).all()


@pytest.mark.parametrize("case", CASES)
def test_default_format_status_matches_thread_format(case_store, case):
    """The iteration statuses read without idents equal those read with them."""
    key = ["task", "workload", "iteration"]
    with_ident = pl.read_parquet(case_store(case, "thread")[0] / "iterations.parquet")
    without = pl.read_parquet(case_store(case, "default")[0] / "iterations.parquet")
    joined = with_ident.select(*key, "status", "error_type").join(
        without.select(*key, "status", "error_type"), on=key, suffix="_d"
    )
    assert joined.height == with_ident.height
    assert (joined["status"] == joined["status_d"]).all()
    assert joined["error_type"].eq_missing(joined["error_type_d"]).all()


@pytest.mark.parametrize("case", CASES)
def test_default_format_attributions_are_right(case_store, case):
    """Without idents, every record given an iteration (marker or window) is given the right one."""
    store, _ = case_store(case, "default")
    records = pl.read_parquet(store / "records.parquet")
    t = truth(case).filter(pl.col("kind") == "header")
    j = t.join(records, on="line", suffix="_p").filter(pl.col("iteration_p").is_not_null())
    assert j.height > 0
    wrong = j.filter(
        (pl.col("task") != pl.col("task_p"))
        | (pl.col("workload") != pl.col("workload_p"))
        | (pl.col("iteration") != pl.col("iteration_p"))
        | pl.col("iteration").is_null()
    )
    assert wrong.height == 0
    assert set(j["attribution"].unique()) <= {"marker", "window"}


def test_iteration_statuses_and_errors_of_failures_case(case_store):
    """c04's failed iterations carry their exception type, and counts match the case."""
    store, summary = case_store("c04-failures", "thread")
    it = pl.read_parquet(store / "iterations.parquet")
    assert summary["iterations"] == {"total": 1170, "ok": 756, "error": 414, "unfinished": 0}
    errors = it.filter(pl.col("status") == "error")
    assert errors["error_type"].null_count() == 0
    assert set(errors["error_type"].unique()) >= {"KeyError"}
    assert (it["duration_s"] >= 0).all()
