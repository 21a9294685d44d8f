"""The run as a Chrome trace (Trace Event Format) that Perfetto can draw at a million lines.

One track per OS thread the process really had, ``(pid, ident)``; each logical thread a
slice on it, its Rally iterations slices inside, Rally's atomic actions inside those.
Perfetto draws only slices that nest on a track, so anything that would overlap another
slice partially goes to a further lane of the same thread: logs without idents get as many
lanes per process as overlapping iterations need, and service logs' request ids (``req-...``)
get lanes of their own.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from threadlog.errors import ThreadlogError
from threadlog.output import Target
from threadlog.rally_join import empty_actions
from threadlog.secrets import mask_secrets
from threadlog.store import Store
from threadlog.views import scan_table

__all__ = ["TraceFilter", "nesting_lanes", "parse_time", "request_spans", "trace_events", "write_trace"]

KEY = ["task", "workload", "iteration"]
INSTANT_LEVELS = ["ERROR", "CRITICAL", "FATAL", "WARNING", "WARN"]
# rank breaks ties between slices that start and end together: the container comes first
THREAD, ITERATION, REQUEST = 0, 1, 2
WRITE_ROWS = 100_000  # events rendered to JSON at a time


@dataclass
class TraceFilter:
    """What to keep: iterations by key and status, and a time window (naive log-clock times)."""

    task: str | None = None
    workload: int | None = None
    iteration: int | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def by_iteration(self) -> bool:
        return any(v is not None for v in (self.task, self.workload, self.iteration, self.status))


def parse_time(text: str | None, option: str) -> datetime | None:
    """A `--since`/`--until` value: an ISO date and time on the log's clock."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ThreadlogError(
            f"{option} {text!r} is not a time; write it as 2026-11-25T23:40:50 (on the log's clock)"
        ) from None


def _us(col: str) -> pl.Expr:
    return pl.col(col).dt.epoch("us")


def _iterations(store: Store, keep: TraceFilter) -> pl.DataFrame:
    """Iterations with a start, filtered, with ``start_us``/``end_us`` spanning Rally's timer too."""
    frame = scan_table(store, "iterations", keep.task, keep.workload, keep.iteration, keep.status)
    frame = frame.filter(pl.col("start_ts").is_not_null())
    names = frame.collect_schema().names()
    starts, ends = [_us("start_ts")], [_us("end_ts"), _us("start_ts")]
    if "rally_start" in names and "rally_duration_s" in names:
        rally_start = _us("rally_start")
        starts.append(rally_start)
        ends.append(rally_start + (pl.col("rally_duration_s") * 1e6).cast(pl.Int64))
    return frame.with_columns(start_us=pl.min_horizontal(starts), end_us=pl.max_horizontal(ends)).collect()


def _atomic_actions(store: Store, iterations: pl.DataFrame) -> pl.DataFrame:
    """Rally's atomic actions of the kept iterations (when a report was joined), clipped to them."""
    stored = store.scan("atomic_actions") if store.has("atomic_actions") else empty_actions().lazy()
    actions = (
        stored.filter(pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null())
        .with_columns(start_us=_us("started_at"), end_us=_us("finished_at"))
        .collect()
        .join(iterations.select(*KEY), on=KEY, how="semi")
    )
    # siblings measured by separate timers may overlap by a rounding step: start each after the last
    actions = actions.sort(*KEY, "start_us", pl.col("end_us"), descending=[False] * 4 + [True])
    previous_end = pl.col("end_us").shift(1).over([*KEY, "depth"])
    return actions.with_columns(
        start_us=pl.max_horizontal("start_us", previous_end.fill_null(pl.col("start_us")))
    ).with_columns(end_us=pl.max_horizontal("start_us", "end_us"))


def _widen_to(iterations: pl.DataFrame, actions: pl.DataFrame) -> pl.DataFrame:
    """An iteration spans its atomic actions: Rally's timer outlasts the log's millisecond END."""
    if actions.height == 0:
        return iterations
    spans = actions.group_by(KEY).agg(lo=pl.col("start_us").min(), hi=pl.col("end_us").max())
    return (
        iterations.join(spans, on=KEY, how="left")
        .with_columns(start_us=pl.min_horizontal("start_us", "lo"), end_us=pl.max_horizontal("end_us", "hi"))
        .drop("lo", "hi")
    )


def _threads(store: Store, iterations: pl.DataFrame, keep: TraceFilter) -> pl.DataFrame:
    """Logical threads with a time, widened to the iterations they ran; with iteration filters,
    only the threads of kept iterations."""
    threads = store.scan("threads").filter(pl.col("first_ts").is_not_null()).collect()
    if keep.by_iteration:
        threads = threads.join(iterations.select("thread_uid").unique(), on="thread_uid", how="semi")
    spans = iterations.group_by("thread_uid").agg(lo=pl.col("start_us").min(), hi=pl.col("end_us").max())
    return (
        threads.join(spans, on="thread_uid", how="left")
        .with_columns(
            start_us=pl.min_horizontal(_us("first_ts"), "lo"),
            end_us=pl.max_horizontal(_us("last_ts"), "hi"),
        )
        .drop("lo", "hi")
    )


def request_spans(store: Store) -> pl.LazyFrame:
    """One span per request id (``req-...``) and process: its first to its last record (µs)."""
    schema = store.scan("records").collect_schema()
    if "request_id" not in schema.names():
        return pl.LazyFrame(
            schema={
                "pid": pl.Int64,
                "request_id": pl.String,
                "start_us": pl.Int64,
                "end_us": pl.Int64,
                "records": pl.UInt32,
                "first_line": pl.Int64,
                "levels": pl.String,
            }
        )
    return (
        store.scan("records")
        .filter(pl.col("request_id").str.starts_with("req-") & pl.col("ts").is_not_null())
        .group_by("pid", "request_id")
        .agg(
            start_us=_us("ts").min(),
            end_us=_us("ts").max(),
            records=pl.len(),
            first_line=pl.col("line").min(),
            levels=pl.col("level").unique().sort().str.join(","),
        )
        .with_columns(pl.col("pid").fill_null(0))
    )


def _requests(store: Store, keep: TraceFilter) -> pl.DataFrame:
    """Request spans, unless the trace is cut to some iterations (requests belong to none)."""
    spans = request_spans(store)
    return spans.clear().collect() if keep.by_iteration else spans.collect()


def _in_window(frame: pl.DataFrame, keep: TraceFilter) -> pl.DataFrame:
    """Slices that overlap the time window."""
    if keep.since is not None:
        frame = frame.filter(pl.col("end_us") >= int(_epoch_us(keep.since)))
    if keep.until is not None:
        frame = frame.filter(pl.col("start_us") <= int(_epoch_us(keep.until)))
    return frame


def _epoch_us(moment: datetime) -> int:
    return pl.Series([moment], dtype=pl.Datetime("us")).dt.epoch("us").item()


# -- lanes --------------------------------------------------------------------------------


def nesting_lanes(spans: list[tuple[int, int, bool]]) -> list[int]:
    """Lanes for spans in (start, -end) order so that on each lane spans nest or are disjoint.

    A span may open inside another only when that one is a container (``True``): a logical
    thread without idents holds the iterations of its process; an iteration holds nothing
    but its own atomic actions, which go with it.
    """
    lanes: list[list[tuple[int, bool]]] = []  # per lane, the stack of open (end, container)
    out = []
    for start, end, container in spans:
        for number, stack in enumerate(lanes):
            while stack and stack[-1][0] <= start:
                stack.pop()
            if not stack or (stack[-1][1] and end <= stack[-1][0]):
                stack.append((end, container))
                out.append(number)
                break
        else:
            lanes.append([(end, container)])
            out.append(len(lanes) - 1)
    return out


def _assign_lanes(units: pl.DataFrame) -> pl.DataFrame:
    """Add ``lane`` to units (``track, start_us, end_us, rank, container``).

    A track whose units are disjoint in time (every track of a log with idents, where an
    ident runs one thread at a time) is lane 0 throughout and no loop runs; the others are
    partitioned one unit at a time.
    """
    units = units.sort("track", "start_us", pl.col("end_us"), "rank", descending=[False, False, True, False])
    busy_until = pl.col("end_us").cum_max().shift(1).over("track")
    clash = units.select((pl.col("start_us") < busy_until).fill_null(False).alias("clash"))["clash"]
    tracks = units.filter(clash)["track"].unique()
    lanes = pl.Series("lane", [0] * units.height, dtype=pl.Int64)
    if tracks.len():
        indexed = units.with_row_index("i").filter(pl.col("track").is_in(tracks.implode()))
        for part in indexed.partition_by("track"):
            spans = zip(part["start_us"].to_list(), part["end_us"].to_list(), part["container"].to_list(), strict=True)
            lanes.scatter(part["i"], nesting_lanes(list(spans)))
    return units.with_columns(lanes)


# -- events --------------------------------------------------------------------------------


def _slice(name: pl.Expr, cat: str, args: pl.Expr) -> list[pl.Expr]:
    return [
        name.alias("name"),
        pl.lit(cat).alias("cat"),
        pl.lit("X").alias("ph"),
        pl.col("start_us").alias("ts"),
        (pl.col("end_us") - pl.col("start_us")).clip(lower_bound=0).alias("dur"),
        pl.col("pid"),
        pl.col("tid"),
        args.alias("args"),
    ]


def _text(col: str, mask: bool, limit: int | None = None) -> pl.Expr:
    expr = pl.col(col)
    if limit is not None:
        expr = expr.str.slice(0, limit)
    return mask_secrets(expr) if mask else expr


def _units(
    threads: pl.DataFrame, iterations: pl.DataFrame, requests: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """What goes on a lane as one piece: ``unit, track, start_us, end_us, rank, container``.

    A thread with an ident carries its iterations (they go on its lane); without idents, the
    thread is the process and holds its iterations as a container, each a unit of its own, as
    are the iterations of a thread where they overlap (Rally's timer outlasting an END).
    Returns threads and iterations with their ident and ``split`` flag, and the units.
    """
    overlapping = (
        iterations.sort("thread_uid", "start_us")
        .filter(pl.col("start_us") < pl.col("end_us").cum_max().shift(1).over("thread_uid"))
        .select("thread_uid")
        .unique()
    )
    threads = threads.with_columns(split=pl.col("thread_uid").is_in(overlapping["thread_uid"].implode()))
    idents = threads.select("thread_uid", "thread", "split")
    iterations = iterations.drop("thread").join(idents, on="thread_uid", how="left")
    on_ident = pl.col("thread").is_not_null() & ~pl.col("split").fill_null(False)
    track = pl.format("{}/{}", pl.col("pid").fill_null(0), pl.col("thread").cast(pl.String).fill_null("-"))
    units = pl.concat(
        [
            threads.select(
                unit=pl.format("t:{}", "thread_uid"),
                track=track,
                start_us="start_us",
                end_us="end_us",
                rank=pl.lit(THREAD),
                container=~on_ident,
            ),
            iterations.filter(~on_ident).select(
                unit=pl.format("i:{}/{}/{}", *KEY),
                track=track,
                start_us="start_us",
                end_us="end_us",
                rank=pl.lit(ITERATION),
                container=pl.lit(False),
            ),
            requests.select(
                unit=pl.format("r:{}/{}", "pid", "request_id"),
                track=pl.format("{}/requests", "pid"),
                start_us="start_us",
                end_us="end_us",
                rank=pl.lit(REQUEST),
                container=pl.lit(False),
            ),
        ]
    )
    return threads, iterations, units


def _metadata(tracks: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``M`` events naming each process (``pid N``) and track (``ident N``, ``no ident`` or
    ``requests``, with its lane number past the first)."""
    track_names = tracks.with_columns(
        pid=pl.col("track").str.split("/").list.get(0).cast(pl.Int64),
        what=pl.col("track").str.split("/").list.get(1),
    ).select(
        name=pl.lit("thread_name"),
        ph=pl.lit("M"),
        pid="pid",
        tid="tid",
        args=pl.struct(
            name=pl.when(pl.col("what") == "requests")
            .then(pl.lit("requests"))
            .when(pl.col("what") == "-")
            .then(pl.lit("no ident"))
            .otherwise(pl.format("ident {}", "what"))
            + pl.when(pl.col("lane") > 0).then(pl.format(" (lane {})", pl.col("lane") + 1)).otherwise(pl.lit(""))
        ),
    )
    processes = track_names.select(pl.col("pid").unique().sort()).select(
        name=pl.lit("process_name"),
        ph=pl.lit("M"),
        pid="pid",
        tid=pl.lit(0, pl.Int64),
        args=pl.struct(name=pl.format("pid {}", "pid")),
    )
    return processes, track_names


def trace_events(store: Store, keep: TraceFilter | None = None, mask: bool = False) -> list[pl.DataFrame]:
    """The run (or the part `keep` names) as trace events, one frame per kind, times in µs."""
    keep = keep or TraceFilter()
    if store.summary.first_ts is None:  # the parse's summary: no record has a time
        raise ThreadlogError(
            "this log has no timestamps, so it cannot be drawn as a trace; "
            "`threadlog timeline` and `threadlog export` still work"
        )
    iterations = _iterations(store, keep)
    actions = _atomic_actions(store, iterations)
    iterations = _widen_to(iterations, actions)
    threads = _threads(store, iterations, keep)
    requests = _requests(store, keep)
    iterations, actions = _in_window(iterations, keep), _in_window(actions, keep)
    threads, requests = _in_window(threads, keep), _in_window(requests, keep)

    threads, iterations, units = _units(threads, iterations, requests)
    units = _assign_lanes(units)
    tracks = (
        units.select("track", "lane")
        .unique()
        .sort("track", "lane")
        .with_row_index("tid", offset=1)
        .with_columns(pl.col("tid").cast(pl.Int64))
    )
    units = units.join(tracks, on=["track", "lane"]).select("unit", "tid")
    thread_tid = (
        threads.with_columns(unit=pl.format("t:{}", "thread_uid"))
        .join(units, on="unit")
        .select("thread_uid", pl.col("tid").alias("thread_tid"))
    )
    iterations = (
        iterations.with_columns(unit=pl.format("i:{}/{}/{}", *KEY))
        .join(units, on="unit", how="left")
        .join(thread_tid, on="thread_uid", how="left")
        .with_columns(tid=pl.coalesce("tid", "thread_tid"), pid=pl.col("pid").fill_null(0))
    )
    actions = actions.join(iterations.select(*KEY, "pid", "tid"), on=KEY)
    requests = requests.with_columns(unit=pl.format("r:{}/{}", "pid", "request_id")).join(units, on="unit")
    threads = threads.join(thread_tid, on="thread_uid").rename({"thread_tid": "tid"})

    processes, track_names = _metadata(tracks)
    thread_slices = threads.select(
        _slice(
            # the track names the ident; the slice, which of its threads this is
            pl.format("{} #{}", pl.col("thread_name").fill_null("thread"), "generation"),
            "thread",
            pl.struct("thread_uid", "thread_name", "reason", "records", "first_line", "last_line"),
        )
    )
    args = ["task", "workload", "status", "error_type", "duration_s", "thread_uid", "first_line"]
    iteration_slices = iterations.select(
        _slice(
            pl.format("iteration {}", "iteration"),
            "iteration",
            pl.struct(*args, error=_text("error", mask, 2000)),
        )
    )
    action_slices = actions.select(
        _slice(pl.col("name"), "atomic_action", pl.struct("task", "workload", "iteration", "failed", "duration_s"))
    )
    request_slices = requests.select(
        _slice(pl.col("request_id"), "request", pl.struct("records", "first_line", "levels"))
    )
    instants = _instants(store, keep, threads, iterations, mask)
    return [processes, track_names, thread_slices, iteration_slices, action_slices, request_slices, instants]


def _instants(
    store: Store, keep: TraceFilter, threads: pl.DataFrame, iterations: pl.DataFrame, mask: bool
) -> pl.DataFrame:
    """ERROR and WARNING records as instant markers on the track of their iteration or thread."""
    records = store.scan("records").filter(pl.col("level").is_in(INSTANT_LEVELS) & pl.col("ts").is_not_null())
    if keep.since is not None:
        records = records.filter(pl.col("ts") >= keep.since)
    if keep.until is not None:
        records = records.filter(pl.col("ts") <= keep.until)
    records = records.select("thread_uid", *KEY, "pid", "level", "message", "source", "line", ts_us=_us("ts")).collect()
    if keep.by_iteration:
        records = records.join(iterations.select(KEY), on=KEY, how="semi")
    by_iteration = iterations.select(*KEY, pl.col("tid").alias("it_tid"))
    by_thread = threads.select("thread_uid", pl.col("tid").alias("th_tid"))
    records = records.join(by_iteration, on=KEY, how="left").join(by_thread, on="thread_uid", how="left")
    first_line = pl.col("message").str.split_exact("\n", 1).struct.field("field_0").str.slice(0, 80)
    return records.select(
        name=pl.format("{}: {}", "level", mask_secrets(first_line) if mask else first_line),
        cat=pl.col("level").str.to_lowercase(),
        ph=pl.lit("i"),
        s=pl.lit("t"),
        ts="ts_us",
        pid=pl.col("pid").fill_null(0),
        tid=pl.coalesce("it_tid", "th_tid", pl.lit(0, pl.Int64)),
        args=pl.struct(_text("message", mask, 4000), where=pl.format("{}:{}", "source", "line")),
    )


def write_trace(store: Store, to: Target, keep: TraceFilter | None = None, mask: bool = False) -> int:
    """Write the trace to `to` (a file or stdout), gzip-compressed as .json.gz; return how many events."""
    frames = [f for f in trace_events(store, keep, mask) if f.height]
    other = {"generator": "threadlog", "sources": [s["name"] for s in store.meta.get("sources", [])]}

    def write(fh: object) -> None:
        sink = gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=5, mtime=0) if to.fmt == "json.gz" else fh
        sink.write(b'{"traceEvents":[')  # type: ignore[attr-defined]
        parts = (part for frame in frames for part in frame.iter_slices(WRITE_ROWS))
        for n, part in enumerate(parts):
            # each part renders as a JSON array of objects; their items join into one array, a
            # slice of rows at a time so that the text is never held whole
            body = part.write_json()[1:-1]
            sink.write((b"," if n else b"") + body.encode())  # type: ignore[attr-defined]
        tail = '],"displayTimeUnit":"ms","otherData":' + json.dumps(other) + "}"
        sink.write(tail.encode())  # type: ignore[attr-defined]
        if sink is not fh:
            sink.close()  # type: ignore[attr-defined]

    to.write(write)
    return sum(f.height for f in frames)
