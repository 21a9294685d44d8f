"""What the HTML report shows, worked out from the store (no re-parse): frames, not markup.

Per task and workload: a summary, the iterations on their thread lanes, failures grouped by
error type, Rally's atomic actions when a report was joined, and the timelines of a few
iterations (failed examples of each error type, the slowest) within a size budget. For the
whole run: threads per process and levels over time, and errors grouped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from threadlog.rally_join import RALLY_COLUMNS, empty_actions
from threadlog.reconstruct import ITERATION_COLUMNS
from threadlog.secrets import mask_secrets, masked_columns
from threadlog.store import Store
from threadlog.trace import nesting_lanes, request_spans
from threadlog.views import task_filter
from threadlog.workloads import statistics

__all__ = ["Report", "Section", "Timeline", "build_report", "task_labels"]

KEY = ["task", "workload", "iteration"]
MAX_SECTIONS = 12  # workloads drawn in full; the others are rows of the overview table
FAILED_EXAMPLES = 3  # embedded timelines per error type and workload
SLOWEST = 5  # embedded timelines of the slowest iterations per workload
TIMELINE_BUDGET = 4 << 20  # bytes of message text embedded for timelines, all sections together
MESSAGE_LIMIT = 4000  # characters of one record's message on the page
TIME_BINS = 240
TOP_PROCESSES = 12
ERROR_GROUPS = 40
GL_ABOVE = 3_000  # iterations drawn as SVG up to this, with WebGL above (measured: report_html)
BARS_LIMIT = 20_000  # iterations of one workload drawn one by one; above it, a lanes x time heat map


def task_labels(tasks: list[str]) -> dict[str, str]:
    """How the page names each task: its first 8 characters when they tell it apart, else all of it."""
    heads: dict[str, int] = {}
    for task in tasks:
        heads[task[:8]] = heads.get(task[:8], 0) + 1
    return {task: task[:8] if heads[task[:8]] == 1 else task for task in tasks}


@dataclass
class Timeline:
    """One embedded iteration: why it is here, its row, its records and atomic actions."""

    why: str
    iteration: dict[str, Any]
    records: pl.DataFrame
    actions: pl.DataFrame | None


@dataclass
class Section:
    """One workload of one task, drawn in full."""

    task: str
    workload: int
    label: str  # the task as the page and its commands name it
    info: dict[str, Any]  # its row of the workloads table
    iterations: pl.DataFrame  # iteration, status, start_ts, end_ts, duration_s, lane
    failures: pl.DataFrame  # error_type, count, error, examples
    actions: pl.DataFrame | None  # Rally's statistics (`workloads.statistics`), when it has atomic actions
    action_durations: pl.DataFrame | None  # iteration, name, duration_s of each atomic action
    timelines: list[Timeline] = field(default_factory=list)
    timelines_left_out: int = 0


@dataclass
class Report:
    """Everything the page shows."""

    meta: dict[str, Any]
    workloads: pl.DataFrame  # one row per workload, all of them
    labels: dict[str, str]  # task -> how the page names it
    sections: list[Section]
    sections_left_out: int
    threads_over_time: pl.DataFrame  # bin_ts, process, threads
    levels_over_time: pl.DataFrame  # bin_ts, level, records
    error_groups: pl.DataFrame  # signature, records, first_ts, where, example
    error_groups_left_out: int
    requests: pl.DataFrame | None  # per process: requests, slowest


def _percentiles(col: str, prefix: str = "") -> list[pl.Expr]:
    d = pl.col(col)
    return [
        d.min().alias(f"{prefix}min_s"),
        d.median().alias(f"{prefix}median_s"),
        d.quantile(0.9, "linear").alias(f"{prefix}p90_s"),
        d.quantile(0.95, "linear").alias(f"{prefix}p95_s"),
        d.max().alias(f"{prefix}max_s"),
        d.mean().alias(f"{prefix}mean_s"),
    ]


def _workloads(store: Store, iterations: pl.LazyFrame, mask: bool) -> pl.DataFrame:
    """One row per (task, workload): counts, log-clock span and duration percentiles, plus
    whatever a joined Rally report says of it (scenario, runner, ...)."""
    rally = _percentiles("rally_duration_s", "rally_") if "rally_duration_s" in iterations.collect_schema() else []
    rows = (
        iterations.group_by("task", "workload")
        .agg(
            *_percentiles("duration_s"),
            *rally,
            iterations=pl.len(),
            failures=(pl.col("status") == "error").sum(),
            unfinished=(pl.col("status") == "unfinished").sum(),
            started=pl.col("start_ts").min(),
            ended=pl.col("end_ts").max(),
        )
        .sort("started", "task", "workload", nulls_last=True)
        .collect()
    )
    if store.has("workloads"):
        rally = store.scan("workloads").collect()
        if isinstance(rally.schema.get("sla"), pl.List):  # Rally's SLA criteria, one line of text
            criterion = pl.element().struct
            rally = rally.with_columns(
                sla=pl.col("sla")
                .list.eval(
                    pl.format(
                        "{} {}: {}",
                        pl.when(criterion.field("success")).then(pl.lit("passed")).otherwise(pl.lit("FAILED")),
                        criterion.field("criterion"),
                        criterion.field("detail"),
                    )
                )
                .list.join("; ")
            )
        # the log's own counts and times (above) stand; the rest is what only the table knows
        own = set(rows.columns) | {"start_ts", "end_ts", "position"}
        keep = [c for c, t in rally.schema.items() if c in ("task", "workload") or (c not in own and not t.is_nested())]
        rally = rally.select(keep)
        if mask:  # a workload's args may hold credentials
            rally = rally.with_columns(mask_secrets(pl.col(c)) for c in masked_columns(rally))
        rows = rows.join(rally, on=["task", "workload"], how="left")
    return rows


def _lanes(its: pl.DataFrame) -> pl.DataFrame:
    """``lane``: the real thread slot an iteration ran on, ``pid · ident`` with idents; without
    them, a per-process lane, as many as overlapping iterations need."""
    with_ident = its.filter(pl.col("thread").is_not_null()).with_columns(
        lane=pl.format("{} · {}", "pid", pl.col("thread").cast(pl.String).str.slice(-6))
    )
    bare = its.filter(pl.col("thread").is_null()).sort("pid", "start_ts", "end_ts").with_columns(lane=pl.lit(""))
    if bare.height:
        numbers: list[int] = []
        for part in bare.partition_by("pid", maintain_order=True):
            # µs on the log's clock, or log lines when the log has no times
            start = part["start_ts"].dt.epoch("us").fill_null(part["first_line"]).fill_null(0)
            end = part["end_ts"].dt.epoch("us").fill_null(part["last_line"]).fill_null(start)
            spans = [(s, max(e, s + 1), False) for s, e in zip(start.to_list(), end.to_list(), strict=True)]
            numbers.extend(nesting_lanes(spans))
        bare = bare.with_columns(
            lane=pl.format("{} · lane {}", pl.col("pid").fill_null(0), pl.Series(numbers, dtype=pl.Int64) + 1)
        )
    return pl.concat([with_ident, bare]).sort("iteration")


def _failures(its: pl.DataFrame) -> pl.DataFrame:
    """Failed iterations grouped by error type, most frequent first, with example iterations."""
    failed = its.filter(pl.col("status") == "error")
    return (
        failed.sort("iteration")
        .group_by(pl.col("error_type").fill_null("(no type)"))
        .agg(
            *([pl.col("rally_error").first().cast(pl.String)] if "rally_error" in its.columns else []),
            count=pl.len(),
            error=pl.col("error").first(),
            examples=pl.col("iteration").head(FAILED_EXAMPLES),
        )
        .sort("count", "error_type", descending=[True, False])
    )


def _drawn_actions(store: Store, keys: pl.DataFrame) -> pl.DataFrame:
    """Rally's atomic actions of the drawn workloads (`keys`), in one scan; none without a report."""
    if not store.has("atomic_actions"):
        return empty_actions()
    return store.scan("atomic_actions").join(keys.lazy(), on=["task", "workload"], how="semi").collect()


def _chosen(sections: list[Section], its: dict[tuple[str, int], pl.DataFrame]) -> list[tuple[Section, str, int]]:
    """(section, why, iteration) to embed: failed examples of each error type, then the slowest."""
    chosen = []
    for section in sections:
        seen = set()
        for row in section.failures.iter_rows(named=True):
            for n in row["examples"]:
                chosen.append((section, f"failed: {row['error_type']}", n))
                seen.add(n)
        frame = its[(section.task, section.workload)]
        slow = frame.filter(pl.col("duration_s").is_not_null()).sort("duration_s", descending=True).head(SLOWEST)
        for n in slow["iteration"].to_list():
            if n not in seen:
                chosen.append((section, "slowest", n))
    return chosen


def _timelines(store: Store, sections: list[Section], its: dict[tuple[str, int], pl.DataFrame], mask: bool) -> None:
    """Attach embedded timelines to sections until the budget is spent; count what was left out."""
    chosen = _chosen(sections, its)
    if not chosen:
        return
    keys = pl.DataFrame(
        {
            "task": [s.task for s, _, _ in chosen],
            "workload": [s.workload for s, _, _ in chosen],
            "iteration": [n for _, _, n in chosen],
        },
        schema={"task": pl.String, "workload": pl.Int64, "iteration": pl.Int64},
    )
    message = pl.col("message").str.slice(0, MESSAGE_LIMIT)
    records = (
        store.scan("records")
        .join(keys.lazy(), on=KEY, how="semi")
        .select(*KEY, "ts", "level", "logger", "source", "line", message=mask_secrets(message) if mask else message)
        .sort("source", "line")
        .collect()
    )
    by_key = records.partition_by(KEY, as_dict=True)
    actions_by_key: dict[tuple[Any, ...], pl.DataFrame] = {}
    if store.has("atomic_actions"):
        actions = store.scan("atomic_actions").join(keys.lazy(), on=KEY, how="semi").collect()
        actions_by_key = actions.partition_by(KEY, as_dict=True)
    spent = 0
    for section, why, n in chosen:
        key = (section.task, section.workload, n)
        frame = its[(section.task, section.workload)]
        row = frame.filter(pl.col("iteration") == n).row(0, named=True)
        recs = by_key.get(key, records.clear())
        cost = int(recs["message"].str.len_bytes().sum() or 0) + 200 * recs.height
        if spent + cost > TIMELINE_BUDGET:
            section.timelines_left_out += 1
            continue
        spent += cost
        start = row["start_ts"]
        recs = recs.with_columns(
            offset_s=(pl.col("ts") - pl.lit(start)).dt.total_microseconds() / 1e6 if start is not None else None
        )
        actions = actions_by_key.get(key)
        if actions is not None and start is not None:
            since_start = (pl.col("started_at") - pl.lit(start)).dt.total_microseconds() / 1e6
            actions = actions.with_columns(offset_s=since_start)
        section.timelines.append(Timeline(why, row, recs, actions))


def _time_bins(store: Store) -> tuple[datetime, float] | None:
    """The run's first time and the width of one of TIME_BINS bins, in µs."""
    first, last = store.summary.first_ts, store.summary.last_ts  # the records' span, kept by the parse
    if first is None or last is None:
        return None
    width = max((last - first).total_seconds() * 1e6 / TIME_BINS, 1.0)
    return first, width


def _bin(col: str, t0: datetime, width: float) -> pl.Expr:
    offset = (pl.col(col) - pl.lit(t0)).dt.total_microseconds()
    return (offset / width).floor().cast(pl.Int64).clip(0, TIME_BINS - 1)


def _bin_time(t0: datetime, width: float) -> pl.Expr:
    return pl.lit(t0) + pl.duration(microseconds=(pl.col("bin") * width).cast(pl.Int64))


def _threads_over_time(store: Store, t0: datetime, width: float) -> pl.DataFrame:
    """Live logical threads per process per time bin (the busiest processes, the rest summed)."""
    threads = store.scan("threads").filter(pl.col("first_ts").is_not_null()).select("pid", "first_ts", "last_ts")
    busiest = (
        threads.group_by("pid").agg(pl.len().alias("n")).sort("n", "pid", descending=[True, False]).head(TOP_PROCESSES)
    )
    process = (
        pl.when(pl.col("pid").is_in(busiest.collect()["pid"].implode()))
        .then(pl.format("pid {}", "pid"))
        .otherwise(pl.lit("other processes"))
    )
    steps = threads.select(process=process, a=_bin("first_ts", t0, width), b=_bin("last_ts", t0, width) + 1)
    changes = pl.concat(
        [steps.select("process", bin="a", step=pl.lit(1)), steps.select("process", bin="b", step=pl.lit(-1))]
    )
    counts = changes.group_by("process", "bin").agg(pl.col("step").sum()).collect()
    grid = counts.select("process").unique().join(pl.DataFrame({"bin": range(TIME_BINS)}), how="cross")
    return (
        grid.join(counts, on=["process", "bin"], how="left")
        .with_columns(pl.col("step").fill_null(0))
        .sort("process", "bin")
        .with_columns(threads=pl.col("step").cum_sum().over("process"), bin_ts=_bin_time(t0, width))
        .select("bin_ts", "process", "threads")
    )


def _levels_over_time(store: Store, t0: datetime, width: float) -> pl.DataFrame:
    return (
        store.scan("records")
        .filter(pl.col("ts").is_not_null())
        .group_by(bin=_bin("ts", t0, width), level=pl.col("level").fill_null("(none)"))
        .agg(records=pl.len())
        .sort("bin", "level")
        .with_columns(bin_ts=_bin_time(t0, width))
        .select("bin_ts", "level", "records")
        .collect()
    )


# a message's shape: what is left once ids, numbers and quoted values are replaced
_SHAPES = [
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<uuid>"),
    (r"req-<uuid>", "<request>"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{12,}\b", "<hex>"),
    (r"'[^']*'|\"[^\"]*\"", "<value>"),
    (r"\d+(\.\d+)?", "<n>"),
]


def _shape(expr: pl.Expr) -> pl.Expr:
    for pattern, repl in _SHAPES:
        expr = expr.str.replace_all(pattern, repl)
    return expr


def _error_groups(store: Store, mask: bool) -> tuple[pl.DataFrame, int]:
    """ERROR and CRITICAL records grouped by logger and the shape of their first line."""
    first_line = pl.col("message").str.split_exact("\n", 1).struct.field("field_0").str.slice(0, 300)
    example = pl.col("message").str.slice(0, MESSAGE_LIMIT)
    groups = (
        store.scan("records")
        .filter(pl.col("level").is_in(["ERROR", "CRITICAL", "FATAL"]))
        .with_columns(signature=pl.format("{}: {}", pl.col("logger").fill_null("-"), _shape(first_line)))
        .group_by("signature")
        .agg(
            records=pl.len(),
            first_ts=pl.col("ts").min(),
            where=pl.format("{}:{}", "source", "line").first(),
            example=example.first(),
        )
        .sort("records", "signature", descending=[True, False])
        .collect()
    )
    shown = groups.head(ERROR_GROUPS)
    if mask:  # only the groups shown: masking is eight regex passes per text
        shown = shown.with_columns(mask_secrets(pl.col("signature")), mask_secrets(pl.col("example")))
    return shown, max(groups.height - ERROR_GROUPS, 0)


def _requests(store: Store) -> pl.DataFrame | None:
    """Service logs: request ids per process, and how long the slowest took."""
    spans = request_spans(store).collect()
    if spans.height == 0:
        return None
    return (
        spans.with_columns(seconds=(pl.col("end_us") - pl.col("start_us")) / 1e6)
        .group_by("pid")
        .agg(
            requests=pl.len(),
            records=pl.col("records").sum(),
            median_s=pl.col("seconds").median(),
            max_s=pl.col("seconds").max(),
            slowest=pl.col("request_id").sort_by("seconds", descending=True).first(),
        )
        .sort("requests", descending=True)
    )


def build_report(store: Store, task: str | None = None, workload: int | None = None, mask: bool = True) -> Report:
    """Gather what the page shows; `task`/`workload` pick which workloads are drawn in full."""
    iterations = store.scan("iterations")
    workloads = _workloads(store, iterations, mask)
    picked = workloads.filter(task_filter(store, task))
    if workload is not None:
        picked = picked.filter(pl.col("workload") == workload)
    # the workloads with most failures first, then the biggest, keep their run order on the page
    ranked = picked.with_row_index("order").sort("failures", "iterations", "order", descending=[True, True, False])
    drawn = ranked.head(MAX_SECTIONS).sort("order")
    keys = drawn.select("task", "workload")
    names = iterations.collect_schema().names()
    wanted = [
        *(c for c in ITERATION_COLUMNS if c != "start_row"),
        *(c for c in RALLY_COLUMNS if c in names),
    ]
    its = iterations.join(keys.lazy(), on=["task", "workload"], how="semi").select(wanted).collect()
    if mask:  # the log's error and Rally's
        its = its.with_columns(mask_secrets(pl.col(c)) for c in masked_columns(its))
    by_workload = its.partition_by(["task", "workload"], as_dict=True)
    drawn_actions = _drawn_actions(store, keys)
    # the same table as `threadlog workloads`: Rally's statistics, merged as Rally merges them
    stats = statistics(its, drawn_actions).partition_by(["task", "workload"], as_dict=True)
    actions_of = drawn_actions.partition_by(["task", "workload"], as_dict=True)
    labels = task_labels(workloads["task"].unique().to_list())
    sections = []
    for row in drawn.iter_rows(named=True):
        frame = _lanes(by_workload[(row["task"], row["workload"])])
        key = (row["task"], row["workload"])
        actions = actions_of.get(key)
        by_workload[(row["task"], row["workload"])] = frame
        sections.append(
            Section(
                task=row["task"],
                workload=row["workload"],
                label=labels[row["task"]],
                info=row,
                iterations=frame,
                failures=_failures(frame),
                actions=None if actions is None else stats[key],
                action_durations=None if actions is None else actions.select("iteration", "name", "duration_s"),
            )
        )
    _timelines(store, sections, by_workload, mask)
    bins = _time_bins(store)
    if bins is None:
        empty = pl.DataFrame()
        threads_over_time, levels_over_time = empty, empty
    else:
        threads_over_time = _threads_over_time(store, *bins)
        levels_over_time = _levels_over_time(store, *bins)
    error_groups, groups_left_out = _error_groups(store, mask)
    return Report(
        meta=store.meta,
        workloads=workloads,
        labels=labels,
        sections=sections,
        sections_left_out=picked.height - len(sections),
        threads_over_time=threads_over_time,
        levels_over_time=levels_over_time,
        error_groups=error_groups,
        error_groups_left_out=groups_left_out,
        requests=_requests(store),
    )
