"""Read-side views of Rally's tables: atomic actions on an iteration's timeline, each
iteration's slowest atomic action, and the workloads with their statistics."""

from __future__ import annotations

import json
import re

import polars as pl

from threadlog.choices import SORTABLE
from threadlog.errors import ThreadlogError
from threadlog.rally_join import empty_actions
from threadlog.store import Store
from threadlog.workloads import statistics

__all__ = ["sort_iterations", "timeline_with_actions", "with_slowest_action", "workload_statistics"]

ACTIONS = "atomic_actions"


def _actions_of(store: Store, it: dict[str, object]) -> pl.DataFrame:
    return (
        store.scan(ACTIONS)
        .filter(
            (pl.col("task") == it["task"])
            & (pl.col("workload") == it["workload"])
            & (pl.col("iteration") == it["iteration"])
            & pl.col("started_at").is_not_null()
        )
        .collect()
    )


def timeline_with_actions(store: Store, it: dict[str, object], records: pl.DataFrame) -> pl.DataFrame:
    """The iteration's records with its atomic actions among them: ``▶ name`` where an
    action started and ``◀ name 3.212 s`` where it finished, indented by depth, placed after
    the records logged at or before that time. ``kind`` says record, action_start or action_end."""
    import numpy as np  # noqa: PLC0415 (only this view needs numpy: other commands start faster)

    records = records.with_columns(kind=pl.lit("record"))
    if not store.has(ACTIONS) or it["start_ts"] is None:
        return records
    actions = _actions_of(store, it)
    if actions.height == 0:
        return records
    indent = pl.lit("  ").repeat_by(pl.col("depth")).list.join("")
    starts = actions.select(
        ts=pl.col("started_at"),
        message=indent + pl.lit("▶ ") + pl.col("name"),
        kind=pl.lit("action_start"),
        order=pl.col("seq") * 2,
    )
    ends = actions.select(
        ts=pl.col("finished_at"),
        message=indent
        + pl.lit("◀ ")
        + pl.col("name")
        + pl.lit(" ")
        + pl.col("duration_s").round(3).cast(pl.String).str.pad_end(5, "0")
        + pl.lit(" s")
        + pl.when(pl.col("failed")).then(pl.lit(" failed")).otherwise(pl.lit("")),
        kind=pl.lit("action_end"),
        order=pl.col("seq") * 2 + 1,
    )
    events = pl.concat([starts, ends]).sort("ts", "order")
    # The log's times are truncated to the millisecond, so which records of an action's first
    # and last millisecond it spans is not known: it is drawn spanning them, but always
    # inside the iteration's own START and END markers.
    seen = records["ts"].fill_null(strategy="forward").cum_max().dt.epoch("us").fill_null(np.iinfo(np.int64).min)
    seen_np = seen.to_numpy()
    ms = events["ts"].dt.epoch("us").to_numpy() // 1000 * 1000
    is_start = (events["kind"] == "action_start").to_numpy()
    messages = records["message"].fill_null("")
    first = 1 if records.height and re.search(r"\| ITER: \d+ START", messages[0]) else 0
    last = (
        records.height - 1
        if records.height > first and re.search(r"\| ITER: \d+ END", messages[-1])
        else records.height
    )
    place = np.where(
        is_start, np.searchsorted(seen_np, ms, side="left"), np.searchsorted(seen_np, ms, side="right")
    ).clip(first, last)
    place = np.maximum.accumulate(place)  # events in time order stay in it (an action ends before the next starts)
    events = events.with_columns(
        _at=pl.Series(place, dtype=pl.Float64) - 0.5 + pl.int_range(pl.len()) / (2 * max(events.height, 1)),
        offset_s=(pl.col("ts") - pl.lit(it["start_ts"])).dt.total_microseconds() / 1e6,
        task=pl.lit(it["task"], pl.String),
        workload=pl.lit(it["workload"], pl.Int64),
        iteration=pl.lit(it["iteration"], pl.Int64),
    ).drop("order")
    merged = pl.concat(
        [records.with_columns(_at=pl.int_range(pl.len()).cast(pl.Float64)), events], how="diagonal_relaxed"
    )
    return merged.sort("_at").drop("_at")


def with_slowest_action(store: Store, iterations: pl.DataFrame) -> pl.DataFrame:
    """`iterations` with each one's slowest top-level atomic action and its seconds."""
    if not store.has(ACTIONS):
        return iterations.with_columns(
            slowest_action=pl.lit(None, pl.String), slowest_action_s=pl.lit(None, pl.Float64)
        )
    slowest = (
        store.scan(ACTIONS)
        .filter(pl.col("depth") == 0)
        .sort("duration_s", descending=True, nulls_last=True)
        .group_by("task", "workload", "iteration")
        .agg(slowest_action=pl.col("name").first(), slowest_action_s=pl.col("duration_s").first())
        .collect()
    )
    return iterations.join(slowest, on=["task", "workload", "iteration"], how="left", maintain_order="left")


def sort_iterations(frame: pl.DataFrame, sort: str | None) -> pl.DataFrame:
    """Sort by a column, ``COLUMN`` ascending or ``COLUMN:desc`` descending (nulls last)."""
    if sort is None:
        return frame
    column, _, order = sort.partition(":")
    if column not in SORTABLE or order not in ("", "asc", "desc"):
        raise ThreadlogError(f"cannot sort by {sort!r}; use one of {', '.join(SORTABLE)}, optionally with :desc")
    if column not in frame.columns:
        raise ThreadlogError(f"the store has no {column} column; run `threadlog parse LOG` again")
    return frame.sort(column, descending=order == "desc", nulls_last=True, maintain_order=True)


def workload_statistics(store: Store, task_filter: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The workloads table and the statistics per workload and action, for the tasks `task_filter` keeps."""
    workloads = store.scan("workloads").filter(task_filter).collect()
    its = store.scan("iterations").filter(task_filter).collect()
    actions = store.scan(ACTIONS).filter(task_filter).collect() if store.has(ACTIONS) else empty_actions()
    return workloads, statistics(its, actions)


def flat_for_csv(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Nested columns (lists, structs) as JSON text, which CSV can hold."""
    nested = [name for name, dtype in frame.collect_schema().items() if dtype.is_nested()]
    return frame.with_columns(
        pl.col(name).map_elements(
            lambda v: json.dumps(v.to_list() if isinstance(v, pl.Series) else v), return_dtype=pl.String
        )
        for name in nested
    )
