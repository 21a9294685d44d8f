"""Read-side views of a store: thread and iteration listings, one iteration's timeline.

Everything reads the store's Parquet files lazily, so that showing one iteration of a
million-record store reads only what the filters need.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from threadlog.choices import LEVEL_RANK
from threadlog.errors import ThreadlogError
from threadlog.rally_views import timeline_with_actions
from threadlog.store import Store

__all__ = [
    "NO_ITERATIONS",
    "IterationTimeline",
    "has_iterations",
    "iteration_stats",
    "level_at_least",
    "list_iterations",
    "list_threads",
    "recycled_idents",
    "scan_table",
    "select_iteration",
    "thread_timeline",
    "timeline",
]


NO_ITERATIONS = (
    "this log holds no Rally iterations; `threadlog threads` lists its logical threads "
    "and `threadlog timeline --thread UID` shows one"
)


def has_iterations(store: Store) -> bool:
    """Whether the store holds any iteration (a log of something other than Rally holds none)."""
    return store.scan("iterations").head(1).collect().height > 0


def level_at_least(level: str) -> pl.Expr:
    """Records at `level` or above (unknown level names are kept)."""
    rank = LEVEL_RANK.get(level.upper())
    if rank is None:
        raise ThreadlogError(f"unknown level {level!r}; use one of {', '.join(sorted(LEVEL_RANK, key=LEVEL_RANK.get))}")
    known = pl.col("level").replace_strict(LEVEL_RANK, default=None, return_dtype=pl.Int64)
    return known.is_null() | (known >= rank)


def task_filter(store: Store, task: str | None) -> pl.Expr:
    """Rows of the task whose uuid starts with `task` (which must name exactly one)."""
    if task is None:
        return pl.lit(True)
    tasks = store.scan("iterations").select(pl.col("task").unique()).collect()["task"].drop_nulls()
    matches = [t for t in tasks.to_list() if t.startswith(task)]
    if not matches:
        raise ThreadlogError(f"no task starts with {task!r}; `threadlog iterations` lists them")
    if len(matches) > 1:
        raise ThreadlogError(
            f"{task!r} names {len(matches)} tasks ({', '.join(m[:13] for m in matches)}); give more of the uuid"
        )
    return pl.col("task") == matches[0]


def check_status(status: str) -> None:
    if status not in ("ok", "error", "unfinished"):
        raise ThreadlogError(f"unknown status {status!r}; use ok, error or unfinished")


def list_threads(store: Store, pid: int | None = None) -> pl.DataFrame:
    frame = store.scan("threads")
    if pid is not None:
        frame = frame.filter(pl.col("pid") == pid)
    return frame.collect()


def recycled_idents(store: Store, pid: int | None = None) -> pl.DataFrame:
    """Idents that stood for more than one logical thread, most recycled first."""
    frame = store.scan("threads").filter(pl.col("thread").is_not_null())
    if pid is not None:
        frame = frame.filter(pl.col("pid") == pid)
    return (
        frame.group_by("pid", "thread")
        .agg(
            pl.len().alias("threads"),
            pl.col("iteration").is_not_null().sum().alias("iteration_threads"),
            pl.col("first_ts").min(),
            pl.col("last_ts").max(),
            pl.col("first_line").min(),
            pl.col("last_line").max(),
        )
        .filter(pl.col("threads") > 1)
        .sort(["threads", "pid", "thread"], descending=[True, False, False])
        .collect()
    )


def list_iterations(
    store: Store,
    task: str | None = None,
    workload: int | None = None,
    iteration: int | None = None,
    status: str | None = None,
) -> pl.DataFrame:
    return scan_table(store, "iterations", task, workload, iteration, status).collect()


def iteration_stats(iterations: pl.DataFrame) -> dict[str, object]:
    """Count, ok, failed and duration min/median/p90/max, as in Rally's own table."""
    d = iterations["duration_s"].drop_nulls()
    return {
        "count": iterations.height,
        "ok": int((iterations["status"] == "ok").sum()),
        "failed": int((iterations["status"] == "error").sum()),
        "unfinished": int((iterations["status"] == "unfinished").sum()),
        "min": d.min(),
        "median": d.median(),
        "p90": d.quantile(0.9, "linear"),
        "max": d.max(),
    }


def select_iteration(
    store: Store, iteration: int, task: str | None = None, workload: int | None = None
) -> pl.DataFrame:
    """The one iteration the user named, or a `ThreadlogError` saying how to name it."""
    found = list_iterations(store, task, workload, iteration)
    if found.height == 0:
        raise ThreadlogError(
            f"no iteration {iteration}"
            + (f" in task {task}" if task else "")
            + (f" workload {workload}" if workload else "")
            + "; `threadlog iterations` lists them"
        )
    return found


@dataclass
class IterationTimeline:
    """One iteration: its row of the iterations table, its records, and its neighbours."""

    iteration: dict[str, object]
    records: pl.DataFrame
    context: pl.DataFrame | None
    ambiguous: int


def timeline(
    store: Store,
    it: dict[str, object],
    level: str | None = None,
    context: bool = False,
) -> IterationTimeline:
    """Every record of iteration `it` in order, with its offset from the iteration start."""
    key = (
        (pl.col("task") == it["task"])
        & (pl.col("workload") == it["workload"])
        & (pl.col("iteration") == it["iteration"])
    )
    frame = _records_from(store, key, it["start_ts"], level)
    ambiguous = 0
    if (frame["attribution"] != "thread").any() or frame.height == 0:
        ambiguous = _ambiguous_between(store, it)
    neighbours = _overlapping(store, it) if context else None
    return IterationTimeline(it, timeline_with_actions(store, it, frame), neighbours, ambiguous)


def thread_timeline(store: Store, uid: str, level: str | None = None) -> tuple[dict[str, object], pl.DataFrame]:
    """One logical thread's row of the threads table, and its records with offsets."""
    found = store.scan("threads").filter(pl.col("thread_uid") == uid).collect()
    if found.height == 0:
        raise ThreadlogError(f"no thread {uid!r}; `threadlog threads` lists them (pid/ident#generation)")
    row = found.row(0, named=True)
    return row, _records_from(store, pl.col("thread_uid") == uid, row["first_ts"], level)


def _records_from(store: Store, which: pl.Expr, start: object, level: str | None) -> pl.DataFrame:
    """The records `which` selects, in log order, with ``offset_s`` from `start` (read lazily)."""
    records = store.scan("records").filter(which)
    if level is not None:
        records = records.filter(level_at_least(level))
    offset = (
        (pl.col("ts") - pl.lit(start)).dt.total_microseconds() / 1e6
        if start is not None
        else pl.lit(None, dtype=pl.Float64)
    )
    return records.with_columns(offset_s=offset).sort("source", "line").collect()


def _ambiguous_between(store: Store, it: dict[str, object]) -> int:
    """Records of the iteration's process and span that could not be attributed."""
    if it["first_line"] is None or it["last_line"] is None:
        return 0
    return int(
        store.scan("records")
        .filter(
            (pl.col("source") == it["source"])
            & (pl.col("pid") == it["pid"])
            & pl.col("line").is_between(it["first_line"], it["last_line"])
            & (pl.col("attribution") == "ambiguous")
        )
        .select(pl.len())
        .collect()
        .item()
    )


def _overlapping(store: Store, it: dict[str, object]) -> pl.DataFrame:
    """Iterations of the same process that ran while `it` did."""
    start, end = it["start_ts"], it["end_ts"]
    frame = store.scan("iterations").filter(
        (pl.col("pid") == it["pid"])
        & (pl.col("source") == it["source"])
        & ~(
            (pl.col("task") == it["task"])
            & (pl.col("workload") == it["workload"])
            & (pl.col("iteration") == it["iteration"])
        )
    )
    if start is None:
        # no timestamps: overlap by line span instead, and no offsets to give
        lo, hi = it["first_line"], it["last_line"]
        frame = frame.filter((pl.col("first_line") <= hi) & (pl.col("last_line") >= lo))
        none = pl.lit(None, dtype=pl.Float64)
        return frame.with_columns(start_offset_s=none, end_offset_s=none).collect()
    end_expr = pl.col("end_ts").fill_null(pl.col("start_ts"))
    frame = frame.filter((pl.col("start_ts") <= (end or start)) & (end_expr >= start))
    return (
        frame.with_columns(
            start_offset_s=(pl.col("start_ts") - pl.lit(start)).dt.total_microseconds() / 1e6,
            end_offset_s=(pl.col("end_ts") - pl.lit(start)).dt.total_microseconds() / 1e6,
        )
        .sort("start_ts")
        .collect()
    )


def scan_table(
    store: Store,
    table: str,
    task: str | None = None,
    workload: int | None = None,
    iteration: int | None = None,
    status: str | None = None,
) -> pl.LazyFrame:
    """One table of the store, filtered, not yet read (an export streams it to its file);
    records and threads filter through their iteration's status."""
    frame = store.scan(table).filter(task_filter(store, task))
    if workload is not None:
        frame = frame.filter(pl.col("workload") == workload)
    if iteration is not None:
        frame = frame.filter(pl.col("iteration") == iteration)
    if status is not None:
        check_status(status)
        if table == "iterations":
            frame = frame.filter(pl.col("status") == status)
        else:  # the rows' own task/workload/iteration filters above narrow it already
            keys = store.scan("iterations").filter(pl.col("status") == status).select("task", "workload", "iteration")
            frame = frame.join(keys, on=["task", "workload", "iteration"], how="semi")
    return frame
