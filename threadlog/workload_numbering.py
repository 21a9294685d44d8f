"""Which workload of its task each iteration belongs to, counted across chunks."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from threadlog.keyed import PROC, first_of, rows, upsert, within
from threadlog.reader import own_strings

__all__ = ["WorkloadNumbering"]


class WorkloadNumbering:
    """The workload of its task each START belongs to, counted across chunks.

    Iteration numbers restart in every workload: the task process's ``Running workload``
    messages count the workloads of its current task; without them, the k-th START of
    iteration n in a task is taken to belong to its k-th workload.
    """

    # per process instance: the task its main thread last named, and where
    MENTIONS: ClassVar[dict[str, pl.DataType]] = {"pid": pl.Int64, "inst": pl.Int32, "row": pl.Int64, "task": pl.String}
    # per task: its latest ``Running workload`` message, and that workload's ordinal
    EVENTS: ClassVar[dict[str, pl.DataType]] = {"task": pl.String, "wl_row": pl.Int64, "workload": pl.Int64}
    # per (task, iteration), in tasks without such messages: the STARTs seen so far
    REPEATS: ClassVar[dict[str, pl.DataType]] = {"task": pl.String, "iteration": pl.Int64, "seen": pl.Int64}

    def __init__(self) -> None:
        self._mentions = pl.DataFrame(schema=self.MENTIONS)
        self._events = pl.DataFrame(schema=self.EVENTS)
        self._repeats = pl.DataFrame(schema=self.REPEATS)

    def number(self, keyed: pl.DataFrame, starts: pl.DataFrame) -> pl.Series:
        """The workload of each of `starts` (``start_row, task, iteration``, by start_row),
        from the chunk's records (`keyed`)."""
        ev = rows(
            keyed,
            pl.col("main") & (pl.col("running_workload") | pl.col("task_ref").is_not_null()),
            *PROC,
            "row",
            "mark",
            "running_workload",
            "task_ref",
        ).sort("row")
        # the task a main thread last named before each of its "Running workload" messages
        mentions = ev.filter((pl.col("mark") == 0) & pl.col("task_ref").is_not_null()).select(
            *PROC, "row", pl.col("task_ref").cast(pl.String).alias("task")
        )
        mentions = pl.concat([self._mentions, mentions])
        events = ev.filter(pl.col("running_workload")).select(*PROC, pl.col("row").alias("wl_row"))
        known = self._events  # each task's latest workload before this chunk
        if events.height:
            seen = known.select("task", pl.col("workload").alias("seen"))  # one row per task: its latest
            events = (
                events.join_asof(
                    mentions.sort("row"),
                    left_on="wl_row",
                    right_on="row",
                    by=PROC,
                    strategy="backward",
                    check_sortedness=False,
                )
                .filter(pl.col("task").is_not_null())
                .join(seen, on="task", how="left", maintain_order="left")
                .select(
                    "task",
                    "wl_row",
                    workload=(pl.col("seen").fill_null(0) + pl.int_range(1, pl.len() + 1).over("task")).cast(pl.Int64),
                )
            )
            self._events = own_strings(pl.concat([known, events]).unique("task", keep="last"))
        self._mentions = own_strings(mentions.unique(PROC, keep="last"))
        with_events = pl.concat([known, events]) if events.height else known
        by_events = (
            starts.select("start_row", "task")
            .join_asof(
                with_events.sort("wl_row"),
                left_on="start_row",
                right_on="wl_row",
                by="task",
                strategy="backward",
                check_sortedness=False,
            )
            .filter(pl.col("task").is_in(with_events["task"].unique().implode()))
            .select("start_row", "workload")
        )
        rest = starts.join(by_events, on="start_row", how="anti")
        # the k-th START of iteration n in a task: workload k (counted in key order, no groups)
        by_repeats = (
            rest.select("start_row", "task", "iteration")
            .join(self._repeats, on=["task", "iteration"], how="left", nulls_equal=True)
            .sort("task", "iteration", "start_row")
            .with_columns(
                workload=pl.col("seen").fill_null(0)
                + within(first_of("task", "iteration"), pl.col("start_row").is_not_null().cast(pl.Int64))
            )
        )
        counted = by_repeats.select("task", "iteration", pl.col("workload").alias("seen")).unique(
            ["task", "iteration"], keep="last"
        )
        self._repeats = upsert(self._repeats, counted, ["task", "iteration"])
        workloads = pl.concat([by_events, by_repeats.select("start_row", "workload")]).sort("start_row")
        return workloads["workload"]
