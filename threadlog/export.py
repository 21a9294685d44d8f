"""Files for other tools: tables as CSV, Parquet or JSON (the trace is `trace`'s).

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

__all__ = ["FORMATS", "atomic_write", "format_of", "write_frame"]

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


Table = pl.DataFrame | pl.LazyFrame


def _for_text(frame: Table) -> Table:
    """CSV and JSON have no categoricals: write them as plain text."""
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def _writer(frame: Table, fmt: str) -> Callable[[Any], None]:
    """How to write `frame` to a binary file: a lazy frame is streamed, never held whole."""
    lazy = isinstance(frame, pl.LazyFrame)
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
    rows = _for_text(frame.collect() if lazy else frame)
    return lambda target: target.write(json.dumps(rows.to_dicts(), default=str, indent=1).encode())


def write_frame(frame: Table, out: str | None, fmt: str, force: bool = False) -> None:
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
        # mkstemp makes the file 0600; a file the user exports gets the mode `cp` would give it
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise ThreadlogError(f"cannot write {path} ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
