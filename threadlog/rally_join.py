"""Join Rally's report to the log's iterations: which report iteration is which log iteration.

The report has no iteration number, pid or thread, so within a workload the join is by time.
Rally's timer runs between an iteration's START and END records, so a report iteration fits
a log iteration when START <= timestamp and timestamp + duration + idle <= END (+1 ms: the
log truncates to milliseconds), on the log's clock, with the same status. Under concurrency
a report iteration fits several log iterations: the pairs are a maximum one-to-one matching
(complete whenever one exists), started from pairing in order of start and completed by
augmenting paths. Pairs that another complete matching would pair differently are marked
undecided: the times alone cannot tell them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from threadlog.errors import ThreadlogError
from threadlog.rally_report import RallyReport
from threadlog.summary import RallyJoin

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ACTIONS_SCHEMA",
    "RALLY_COLUMNS",
    "JoinResult",
    "describe_join",
    "format_offset",
    "join_reports",
    "parse_offset",
]

US = 1_000_000
LOG_RESOLUTION_US = 1000  # the log's times are truncated to milliseconds
FLOAT_SLACK_US = 1  # report times rounded to microseconds
OFFSET_STEP_US = 15 * 60 * US  # time zones are whole quarter hours
OFFSET_FIT_US = 60 * US  # how far the inferred alignment may be from a quarter hour

RALLY_COLUMNS = {
    "rally_start": pl.Datetime("us"),
    "rally_duration_s": pl.Float64,
    "rally_idle_s": pl.Float64,
    "rally_error": pl.String,
    "rally_undecided": pl.Boolean,
}
ACTIONS_SCHEMA = {
    "task": pl.String,
    "workload": pl.Int64,
    "iteration": pl.Int64,
    "name": pl.String,
    "parent": pl.String,
    "depth": pl.Int64,
    "started_at": pl.Datetime("us"),
    "finished_at": pl.Datetime("us"),
    "duration_s": pl.Float64,
    "failed": pl.Boolean,
    "seq": pl.Int64,
    "parent_seq": pl.Int64,
}


def parse_offset(text: str) -> int:
    """``+02:00``, ``-0530``, ``0`` or ``Z`` as microseconds east of UTC."""
    match = re.fullmatch(r"\s*(?:(Z|0)|([+-])(\d{1,2}):?(\d{2})?)\s*", text)
    if not match:
        raise ThreadlogError(f"--utc-offset {text!r}: give it as +HH:MM or -HH:MM (e.g. +02:00)")
    if match.group(1):
        return 0
    minutes = int(match.group(3)) * 60 + int(match.group(4) or 0)
    if minutes > 14 * 60:
        raise ThreadlogError(f"--utc-offset {text!r}: no time zone is more than 14 hours from UTC")
    return (-1 if match.group(2) == "-" else 1) * minutes * 60 * US


def describe_join(join: RallyJoin) -> str:
    """One report's join in a line of the parse summary."""
    text = (
        f"{join.report}: joined {join.joined:,} of {join.report_iterations:,} iterations "
        f"({join.undecided:,} not decided by times alone), UTC offset {join.utc_offset} "
        f"({join.utc_offset_from}), {join.atomic_actions:,} atomic actions"
    )
    if join.unmatched:
        reasons = "; ".join(f"{n:,} {why}" for why, n in join.unmatched_reasons.items())
        text += f"; {join.unmatched:,} found no partner: {reasons}"
    return text


def format_offset(offset_us: int) -> str:
    minutes = abs(offset_us) // (60 * US)
    return f"{'-' if offset_us < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass
class JoinResult:
    """The iterations table with Rally's columns, the atomic actions, and what to tell the user."""

    iterations: pl.DataFrame
    actions: pl.DataFrame
    workloads: pl.DataFrame  # the reports' workload rows, keyed by the log's task and workload
    summary: list[RallyJoin] = field(default_factory=list)


def join_reports(iterations: pl.DataFrame, reports: list[RallyReport], utc_offset: int | None) -> JoinResult:
    """Join every report to `iterations` (the store's table) or raise a `ThreadlogError`."""
    if iterations.height == 0 or iterations["start_ts"].null_count() == iterations.height:
        raise ThreadlogError(
            "the log has no timestamps (or no Rally iterations), and a Rally report joins by time; "
            "parse a log written with %(asctime)s to join --rally-report"
        )
    log = _log_side(iterations)
    joined: list[pl.DataFrame] = []
    actions: list[pl.DataFrame] = []
    workloads: list[pl.DataFrame] = []
    summary: list[RallyJoin] = []
    for report in reports:
        tasks = _task_map(report, log, utc_offset)
        rep = _report_side(report, tasks)
        offset = utc_offset if utc_offset is not None else _infer_offset(report, log, rep)
        pairs, facts = _match(log, rep, offset, report)
        joined.append(pairs)
        actions.append(_actions(report, pairs, offset))
        workloads.append(report.workloads.join(tasks, on="report_task").drop("report_task"))
        summary.append(
            RallyJoin(
                **facts,
                report=report.name,
                shape=report.shape,
                tasks=sorted(set(tasks["task"].to_list())),
                utc_offset=format_offset(offset),
                utc_offset_from="given" if utc_offset is not None else "inferred",
            )
        )
    pairs = pl.concat(joined)
    duplicated = pairs.filter(pl.col("lid").is_duplicated())
    if duplicated.height:
        raise ThreadlogError(
            f"{duplicated.height} log iterations matched iterations of two reports; give each run's report once"
        )
    indexed = iterations.with_row_index("lid")
    table = (
        indexed.join(pairs, on="lid", how="left")
        .drop("lid")
        .with_columns(pl.col(name).cast(dtype) for name, dtype in RALLY_COLUMNS.items())
    )
    all_actions = (
        pl.concat(actions)
        .join(indexed.select("lid", "task", "workload", "iteration"), on="lid")
        .select(*ACTIONS_SCHEMA)
        .sort("task", "workload", "iteration", "seq")
    )
    return JoinResult(table, all_actions, pl.concat(workloads, how="diagonal_relaxed"), summary)


def with_empty_rally_columns(iterations: pl.LazyFrame) -> pl.LazyFrame:
    """The iterations table as a parse without a report writes it: Rally's columns all null."""
    return iterations.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in RALLY_COLUMNS.items())


def empty_actions() -> pl.DataFrame:
    return pl.DataFrame(schema=ACTIONS_SCHEMA)


def _log_side(iterations: pl.DataFrame) -> pl.DataFrame:
    """Finished log iterations with their times as integer microseconds (naive times read as UTC)."""
    return (
        iterations.with_row_index("lid")
        .filter(pl.col("status").is_in(["ok", "error"]) & pl.col("start_ts").is_not_null())
        .filter(pl.col("end_ts").is_not_null())
        .select(
            "lid",
            "task",
            "workload",
            "iteration",
            s=pl.col("start_ts").dt.epoch("us"),
            e=pl.col("end_ts").dt.epoch("us"),
            log_failed=pl.col("status") == "error",
        )
    )


def _task_map(report: RallyReport, log: pl.DataFrame, utc_offset: int | None) -> pl.DataFrame:
    """Each report task's log task: by uuid, or (the older shape has none) by the one task it fits in time."""
    log_tasks = set(log["task"].drop_nulls().unique().to_list())
    if report.shape == "report":
        found = [(i, uuid) for i, uuid in enumerate(report.tasks) if uuid in log_tasks]
        if not found:
            named = ", ".join(str(t) for t in report.tasks)
            raise ThreadlogError(
                f"{report.name}: a report of another run (task {named} is not in the log); "
                "give the report of the run this log holds"
            )
        return pl.DataFrame(found, schema={"report_task": pl.Int64, "task": pl.String}, orient="row")
    fits = []
    rep = report.iterations.group_by("workload").agg(first=(pl.col("timestamp").min() * US).round().cast(pl.Int64))
    for task in sorted(log_tasks):
        starts = log.filter(pl.col("task") == task).group_by("workload").agg(first=pl.col("s").min())
        diffs = starts.join(rep, on="workload").select(d=pl.col("first") - pl.col("first_right"))["d"]
        if diffs.len() < rep.height:
            continue
        residual = _residual(float(diffs.median()), utc_offset)  # type: ignore[arg-type]
        fits.append((residual, task))
    fits = [f for f in fits if f[0] <= OFFSET_FIT_US]
    if not fits:
        raise ThreadlogError(
            f"{report.name}: a report of another run (no task of the log fits its times and workloads); "
            "give the report of the run this log holds"
        )
    return pl.DataFrame({"report_task": [0], "task": [min(fits)[1]]})


def _residual(diff_us: float, utc_offset: int | None) -> float:
    offset = utc_offset if utc_offset is not None else round(diff_us / OFFSET_STEP_US) * OFFSET_STEP_US
    return abs(diff_us - offset)


def _report_side(report: RallyReport, tasks: pl.DataFrame) -> pl.DataFrame:
    """Report iterations of the tasks the log holds, with times as integer UTC microseconds."""
    return (
        report.iterations.with_row_index("rid")
        .join(tasks, on="report_task")
        .select(
            "rid",
            "task",
            "workload",
            "row",
            "failed",
            "error",
            "duration",
            "idle_duration",
            ts=(pl.col("timestamp") * US).round().cast(pl.Int64),
            te=((pl.col("timestamp") + pl.col("duration") + pl.col("idle_duration")) * US).round().cast(pl.Int64),
        )
    )


def _infer_offset(report: RallyReport, log: pl.DataFrame, rep: pl.DataFrame) -> int:
    """The log's UTC offset: the quarter hour nearest the median gap between each workload's
    first START and Rally's first timestamp."""
    first_log = log.group_by("task", "workload").agg(first=pl.col("s").min())
    first_rep = rep.group_by("task", "workload").agg(first_rep=pl.col("ts").min())
    diffs = first_log.join(first_rep, on=["task", "workload"]).select(d=pl.col("first") - pl.col("first_rep"))["d"]
    if diffs.len() == 0:
        raise ThreadlogError(
            f"{report.name}: a report of another run (none of its workloads is in the log); "
            "give the report of the run this log holds"
        )
    median = float(diffs.median())  # type: ignore[arg-type]
    offset = round(median / OFFSET_STEP_US) * OFFSET_STEP_US
    if abs(median - offset) > OFFSET_FIT_US or abs(offset) > 14 * 3600 * US:
        raise ThreadlogError(
            f"{report.name}: no UTC offset fits (the log's iterations start {median / US:+.1f} s from Rally's); "
            "a report of another run? give the right report, or --utc-offset"
        )
    return offset


def _match(
    log: pl.DataFrame, rep: pl.DataFrame, offset: int, report: RallyReport
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The closest complete one-to-one matching of report and log iterations, and its figures."""
    import numpy as np  # noqa: PLC0415 (only a report's join needs numpy: parsing starts faster)

    groups = rep.select("task", "workload").unique().sort("task", "workload").with_row_index("g")
    base = int(rep["ts"].min()) + offset - 3600 * US  # type: ignore[operator]
    span = max(int(log["e"].max()) - base, int(rep["te"].max()) + offset - base) + 3600 * US  # type: ignore[operator]
    # each (task, workload) gets its own stretch of one time axis, so that one two-sided
    # inequality join finds the candidates of all workloads at once
    shift = pl.col("g").cast(pl.Int64) * span - base
    r = rep.join(groups, on=["task", "workload"]).with_columns(
        a=pl.col("ts") + offset + shift + FLOAT_SLACK_US, b=pl.col("te") + offset + shift - FLOAT_SLACK_US
    )
    lg = log.join(groups, on=["task", "workload"]).with_columns(
        ls=pl.col("s") + shift, le=pl.col("e") + shift + LOG_RESOLUTION_US
    )
    edges = (
        r.select("rid", "a", "b", "failed", "ts", "te")
        .join_where(
            lg.select("lid", "ls", "le", "log_failed", "s", "e"),
            pl.col("ls") <= pl.col("a"),
            pl.col("le") >= pl.col("b"),
        )
        .with_columns(agree=pl.col("failed") == pl.col("log_failed"))
    )
    good = edges.filter("agree")
    rows = r.height
    row_of = r.select("rid", "g", "failed", "ts").with_row_index("rrow")
    col_of = lg.select("lid", "g", failed="log_failed", s="s").with_row_index("col")
    good = good.join(row_of.select("rid", "rrow"), on="rid").join(col_of.select("lid", "col"), on="lid")
    first = _in_order(row_of, col_of, good)
    rr, cc = good["rrow"].to_numpy().astype(np.int64), good["col"].to_numpy().astype(np.int64)
    partner = _complete(rr, cc, first, rows, col_of.height)
    undecided_rows = _undecided(rr, cc, partner, col_of.height)
    matched = (
        pl.DataFrame({"rrow": np.flatnonzero(partner >= 0).astype(np.uint32), "col": partner[partner >= 0]})
        .with_columns(rally_undecided=pl.Series(undecided_rows[partner >= 0]))
        .join(row_of.select("rrow", "rid"), on="rrow")
        .join(col_of.select("col", "lid"), on="col")
        .select("rid", "lid", "rally_undecided")
    )
    unmatched = r.select("rid").join(matched, on="rid", how="anti")
    reasons = _reasons(unmatched, edges)
    out = (
        matched.join(rep, on="rid")
        .with_columns(
            rally_start=pl.from_epoch(pl.col("ts") + offset, time_unit="us"),
            rally_duration_s=pl.col("duration"),
            rally_idle_s=pl.col("idle_duration"),
            rally_error=pl.col("error"),
        )
        .select("lid", "rid", *RALLY_COLUMNS)
    )
    facts = {
        "report_iterations": report.iterations.height,
        "of_the_log_tasks": rows,
        "joined": out.height,
        "undecided": int(out["rally_undecided"].sum()),
        "unmatched": unmatched.height,
        "unmatched_reasons": reasons,
        "atomic_actions": report.actions.height,
    }
    return out, facts


def _in_order(rows: pl.DataFrame, cols: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """A first matching: within each workload and status, the k-th report iteration by start
    with the k-th log iteration by START, kept where the pair fits.

    The total distance |START - start| + |END - end| of a complete matching that uses every
    log iteration is the same for all of them (the sum of the log's durations less Rally's),
    so closeness cannot choose among them; pairing in order of start is the natural pick.
    """
    ranked_rows = rows.sort("ts", "rrow").with_columns(k=pl.int_range(pl.len()).over("g", "failed"))
    ranked_cols = cols.sort("s", "col").with_columns(k=pl.int_range(pl.len()).over("g", "failed"))
    pairs = ranked_rows.join(ranked_cols, on=["g", "failed", "k"]).select("rrow", "col")
    return pairs.join(edges.select("rrow", "col"), on=["rrow", "col"], how="semi")


def _complete(rr: np.ndarray, cc: np.ndarray, first: pl.DataFrame, rows: int, cols: int) -> np.ndarray:
    """Each row's column in a maximum matching (-1: none), grown from `first` by augmenting
    paths (Kuhn's algorithm) from the rows it leaves out, over the candidate edges."""
    import numpy as np  # noqa: PLC0415 (only a report's join needs numpy: parsing starts faster)

    partner = np.full(rows, -1, dtype=np.int64)
    owner = np.full(cols, -1, dtype=np.int64)
    partner[first["rrow"].to_numpy()] = first["col"].to_numpy()
    owner[first["col"].to_numpy()] = first["rrow"].to_numpy()
    has_edges = np.zeros(rows, dtype=bool)
    has_edges[rr] = True
    free = np.flatnonzero((partner < 0) & has_edges)
    if free.size == 0:
        return partner
    order = np.argsort(rr, kind="stable")
    starts = np.searchsorted(rr[order], np.arange(rows + 1))
    targets = cc[order].tolist()
    bounds = starts.tolist()
    own, part = owner.tolist(), partner.tolist()
    for root in free.tolist():
        # iterative depth-first search for a path to a free column, alternating edges
        seen: set[int] = set()
        stack = [(root, bounds[root])]
        path: list[tuple[int, int]] = []
        found = False
        while stack and not found:
            row, at = stack[-1]
            if at >= bounds[row + 1]:
                stack.pop()
                if path:
                    path.pop()
                continue
            stack[-1] = (row, at + 1)
            col = targets[at]
            if col in seen:
                continue
            seen.add(col)
            path.append((row, col))
            if own[col] < 0:
                found = True
            else:
                stack.append((own[col], bounds[own[col]]))
                continue
        if found:
            for row, col in path[: len(stack)]:
                part[row], own[col] = col, row
    return np.array(part, dtype=np.int64)


def _undecided(rr: np.ndarray, cc: np.ndarray, partner: np.ndarray, cols: int) -> np.ndarray:
    """Rows whose partner the times alone do not decide: another complete matching pairs
    them differently. That is when the matched pair lies on an alternating cycle, or the row
    reaches a free column by an alternating path: a strongly connected component of the
    graph with candidate edges row -> column, matched ones column -> row, and a node that
    links free columns back to matched ones."""
    import numpy as np  # noqa: PLC0415 (only a report's join needs numpy: parsing starts faster)
    from scipy.sparse import csr_matrix  # noqa: PLC0415 (only a join needs scipy: parsing starts faster)
    from scipy.sparse.csgraph import connected_components  # noqa: PLC0415

    rows = partner.size
    matched_rows = np.flatnonzero(partner >= 0)
    taken = np.zeros(cols, dtype=bool)
    taken[partner[matched_rows]] = True
    free_cols = np.flatnonzero(~taken)
    hub = rows + cols
    unmatched_edge = partner[rr] != cc
    src = np.concatenate(
        [rr[unmatched_edge], partner[matched_rows] + rows, free_cols + rows, np.full(matched_rows.size, hub)]
    )
    dst = np.concatenate(
        [cc[unmatched_edge] + rows, matched_rows, np.full(free_cols.size, hub), partner[matched_rows] + rows]
    )
    graph = csr_matrix((np.ones(src.size), (src, dst)), shape=(hub + 1, hub + 1))
    _, label = connected_components(graph, directed=True, connection="strong")
    undecided = np.zeros(rows, dtype=bool)
    undecided[matched_rows] = label[matched_rows] == label[partner[matched_rows] + rows]
    return undecided


def _reasons(unmatched: pl.DataFrame, edges: pl.DataFrame) -> dict[str, int]:
    if unmatched.height == 0:
        return {}
    per = unmatched.join(
        edges.group_by("rid").agg(any_edge=pl.len() > 0, any_agree=pl.col("agree").any()), on="rid", how="left"
    )
    return {
        reason: count
        for reason, count in (
            ("no log iteration of its workload spans its time", int(per["any_edge"].is_null().sum())),
            ("only log iterations of another status span its time", int((per["any_agree"] == False).sum())),  # noqa: E712
            (
                "every log iteration that fits went to another report iteration",
                int(per["any_agree"].fill_null(False).sum()),
            ),
        )
        if count
    }


def _actions(report: RallyReport, pairs: pl.DataFrame, offset: int) -> pl.DataFrame:
    """Atomic actions of joined iterations (by the log iteration's ``lid``), on the log's
    clock, as Rally measured them."""
    keys = (
        report.iterations.with_row_index("rid")
        .select("rid", "report_task", "workload", "row")
        .join(pairs.select("rid", "lid"), on="rid")
    )
    return report.actions.join(keys, on=["report_task", "workload", "row"]).select(
        "lid",
        "name",
        "parent",
        "depth",
        started_at=pl.from_epoch(((pl.col("started_at") * US).round().cast(pl.Int64) + offset), time_unit="us"),
        finished_at=pl.from_epoch(((pl.col("finished_at") * US).round().cast(pl.Int64) + offset), time_unit="us"),
        duration_s=pl.col("duration_s"),
        failed=pl.col("failed"),
        seq=pl.col("seq"),
        parent_seq=pl.col("parent_seq"),
    )
