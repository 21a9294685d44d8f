"""Bulk matching of lines against compiled patterns, with typed field columns.

Each pattern is run once over a whole chunk by polars (``str.extract_groups``); captured
text is then cast to its column's type and the time fields are folded into ``ts``.
"""

from __future__ import annotations

import polars as pl

from threadlog.formats import FLOATS, INTS, TIME_FIELDS, LinePattern

__all__ = ["extract_fields", "time_expr"]

HIT = "_hit"


def _hit_regex(pattern: LinePattern) -> str:
    # an empty group at the start is "" on a match and null otherwise: one pass tells both
    return "^(?P<_hit>)" + pattern.regex[1:]


def extract_fields(text: pl.Series, pattern: LinePattern) -> pl.DataFrame:
    """Match every line of `text`; return typed columns, ``_hit`` (bool) and ``ts``.

    Columns are named after the pattern's groups (records-table names); rows that do not
    match are null in every column and false in ``_hit``.
    """
    groups = text.str.extract_groups(_hit_regex(pattern)).struct.unnest()
    frame = groups.with_columns(pl.col(HIT).is_not_null())
    casts = []
    for group, attr in pattern.groups.items():
        if attr in INTS:
            casts.append(pl.col(group).str.to_integer(strict=False).cast(pl.Int64))
        elif attr in FLOATS:
            casts.append(pl.col(group).cast(pl.Float64, strict=False))
    frame = frame.with_columns(casts)
    if pattern.debug_suffix:
        frame = frame.with_columns(_debug_suffix_only_on_debug(pattern))
    if pattern.has_time:
        frame = frame.with_columns(time_expr(pattern).alias("ts"))
    drop = [g for g, a in pattern.groups.items() if a in TIME_FIELDS or a == "asctime_ms"]
    drop += ["debug_suffix"] if pattern.debug_suffix else []
    return frame.drop(drop)


def _debug_suffix_only_on_debug(pattern: LinePattern) -> list[pl.Expr]:
    """oslo appends its debug suffix to DEBUG records only: elsewhere it is message text."""
    not_debug = pl.col("level") != "DEBUG"
    has_suffix = pl.col("debug_suffix").is_not_null()
    moved = not_debug & has_suffix
    suffix_groups = [g for g, a in pattern.groups.items() if a in ("funcName", "pathname", "lineno")]
    exprs = [
        pl.when(moved).then(pl.col("message") + pl.col("debug_suffix")).otherwise(pl.col("message")).alias("message")
    ]
    for g in suffix_groups:
        exprs.append(pl.when(moved).then(None).otherwise(pl.col(g)).alias(g))
    return exprs


def _chrono_format(datefmt: str) -> tuple[str, str]:
    """A chrono format for `datefmt`, and the text to prepend when it lacks a date or year."""
    has_year = any(d in datefmt for d in ("%Y", "%y", "%F", "%D", "%c", "%x"))
    has_day = any(d in datefmt for d in ("%d", "%e", "%j", "%F", "%D", "%c", "%x"))
    if not has_day:
        return "%Y-%m-%d " + datefmt, "1900-01-01 "
    if not has_year:
        return "%Y " + datefmt, "1900 "
    return datefmt, ""


def time_expr(pattern: LinePattern) -> pl.Expr:
    """The record's time (Datetime µs): asctime plus msecs, or else ``created``."""
    attrs = pattern.attributes
    if "asctime" in attrs:
        fmt, prefix = _chrono_format(pattern.datefmt or "%Y-%m-%d %H:%M:%S")
        text = pl.col("asctime") if not prefix else pl.lit(prefix) + pl.col("asctime")
        base = text.str.to_datetime(fmt, time_unit="us", strict=False)
        if "msecs" in attrs:
            millis = pl.col("msecs").cast(pl.Float64, strict=False)
        elif "asctime_ms" in pattern.groups:
            millis = pl.col("asctime_ms").cast(pl.Float64, strict=False)
        else:
            return base
        micros = (millis * 1000).round(0).cast(pl.Int64)
        return base + pl.duration(microseconds=micros.fill_null(0))
    created = pl.col("created").cast(pl.Float64, strict=False)
    return pl.from_epoch((created * 1_000_000).round(0).cast(pl.Int64), time_unit="us")
