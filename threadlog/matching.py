"""Bulk matching of lines against compiled patterns, with typed field columns.

Each pattern is run once over a whole chunk by polars (``str.extract_groups``); captured
text is then cast to its column's type and the time fields are folded into ``ts``.
"""

from __future__ import annotations

import os
import time
import zoneinfo

import polars as pl

from threadlog.formats import FLOATS, INTS, TIME_FIELDS, LinePattern
from threadlog.segments import INSTANCE, REQUEST_ID, FastStep

__all__ = ["extract_fields", "time_expr"]

HIT = "_hit"


def extract_fields(text: pl.Series, pattern: LinePattern) -> pl.DataFrame:
    """Match every line of `text`; return typed columns, ``_hit`` (bool) and ``ts``.

    Columns are named after the pattern's groups (records-table names); rows that do not
    match are null in every column and false in ``_hit``.
    """
    if pattern.fast_regex is not None:
        frame = _extract_fast_then_full(text, pattern)
    else:
        frame = _extract(text, pattern.regex)
        if pattern.suffix_regex is not None:
            frame = frame.with_columns(_debug_suffix_only_on_debug(pattern))
    casts = []
    for group, attr in pattern.groups.items():
        digits = pl.col(group)
        if group in pattern.grouped:  # "1,234,567": drop the thousands separators
            digits = digits.str.replace_all(pattern.grouped[group], "", literal=True)
        if attr in INTS:
            base = pattern.bases.get(group, 10)
            casts.append(digits.str.to_integer(base=base, strict=False).alias(group))
        elif attr in FLOATS:
            casts.append(digits.cast(pl.Float64, strict=False).alias(group))
    frame = frame.with_columns(casts)
    if pattern.has_time:
        frame = frame.with_columns(time_expr(pattern).alias("ts"))
    drop = [g for g, a in pattern.groups.items() if a in TIME_FIELDS or a == "asctime_ms"]
    return frame.drop([*drop, "debug_suffix"], strict=False)


def _extract(text: pl.Series, regex: str) -> pl.DataFrame:
    # an empty group at the start is "" on a match and null otherwise: one pass tells both
    groups = text.str.extract_groups("^(?P<_hit>)" + regex[1:]).struct.unnest()
    return groups.with_columns(pl.col(HIT).is_not_null())


def _extract_head(text: pl.Series, regex: str) -> pl.DataFrame:
    """`_extract` for a regex that reads a line's head: the message is the rest of the line.

    The head is captured whole (null where the line does not match) and cut off the line,
    which is cheaper than capturing the message (measured 0.42 s against 0.56 s for the
    benchmark log's 1.1M oslo lines).
    """
    groups = text.str.extract_groups("^(?P<_hit>" + regex[1:] + ")").struct.unnest()
    return groups.with_columns(text.str.strip_prefix(groups[HIT]).alias("message"), pl.col(HIT).is_not_null())


def _extract_fast_then_full(text: pl.Series, pattern: LinePattern) -> pl.DataFrame:
    """Match with the quick regex, finish its steps, and give the rest to the full regex."""
    assert pattern.fast_regex is not None
    steps = pattern.fast_steps
    fast = (_extract_head if FastStep.TAIL in steps else _extract)(text, pattern.fast_regex)
    if FastStep.INSTANCE in steps:
        has = pl.col("message").str.starts_with("[instance: ")
        inst = pl.when(has).then(pl.col("message")).str.extract_groups(rf"^{INSTANCE}(?P<rest>.*)")
        fast = (
            fast.with_columns(inst.alias("_inst"))
            .with_columns(
                instance=pl.col("_inst").struct.field("instance"),
                message=pl.coalesce(pl.col("_inst").struct.field("rest"), pl.col("message")),
            )
            .drop("_inst")
        )
    if FastStep.CONTEXT in steps:
        ctx = pl.col("oslo_context")
        request = rf"^(?P<request_id>{REQUEST_ID}) (?P<user_identity>.*)$"
        split = pl.when(ctx != "-").then(ctx).str.extract_groups(request)
        fast = fast.with_columns(split.alias("_ctx")).with_columns(
            request_id=pl.col("_ctx").struct.field("request_id"),
            user_identity=pl.col("_ctx").struct.field("user_identity"),
        )
        # "[-]" is the no-context form; any other bracket must be "request_id user_identity"
        valid = (ctx == "-") | pl.col("request_id").is_not_null()
        fast = fast.with_columns((pl.col(HIT) & valid).alias(HIT)).drop("_ctx", "oslo_context")
        fast = _only_hits(fast)
    if FastStep.SUFFIX in steps:
        assert pattern.suffix_regex is not None
        tail = pl.when(pl.col("level") == "DEBUG").then(pl.col("message")).str.extract_groups(pattern.suffix_regex)
        fast = fast.with_columns(tail.alias("_tail"))
        fast = fast.with_columns(
            message=pl.coalesce(pl.col("_tail").struct.field("message"), pl.col("message")),
            **{g: pl.col("_tail").struct.field(g) for g in pattern.suffix_groups},
        ).drop("_tail")
    fast = fast.with_columns(pl.col(HIT).fill_null(False))
    # the full regex only for the missed lines it matches (a match test is a quick DFA pass;
    # capturing groups from lines that then fail, like tracebacks, is not). The lines are
    # gathered, not masked with nulls: a string kernel still reads the values under a null.
    missed = (~fast[HIT]).arg_true()
    if missed.len() == 0 or not any(step.narrows for step in steps):
        return fast
    redo = missed.filter(text.gather(missed).str.contains(pattern.regex).fill_null(False))
    if redo.len() == 0:
        return fast
    full = _extract(text.gather(redo), pattern.regex)
    if pattern.suffix_regex is not None:
        full = full.with_columns(_debug_suffix_only_on_debug(pattern))
    full = full.drop("debug_suffix", strict=False)
    return fast.with_columns(fast[c].clone().scatter(redo, full[c]) for c in fast.columns)


def _only_hits(frame: pl.DataFrame) -> pl.DataFrame:
    """Null every field of a row that does not match, as `extract_fields` promises."""
    stale = frame[HIT].is_not_null() & ~frame[HIT]
    if not stale.any():
        return frame
    keep = ~stale
    return frame.select(pl.when(keep).then(pl.col(c)).alias(c) if c != HIT else pl.col(c) for c in frame.columns)


def _debug_suffix_only_on_debug(pattern: LinePattern) -> list[pl.Expr]:
    """oslo appends its debug suffix to DEBUG records only: elsewhere it is message text."""
    not_debug = pl.col("level") != "DEBUG"
    has_suffix = pl.col("debug_suffix").is_not_null()
    moved = not_debug & has_suffix
    exprs = [
        pl.when(moved).then(pl.col("message") + pl.col("debug_suffix")).otherwise(pl.col("message")).alias("message")
    ]
    for g in pattern.suffix_groups:
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
    utc = pl.from_epoch((created * 1_000_000).round(0).cast(pl.Int64), time_unit="us")
    return local_wall_time(utc)


def local_wall_time(utc: pl.Expr) -> pl.Expr:
    """UTC instants as local wall time, as `asctime` writes them (``%(created)f`` is UTC)."""
    zone = _local_zone()
    if zone is not None:
        return utc.dt.replace_time_zone("UTC").dt.convert_time_zone(zone).dt.replace_time_zone(None)
    return utc + pl.duration(seconds=time.localtime().tm_gmtoff)


def _local_zone() -> str | None:
    """The IANA name of this machine's time zone, if it can be told (TZ, /etc/localtime)."""
    names = []
    if os.environ.get("TZ"):
        names.append(os.environ["TZ"].lstrip(":"))
    else:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            names.append(target.split("zoneinfo/", 1)[1])
    for name in names:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return None
