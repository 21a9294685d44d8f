"""`rally task report --json` read by polars' JSON reader with a fixed schema: only the
fields the join needs are built, in native code. A 100k-iteration report is 150 MB of
indented JSON, and Python's json module alone spends longer on it than the whole join.

Returns None whenever the document does not fit the schema (the older shape, other types,
atomic actions nested deeper than the schema reads): the plain reader then reads it and
says what is wrong, if anything.
"""

from __future__ import annotations

import io

import polars as pl

from threadlog.rally_report import ACTION_SCHEMA, ITERATION_SCHEMA, WORKLOAD_SCHEMA

__all__ = ["read_report_fast"]

LEVELS = 4  # levels of nested atomic actions read (Rally's own statistics use three)
_LEAF = {"name": pl.String, "started_at": pl.Float64, "finished_at": pl.Float64, "failed": pl.Boolean}


def _actions_type(levels: int) -> pl.DataType:
    # below the last level read: the names only, to see that nothing deeper exists
    inner: pl.DataType = pl.List(pl.Struct({"name": pl.String}))
    for _ in range(levels):
        inner = pl.List(pl.Struct({**_LEAF, "children": inner}))
    return inner


_PHASE = pl.Struct({"started_at": pl.Float64, "finished_at": pl.Float64, "error": pl.List(pl.String)})
_SCHEMA = {
    "tasks": pl.List(
        pl.Struct(
            {
                "uuid": pl.String,
                "subtasks": pl.List(
                    pl.Struct(
                        {
                            "title": pl.String,
                            "workloads": pl.List(
                                pl.Struct(
                                    {
                                        "position": pl.Int64,
                                        "pass_sla": pl.Boolean,
                                        "sla_results": pl.Struct(
                                            {"sla": WORKLOAD_SCHEMA["sla"]}  # criterion, success, detail
                                        ),
                                        "contexts_results": pl.List(
                                            pl.Struct({"plugin_name": pl.String, "setup": _PHASE, "cleanup": _PHASE})
                                        ),
                                        "data": pl.List(
                                            pl.Struct(
                                                {
                                                    "timestamp": pl.Float64,
                                                    "duration": pl.Float64,
                                                    "idle_duration": pl.Float64,
                                                    "error": pl.List(pl.String),
                                                    "atomic_actions": _actions_type(LEVELS),
                                                }
                                            )
                                        ),
                                    }
                                )
                            ),
                        }
                    )
                ),
            }
        )
    )
}


def _error_text(column: str) -> pl.Expr:
    """Rally's ``[type, message, traceback]`` as ``type: message``; null when ok."""
    parts = pl.col(column).list.head(2).list.join(": ")
    return pl.when(pl.col(column).list.len() > 0).then(parts).otherwise(None)


def read_report_fast(raw: bytes) -> tuple[list[str | None], pl.DataFrame, pl.DataFrame, pl.DataFrame] | None:
    """Task uuids, workloads, iterations and atomic actions of a report, or None (see above)."""
    if raw.lstrip()[:1] != b"{":
        return None
    try:
        doc = pl.read_json(io.BytesIO(raw), schema=_SCHEMA)
    except (pl.exceptions.PolarsError, ValueError, TypeError):
        return None
    if doc.height != 1 or doc["tasks"][0] is None:
        return None
    tasks = doc.select(pl.col("tasks").explode()).unnest("tasks").with_row_index("report_task")
    if tasks.height == 0 or tasks["subtasks"].null_count():
        return None
    uuids = tasks["uuid"].to_list()
    workloads = (
        tasks.select("report_task", "subtasks")
        .explode("subtasks")
        .with_row_index("subtask_index")
        .unnest("subtasks")
        .select("report_task", "subtask_index", subtask="title", workloads="workloads")
        .explode("workloads")
        .unnest("workloads")
        .filter(pl.col("data").is_not_null())
        .sort("report_task", "subtask_index", "position", maintain_order=True)
        .with_columns(workload=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("report_task"))
    )
    if workloads["position"].null_count():
        return None
    contexts = (
        workloads.select("report_task", "workload", "contexts_results")
        .explode("contexts_results")
        .filter(pl.col("contexts_results").is_not_null())
        .unnest("contexts_results")
        .unnest("setup", "cleanup", separator="_")
        .select(
            "report_task",
            "workload",
            context=pl.struct(
                name="plugin_name",
                setup_s=pl.col("setup_finished_at") - pl.col("setup_started_at"),
                setup_error=_error_text("setup_error"),
                cleanup_s=pl.col("cleanup_finished_at") - pl.col("cleanup_started_at"),
                cleanup_error=_error_text("cleanup_error"),
            ),
        )
        .group_by("report_task", "workload")
        .agg(contexts="context")
    )
    workload_rows = (
        workloads.join(contexts, on=["report_task", "workload"], how="left")
        .with_columns(
            sla=pl.col("sla_results").struct.field("sla").fill_null([]),
            contexts=pl.col("contexts").fill_null([]),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in WORKLOAD_SCHEMA.items()])
    )
    data = (
        workloads.select("report_task", "workload", pl.col("data"))
        .with_columns(pl.col("data").list.eval(pl.element().struct.with_fields(row=pl.int_range(pl.len()))))
        .explode("data")
        .unnest("data")
        .filter(pl.col("timestamp").is_not_null())
    )
    if data.height == 0 or data["duration"].null_count():
        return None
    error = _error_text("error")
    iterations = data.select(
        "report_task",
        "workload",
        pl.col("row").cast(pl.Int64),
        "timestamp",
        "duration",
        pl.col("idle_duration").fill_null(0.0),
        failed=error.is_not_null(),
        error=error,
    )
    actions = _flat_actions(data.select("report_task", "workload", pl.col("row").cast(pl.Int64), "atomic_actions"))
    if actions is None:
        return None
    return (
        uuids,
        workload_rows,
        iterations.select([pl.col(n).cast(t) for n, t in ITERATION_SCHEMA.items()]),
        actions,
    )


def _flat_actions(data: pl.DataFrame) -> pl.DataFrame | None:
    """Every atomic action, nested ones too, one row each; seq orders them in their
    iteration parents first (three decimal digits per level); None if nested deeper than read."""
    keys = ["report_task", "workload", "row"]
    levels = []
    level = (
        data.with_columns(
            pl.col("atomic_actions").list.eval(pl.element().struct.with_fields(at=pl.int_range(pl.len())))
        )
        .explode("atomic_actions")
        .filter(pl.col("atomic_actions").is_not_null())
        .unnest("atomic_actions")
        .with_columns(
            seq=pl.col("at").cast(pl.Int64) * 1000 ** (LEVELS - 1),
            parent_seq=pl.lit(None, pl.Int64),
            parent=pl.lit(None, pl.String),
        )
    )
    for depth in range(LEVELS):
        levels.append(
            level.select(
                *keys,
                "seq",
                "parent_seq",
                "name",
                "parent",
                depth=pl.lit(depth, pl.Int64),
                started_at="started_at",
                finished_at="finished_at",
                duration_s=pl.col("finished_at") - pl.col("started_at"),
                failed=pl.col("failed").fill_null(False),
            )
        )
        children = (
            level.select(*keys, parent_seq="seq", parent="name", children="children")
            .filter(pl.col("children").list.len() > 0)
            .with_columns(pl.col("children").list.eval(pl.element().struct.with_fields(at=pl.int_range(pl.len()))))
            .explode("children")
            .unnest("children")
        )
        if depth == LEVELS - 1:
            if children.height:
                return None  # deeper than read
            break
        if children.height == 0:
            break
        if children["at"].max() >= 999:  # type: ignore[operator]
            return None
        level = children.with_columns(
            seq=pl.col("parent_seq") + (pl.col("at").cast(pl.Int64) + 1) * 1000 ** (LEVELS - 2 - depth)
        )
    frame = pl.concat(levels, how="vertical_relaxed")
    if frame.height and frame["name"].null_count():
        return None
    return frame.select([pl.col(n).cast(t) for n, t in ACTION_SCHEMA.items()]).sort(*keys, "seq")
