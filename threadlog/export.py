"""Files for other tools: tables as CSV, Parquet or JSON lines (the trace is `trace`'s).

Where they go (a file, written atomically, or stdout) is a `threadlog.output.Target`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from threadlog.output import Target

__all__ = ["write_frame"]

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
