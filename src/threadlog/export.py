"""Files for other tools: tables as CSV, Parquet or JSON, and a Chrome trace of the run.

Every file is written to a temporary name in the target folder and renamed into place, so
a reader never sees half a file; an existing file is replaced only when asked to.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from threadlog.errors import ThreadlogError
from threadlog.store import Store

__all__ = ["FORMATS", "chrome_trace", "format_of", "write_frame", "write_trace"]

FORMATS = ("csv", "parquet", "json")


def format_of(path: str | None, to: str | None) -> str:
    """The output format: `to` if given, else the file's extension."""
    if to is not None:
        if to not in FORMATS:
            raise ThreadlogError(f"unknown output format {to!r}; use csv, parquet or json")
        return to
    if path is None:
        raise ThreadlogError("say where to write: --out FILE, or --to csv|parquet|json for stdout")
    ext = Path(path).suffix.lower().lstrip(".")
    if ext == "pq":
        ext = "parquet"
    if ext not in FORMATS:
        raise ThreadlogError(f"{path}: cannot tell the format from {ext!r}; end it in .csv, .parquet or .json")
    return ext


def _for_text(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV and JSON have no categoricals: write them as plain text."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def _writer(frame: pl.DataFrame, fmt: str) -> Callable[[Any], None]:
    if fmt == "parquet":
        typed = frame.with_columns(
            pl.col(c).cast(pl.Categorical) for c in ("level", "status", "attribution", "reason") if c in frame.columns
        )
        return typed.write_parquet
    if fmt == "csv":
        return lambda target: _for_text(frame).write_csv(target, datetime_format="%Y-%m-%dT%H:%M:%S%.6f")
    return lambda target: target.write(json.dumps(_for_text(frame).to_dicts(), default=str, indent=1).encode())


def write_frame(frame: pl.DataFrame, out: str | None, fmt: str, force: bool = False) -> None:
    """Write `frame` to `out` atomically (or to stdout when `out` is None)."""
    write = _writer(frame, fmt)
    if out is None:
        sink = sys.stdout.buffer
        write(sink)
        sink.flush()
        return
    atomic_write(Path(out), write, force)


def atomic_write(path: Path, write: Callable[[Any], None], force: bool) -> None:
    """Run `write` on a temporary file beside `path`, then rename it into place."""
    if path.exists() and not force:
        raise ThreadlogError(f"{path} exists; pass --force to replace it")
    if path.is_dir():
        raise ThreadlogError(f"{path} is a directory; name a file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ThreadlogError(f"{folder}: no such folder for the output file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise ThreadlogError(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def chrome_trace(store: Store) -> dict[str, Any]:
    """The whole run as Chrome Trace Event Format (Perfetto UI and chrome://tracing read it).

    One process per pid, one track per logical thread (``M`` events name them), each
    iteration a complete ``X`` event, ERROR and WARNING records instant ``i`` events.
    Iterations that overlap on one track (possible only in logs without idents, where all
    of a process shares one track) are spread over extra lanes so nesting stays valid.
    """
    us = pl.col("ts").dt.epoch("us")
    has_ts = store.scan("records").select(pl.col("ts").is_not_null().any()).collect().item()
    if not has_ts:
        raise ThreadlogError(
            "this log has no timestamps, so it cannot be drawn as a trace; "
            "`threadlog timeline` and `threadlog export` still work"
        )
    threads = store.scan("threads").collect().with_row_index("tid", offset=1)
    tid_of = dict(zip(threads["thread_uid"].to_list(), threads["tid"].to_list(), strict=True))
    iterations = (
        store.scan("iterations")
        .filter(pl.col("start_ts").is_not_null())
        .with_columns(ts_us=pl.col("start_ts").dt.epoch("us"), end_us=pl.coalesce("end_ts", "start_ts").dt.epoch("us"))
        .sort("thread_uid", "ts_us")
        .collect()
    )
    events: list[dict[str, Any]] = []
    for pid in threads["pid"].unique().sort(nulls_last=True).to_list():
        events.append(
            {
                "name": "process_name",
                "ph": "M",
                "pid": pid or 0,
                "tid": 0,
                "args": {"name": f"pid {pid}" if pid is not None else "no pid"},
            }
        )
    lane_tids: dict[tuple[str, int], int] = {}
    next_tid = threads.height + 1
    for uid, frame in iterations.group_by("thread_uid", maintain_order=True):
        lanes = _lanes(list(zip(frame["ts_us"].to_list(), frame["end_us"].to_list(), strict=True)))
        for row, lane in zip(frame.iter_rows(named=True), lanes, strict=True):
            tid = tid_of.get(uid[0], 0)
            if lane:
                if (uid[0], lane) not in lane_tids:
                    lane_tids[(uid[0], lane)] = next_tid
                    next_tid += 1
                tid = lane_tids[(uid[0], lane)]
            events.append(
                {
                    "name": f"iteration {row['iteration']}",
                    "cat": "iteration",
                    "ph": "X",
                    "ts": row["ts_us"],
                    "dur": max(row["end_us"] - row["ts_us"], 0),
                    "pid": row["pid"] or 0,
                    "tid": tid,
                    "args": {
                        "task": row["task"],
                        "workload": row["workload"],
                        "status": row["status"],
                        "error": row["error"],
                        "error_type": row["error_type"],
                        "thread_uid": uid[0],
                        "first_line": row["first_line"],
                    },
                }
            )
    for row in threads.iter_rows(named=True):
        events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": row["pid"] or 0,
                "tid": row["tid"],
                "args": {"name": f"{row['thread_uid']} (ident {row['thread']})"},
            }
        )
    for (uid, lane), tid in lane_tids.items():
        pid = threads.filter(pl.col("thread_uid") == uid)["pid"][0]
        events.append(
            {
                "name": "thread_name",
                "ph": "M",
                "pid": pid or 0,
                "tid": tid,
                "args": {"name": f"{uid} (overlapping iterations, lane {lane + 1})"},
            }
        )
    notable = (
        store.scan("records")
        .filter(pl.col("level").is_in(["ERROR", "CRITICAL", "WARNING", "WARN"]) & pl.col("ts").is_not_null())
        .select("thread_uid", "pid", "level", "message", "source", "line", us.alias("ts_us"))
        .collect()
    )
    for row in notable.iter_rows(named=True):
        first = row["message"].split("\n", 1)[0]
        events.append(
            {
                "name": f"{row['level']}: {first[:80]}",
                "cat": row["level"].lower(),
                "ph": "i",
                "s": "t",
                "ts": row["ts_us"],
                "pid": row["pid"] or 0,
                "tid": tid_of.get(row["thread_uid"], 0),
                "args": {"message": row["message"], "where": f"{row['source']}:{row['line']}"},
            }
        )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"generator": "threadlog", "sources": [s["name"] for s in store.meta.get("sources", [])]},
    }


def write_trace(store: Store, out: str, force: bool = False) -> int:
    """Write the trace to `out`; return how many events it holds."""
    trace = chrome_trace(store)
    data = json.dumps(trace, default=str).encode()
    atomic_write(Path(out), lambda fh: fh.write(data), force)
    return len(trace["traceEvents"])
