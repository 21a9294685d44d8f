"""Files for other tools: tables as CSV, Parquet or JSON lines, and a Chrome trace of the run.

Where they go (a file, written atomically, or stdout) is a `threadlog.output.Target`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import polars as pl

from threadlog.errors import ThreadlogError
from threadlog.output import Target
from threadlog.store import Store

__all__ = ["trace_events", "write_frame", "write_trace"]

Table = pl.DataFrame | pl.LazyFrame


def _for_text(frame: Table) -> Table:
    """CSV and JSON have no categoricals: write them as plain text."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def _writer(frame: Table, fmt: str) -> Callable[[Any], None]:
    """How to write `frame` to a binary file: a lazy frame is streamed, never held whole."""
    if fmt == "parquet":
        names = frame.collect_schema().names()
        typed = frame.with_columns(
            pl.col(c).cast(pl.Categorical) for c in ("level", "status", "attribution", "reason") if c in names
        )
        return typed.sink_parquet if isinstance(typed, pl.LazyFrame) else typed.write_parquet
    if fmt == "csv":
        text = _for_text(frame)
        csv = text.sink_csv if isinstance(text, pl.LazyFrame) else text.write_csv
        return lambda target: csv(target, datetime_format="%Y-%m-%dT%H:%M:%S%.6f")
    if fmt == "jsonl":
        text = _for_text(frame)
        return text.sink_ndjson if isinstance(text, pl.LazyFrame) else text.write_ndjson
    raise ValueError(f"no table writer for {fmt}")


def write_frame(frame: Table, to: Target) -> None:
    """Write `frame` to `to` (a file, atomically, or stdout) in its format."""
    to.write(_writer(frame, to.fmt))


# -- Chrome Trace Event Format ---------------------------------------------------------------


def _lanes(spans: list[tuple[int, int]]) -> list[int]:
    """Give overlapping spans separate lanes (greedy interval partitioning, input in order)."""
    ends: list[int] = []
    out = []
    for start, end in spans:
        for lane, busy_until in enumerate(ends):
            if busy_until <= start:
                ends[lane] = end
                out.append(lane)
                break
        else:
            ends.append(end)
            out.append(len(ends) - 1)
    return out


def _with_lanes(iterations: pl.DataFrame) -> pl.DataFrame:
    """Add ``lane``: 0, or a further lane where an iteration overlaps one before it on its track.

    With idents a thread runs one iteration at a time, so everything is lane 0 and no loop
    runs; only tracks that have an overlap (logs without idents) are partitioned one by one.
    """
    # a zero-length iteration and the next one can share a millisecond: the shorter goes first
    iterations = iterations.sort("tid", "ts_us", "end_us", maintain_order=True)
    busy_until = pl.col("end_us").cum_max().shift(1).over("tid")
    overlapping = iterations.with_columns(hit=(pl.col("ts_us") < busy_until).fill_null(False))
    tracks = overlapping.filter(pl.col("hit"))["tid"].unique()
    if tracks.len() == 0:
        return iterations.with_columns(lane=pl.lit(0, pl.Int64))
    lanes = [0] * iterations.height
    for tid in tracks.to_list():
        rows = iterations.with_row_index("i").filter(pl.col("tid") == tid)
        spans = list(zip(rows["ts_us"].to_list(), rows["end_us"].to_list(), strict=True))
        for i, lane in zip(rows["i"].to_list(), _lanes(spans), strict=True):
            lanes[i] = lane
    return iterations.with_columns(lane=pl.Series(lanes, dtype=pl.Int64))


def trace_events(store: Store) -> list[pl.DataFrame]:
    """The whole run as Chrome Trace Event Format events, one frame per kind of event.

    One process per pid, one track per logical thread (``M`` events name them), each
    iteration a complete ``X`` event, ERROR and WARNING records instant ``i`` events, all
    times in µs. Iterations that overlap on one track (only in logs without idents, where a
    whole process is one track) go to extra lanes, so that nesting stays valid.
    """
    if store.meta["summary"]["first_ts"] is None:  # the parse's summary: no record has a time
        raise ThreadlogError(
            "this log has no timestamps, so it cannot be drawn as a trace; "
            "`threadlog timeline` and `threadlog export` still work"
        )
    threads = store.scan("threads").select("thread_uid", "pid", "thread").collect()
    threads = threads.with_row_index("tid", offset=1).with_columns(
        pl.col("tid").cast(pl.Int64), pl.col("pid").fill_null(0)
    )
    tids = threads.select("thread_uid", "tid")
    iterations = (
        store.scan("iterations")
        .filter(pl.col("start_ts").is_not_null())
        .with_columns(ts_us=pl.col("start_ts").dt.epoch("us"), end_us=pl.coalesce("end_ts", "start_ts").dt.epoch("us"))
        .collect()
        .join(tids, on="thread_uid", how="left")
        .with_columns(pl.col("tid").fill_null(0), pl.col("pid").fill_null(0))
    )
    iterations = _with_lanes(iterations)
    lanes = (
        iterations.filter(pl.col("lane") > 0)
        .select("tid", "lane", "thread_uid", "pid")
        .unique(["tid", "lane"], maintain_order=True)
        .with_row_index("lane_tid", offset=threads.height + 1)
        .with_columns(pl.col("lane_tid").cast(pl.Int64))
    )
    iterations = iterations.join(lanes.select("tid", "lane", "lane_tid"), on=["tid", "lane"], how="left").with_columns(
        tid=pl.coalesce("lane_tid", "tid")
    )
    processes = threads.select(pl.col("pid").unique().sort()).select(
        name=pl.lit("process_name"),
        ph=pl.lit("M"),
        pid="pid",
        tid=pl.lit(0, pl.Int64),
        args=pl.struct(name=pl.format("pid {}", "pid")),
    )
    named = threads.select(
        name=pl.lit("thread_name"),
        ph=pl.lit("M"),
        pid="pid",
        tid="tid",
        args=pl.struct(name=pl.format("{} (ident {})", "thread_uid", pl.col("thread").cast(pl.String).fill_null("-"))),
    )
    named_lanes = lanes.select(
        name=pl.lit("thread_name"),
        ph=pl.lit("M"),
        pid="pid",
        tid="lane_tid",
        args=pl.struct(name=pl.format("{} (overlapping iterations, lane {})", "thread_uid", pl.col("lane") + 1)),
    )
    complete = iterations.select(
        name=pl.format("iteration {}", "iteration"),
        cat=pl.lit("iteration"),
        ph=pl.lit("X"),
        ts="ts_us",
        dur=pl.max_horizontal(pl.col("end_us") - pl.col("ts_us"), pl.lit(0)),
        pid="pid",
        tid="tid",
        args=pl.struct("task", "workload", "status", "error", "error_type", "thread_uid", "first_line"),
    )
    instants = (
        store.scan("records")
        .filter(pl.col("level").is_in(["ERROR", "CRITICAL", "WARNING", "WARN"]) & pl.col("ts").is_not_null())
        .select("thread_uid", "pid", "level", "message", "source", "line", pl.col("ts").dt.epoch("us").alias("ts_us"))
        .collect()
        .join(tids, on="thread_uid", how="left")
        .select(
            name=pl.format(
                "{}: {}", "level", pl.col("message").str.split_exact("\n", 1).struct.field("field_0").str.slice(0, 80)
            ),
            cat=pl.col("level").str.to_lowercase(),
            ph=pl.lit("i"),
            s=pl.lit("t"),
            ts="ts_us",
            pid=pl.col("pid").fill_null(0),
            tid=pl.col("tid").fill_null(0),
            args=pl.struct("message", where=pl.format("{}:{}", "source", "line")),
        )
    )
    return [processes, named, named_lanes, complete, instants]


def write_trace(store: Store, to: Target) -> int:
    """Write the trace to `to` as JSON, gzipped for .json.gz (polars renders the events);
    return how many events it holds."""
    frames = [f for f in trace_events(store) if f.height]
    other = {"generator": "threadlog", "sources": [s["name"] for s in store.meta.get("sources", [])]}
    # each frame renders as a JSON array of objects; their items are joined into one array
    body = ",".join(f.write_json()[1:-1] for f in frames)
    text = '{"traceEvents":[' + body + '],"displayTimeUnit":"ms","otherData":' + json.dumps(other) + "}"
    data = text.encode()
    if to.fmt == "json.gz":
        data = gzip.compress(data, mtime=0)
    to.write(lambda fh: fh.write(data))
    return sum(f.height for f in frames)
