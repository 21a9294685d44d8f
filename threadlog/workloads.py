"""Rally workloads as the log describes them, and the statistics Rally users read per workload.

The task process logs each workload as ``Running workload:`` with its position and config
(scenario, runner and their arguments) and, when it is over, ``Load duration is: S``. The
k-th ``Running workload`` of a task is its workload k, as the reconstructor numbers them.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import polars as pl

from threadlog.keyed import seconds
from threadlog.rally_report import CONTEXT_TYPE, SLA_TYPE

__all__ = [
    "WORKLOAD_MESSAGE_COLUMNS",
    "WORKLOAD_MESSAGE_SCHEMA",
    "WORKLOAD_SCHEMA",
    "build_workloads",
    "describes_workload",
    "statistics",
]

RUNNING = "Running workload:"
LOAD = "Load duration is:"
TASK_LINE = re.compile(r"^Task (?P<task>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) \| ")
POSITION = re.compile(r"^\s*position = (\d+)", re.MULTILINE)

WORKLOAD_SCHEMA = {
    "task": pl.String,
    "workload": pl.Int64,
    "subtask": pl.String,  # the subtask's title, from a joined report (the log does not say it)
    "position": pl.Int64,
    "scenario": pl.String,
    "scenario_args": pl.String,  # JSON
    "runner": pl.String,
    "runner_args": pl.String,  # JSON
    "iterations": pl.Int64,
    "failures": pl.Int64,
    "unfinished": pl.Int64,
    "load_duration_s": pl.Float64,
    "load_duration_from": pl.String,  # "rally" (its `Load duration is:` line) or "log" (first START to last END)
    "start_ts": pl.Datetime("us"),
    "end_ts": pl.Datetime("us"),
    "pass_sla": pl.Boolean,
    "sla": SLA_TYPE,
    "contexts": CONTEXT_TYPE,
}


# what `build_workloads` reads of the records `describes_workload` picks out
WORKLOAD_MESSAGE_SCHEMA = {
    "pid": pl.Int64,
    "source": pl.String,
    "line": pl.Int64,
    "line_end": pl.Int64,
    "message": pl.String,
}
WORKLOAD_MESSAGE_COLUMNS = list(WORKLOAD_MESSAGE_SCHEMA)


def describes_workload() -> pl.Expr:
    """The records that say which task a process runs, which workload it starts and how long
    its load took: a few per workload."""
    message = pl.col("message")
    return (
        message.str.starts_with(RUNNING)
        | message.str.starts_with(LOAD)
        | (message.str.starts_with("Task ") & ~message.str.contains("| ITER: ", literal=True))
    )


def build_workloads(
    messages: pl.DataFrame, iterations: pl.LazyFrame, report_workloads: pl.DataFrame | None
) -> pl.DataFrame:
    """One row per (task, workload) of the iterations table, described from the log (the
    records `describes_workload` picks out, in log order) and the report."""
    counts = (
        iterations.filter(pl.col("task").is_not_null())
        .group_by("task", "workload")
        .agg(
            iterations=pl.len().cast(pl.Int64),
            failures=(pl.col("status") == "error").sum().cast(pl.Int64),
            unfinished=(pl.col("status") == "unfinished").sum().cast(pl.Int64),
            start_ts=pl.col("start_ts").min(),
            end_ts=pl.col("end_ts").max(),
        )
        .collect()
    )
    described = _from_messages(messages)
    table = counts.join(described, on=["task", "workload"], how="left").with_columns(
        load_duration_from=pl.when(pl.col("rally_load_s").is_not_null())
        .then(pl.lit("rally"))
        .when(pl.col("start_ts").is_not_null() & pl.col("end_ts").is_not_null())
        .then(pl.lit("log")),
        load_duration_s=pl.coalesce("rally_load_s", seconds(pl.col("end_ts") - pl.col("start_ts"))),
    )
    if report_workloads is not None and report_workloads.height:
        extra = report_workloads.select("task", "workload", "subtask", "pass_sla", "sla", "contexts")
        table = table.join(extra, on=["task", "workload"], how="left")
    return (
        table.with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in WORKLOAD_SCHEMA.items() if name not in table.columns
        )
        .select([pl.col(name).cast(dtype) for name, dtype in WORKLOAD_SCHEMA.items()])
        .sort("task", "workload")
    )


def _from_messages(found: pl.DataFrame) -> pl.DataFrame:
    """Scenario, runner and Rally's load duration per (task, workload), from the task process's messages."""
    schema = {
        "task": pl.String,
        "workload": pl.Int64,
        "position": pl.Int64,
        "scenario": pl.String,
        "scenario_args": pl.String,
        "runner": pl.String,
        "runner_args": pl.String,
        "rally_load_s": pl.Float64,
    }
    rows: list[dict[str, Any]] = []
    task_of_pid: dict[Any, str] = {}
    seen: dict[str, int] = {}
    current: dict[Any, dict[str, Any]] = {}
    # a few rows per workload: read in order, one process's task and workload at a time
    for pid, text in found.select("pid", "message").iter_rows():
        task_ref = TASK_LINE.match(text)
        if task_ref:
            task_of_pid[pid] = task_ref.group("task")
        elif text.startswith(RUNNING) and pid in task_of_pid:
            task = task_of_pid[pid]
            seen[task] = seen.get(task, 0) + 1
            row = {"task": task, "workload": seen[task], **_describe(text)}
            rows.append(row)
            current[pid] = row
        elif text.startswith(LOAD) and pid in current:
            with contextlib.suppress(ValueError, IndexError):
                current.pop(pid)["rally_load_s"] = float(text[len(LOAD) :].split()[0])
    return pl.DataFrame(rows, schema=schema)


def _describe(message: str) -> dict[str, Any]:
    """Position, scenario and runner (with their arguments as JSON) of a ``Running workload`` message."""
    out: dict[str, Any] = {}
    position = POSITION.search(message)
    if position:
        out["position"] = int(position.group(1))
    start = message.find("config = ")
    if start < 0:
        return out
    try:
        config = json.loads(message[start + len("config = ") :])
        subtask = config["subtasks"][0]
        (scenario, scenario_args), *_ = subtask["scenario"].items()
        (runner, runner_args), *_ = subtask["runner"].items()
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return out
    out.update(
        scenario=scenario,
        scenario_args=json.dumps(scenario_args, sort_keys=True),
        runner=runner,
        runner_args=json.dumps(runner_args, sort_keys=True),
    )
    return out


STAT_COLUMNS = ["min", "median", "p90", "p95", "max", "avg", "success_pct", "count"]


def _rally_percentile(points: pl.Expr, fraction: float) -> pl.Expr:
    """Rally's percentile (rally.task.processing.utils.percentile): linear between the two
    nearest ranks of the sorted points, computed with its own formula."""
    ordered = points.sort()
    k = (pl.len() - 1).cast(pl.Float64) * fraction
    low, high = k.floor(), k.ceil()
    at_low = ordered.gather(low.cast(pl.Int64)).first()
    at_high = ordered.gather(high.cast(pl.Int64)).first()
    return pl.when(low == high).then(at_low).otherwise(at_low * (high - k) + at_high * (k - low))


def _stats(duration: pl.Expr, failed: pl.Expr) -> list[pl.Expr]:
    return [
        duration.min().alias("min"),
        _rally_percentile(duration, 0.5).alias("median"),
        _rally_percentile(duration, 0.9).alias("p90"),
        _rally_percentile(duration, 0.95).alias("p95"),
        duration.max().alias("max"),
        (duration.sum() / pl.len()).alias("avg"),
        ((~failed).sum() / pl.len() * 100).alias("success_pct"),
        pl.len().cast(pl.Int64).alias("count"),
    ]


def statistics(iterations: pl.DataFrame, actions: pl.DataFrame) -> pl.DataFrame:
    """Rally's per-workload table: per atomic action (merged per iteration as Rally merges
    them, nested ones under their parent) and ``total``: min, median, 90%ile, 95%ile, max,
    avg, success % and count. With a joined report the durations are Rally's (duration +
    idle for the total); without, the log's END - START.

    Columns: task, workload, action (Rally's display name, ``parent > child`` when nested),
    depth, source ("rally" or "log"), then the statistics.
    """
    its = iterations.filter(pl.col("task").is_not_null() & pl.col("status").is_in(["ok", "error"]))
    joined = its.filter(pl.col("rally_duration_s").is_not_null()) if "rally_duration_s" in its.columns else its.clear()
    by_rally = joined.select("task", "workload").unique()
    total_rally = joined.select(
        "task",
        "workload",
        "iteration",
        duration=pl.col("rally_duration_s") + pl.col("rally_idle_s"),
        failed=pl.col("rally_error").is_not_null(),
    )
    total_log = its.join(by_rally, on=["task", "workload"], how="anti").select(
        "task", "workload", "iteration", duration=pl.col("duration_s"), failed=pl.col("status") == "error"
    )
    totals = pl.concat([total_rally.with_columns(source=pl.lit("rally")), total_log.with_columns(source=pl.lit("log"))])
    merged = _merged_actions(actions, joined)
    order = ["task", "workload", "order", "action"]
    action_stats = (
        merged.group_by("task", "workload", "action", "depth")
        .agg(*_stats(pl.col("duration"), pl.col("failed")), order=pl.col("first").min())
        .with_columns(source=pl.lit("rally"))
    )
    total_stats = (
        totals.group_by("task", "workload", "source")
        .agg(*_stats(pl.col("duration"), pl.col("failed")))
        .with_columns(action=pl.lit("total"), depth=pl.lit(0, pl.Int64), order=pl.lit(1 << 62, pl.Int64))
    )
    columns = ["task", "workload", "action", "depth", "source", *STAT_COLUMNS]
    return (
        pl.concat([action_stats.select(*columns, "order"), total_stats.select(*columns, "order")])
        .sort(order)
        .select(columns)
    )


def _merged_actions(actions: pl.DataFrame, joined: pl.DataFrame) -> pl.DataFrame:
    """Atomic actions merged per iteration as Rally's report merges them: same-name actions
    of one iteration (under the same merged parent) become one, their durations summed,
    named ``name (xN)`` when N > 1, failed when any failed; an iteration that failed while
    its last action did not gets ``<no-name-action>`` (duration 0, failed)."""
    keys = ["task", "workload", "iteration"]
    empty = pl.DataFrame(
        schema={
            **{k: actions.schema.get(k, pl.Int64) for k in keys},
            "action": pl.String,
            "depth": pl.Int64,
            "duration": pl.Float64,
            "failed": pl.Boolean,
            "first": pl.Int64,
        }
    )
    if actions.height == 0:
        return empty
    rows = actions.select(*keys, "seq", "parent_seq", "name", "depth", "duration_s", "failed").with_columns(
        duration=pl.col("duration_s").fill_null(0.0)
    )
    # iteration ordinal, so that "first appearance" orders rows as Rally's table does
    ordinal = (
        joined.sort("rally_start")
        .select(*keys)
        .with_row_index("ordinal")
        .with_columns(pl.col("ordinal").cast(pl.Int64))
    )
    rows = rows.join(ordinal, on=keys, how="left").with_columns(
        first=pl.col("ordinal").fill_null(0) * 1_000_000 + pl.col("seq")
    )
    merged_levels = []
    paths = pl.DataFrame(schema={**{k: rows.schema[k] for k in keys}, "seq": pl.Int64, "path": pl.String})
    for depth in range(int(rows["depth"].max()) + 1):  # type: ignore[arg-type]
        level = rows.filter(pl.col("depth") == depth)
        if depth == 0:
            level = level.with_columns(parent_path=pl.lit(""))
        else:
            level = level.join(
                paths.rename({"seq": "parent_seq", "path": "parent_path"}), on=[*keys, "parent_seq"], how="inner"
            )
        grouped = level.group_by(*keys, "parent_path", "name").agg(
            duration=pl.col("duration").sum(),
            n=pl.len(),
            failed=pl.col("failed").any(),
            first=pl.col("first").min(),
            seqs=pl.col("seq"),
        )
        grouped = grouped.with_columns(
            display=pl.when(pl.col("n") > 1)
            .then(pl.col("name") + pl.lit(" (x") + pl.col("n").cast(pl.String) + pl.lit(")"))
            .otherwise(pl.col("name"))
        ).with_columns(
            path=pl.when(pl.col("parent_path") == "")
            .then(pl.col("display"))
            .otherwise(pl.col("parent_path") + pl.lit(" > ") + pl.col("display"))
        )
        paths = pl.concat([paths, grouped.explode("seqs").select(*keys, seq=pl.col("seqs"), path="path")])
        merged_levels.append(
            grouped.select(
                *keys, action="path", depth=pl.lit(depth, pl.Int64), duration="duration", failed="failed", first="first"
            )
        )
    merged = pl.concat(merged_levels)
    # Rally's <no-name-action>: a failed iteration whose last top-level action did not fail
    top = merged.filter(pl.col("depth") == 0)
    last = top.sort("first").group_by(keys).agg(last_failed=pl.col("failed").last(), first=pl.col("first").max())
    failed_its = joined.filter(pl.col("rally_error").is_not_null()).select(keys)
    no_name = (
        last.join(failed_its, on=keys)
        .filter(~pl.col("last_failed"))
        .select(
            *keys,
            action=pl.lit("<no-name-action>"),
            depth=pl.lit(0, pl.Int64),
            duration=pl.lit(0.0),
            failed=pl.lit(True),
            first=pl.col("first") + 1,
        )
    )
    return pl.concat([merged, no_name])
