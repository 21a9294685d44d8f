"""Column operations on records in key order, shared by the reconstructor's parts.

The reconstructor reads a chunk's records grouped per ``(pid, ident)`` key (`KEY`), each
key's rows in record order: a run of equal key values is one key, so running values are
plain shifts and restarting sums over the whole frame rather than windows per key.
"""

from __future__ import annotations

import polars as pl

from threadlog.reader import own_strings

__all__ = [
    "KEY",
    "PROC",
    "first_of",
    "key_order",
    "rows",
    "seconds",
    "thread_uid",
    "upsert",
    "within",
]

PROC = ["pid", "inst"]  # a process: the pid and which process under it (1-based instance)
KEY = ["pid", "ident_id"]


def seconds(expr: pl.Expr) -> pl.Expr:
    """A duration as seconds."""
    return expr.dt.total_microseconds() / 1e6


def first_of(*cols: str) -> pl.Expr:
    """True on the first row of each run of equal `cols` (rows in key order)."""
    same = pl.lit(True)
    for c in cols:
        same = same & pl.col(c).eq_missing(pl.col(c).shift(1))
    return (pl.int_range(pl.len()) == 0) | ~same


def within(first: pl.Expr, value: pl.Expr) -> pl.Expr:
    """A running cumulative sum of `value` that restarts where `first` is true."""
    total = value.cum_sum()
    return total - pl.when(first).then(total - value).forward_fill()


def key_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each key's rows together, in their order in `frame` (keys in the order
    they first appear): the rows' positions grouped per key, then gathered; a third of the
    cost of sorting every column on three keys."""
    order = frame.select(KEY).with_row_index("_at").group_by(KEY, maintain_order=True).agg("_at")
    return frame[order["_at"].explode()]


def rows(frame: pl.DataFrame, where: pl.Expr, *columns: str | pl.Expr) -> pl.DataFrame:
    """`columns` of the rows of `frame` `where` holds (copying only those columns)."""
    return frame.lazy().filter(where).select(*columns).collect()


def upsert(table: pl.DataFrame, rows: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """`table` with `rows` replacing the rows of the same `on` values."""
    kept = table.join(rows.select(on), on=on, how="anti", nulls_equal=True)
    return pl.concat([kept, own_strings(rows.select(table.columns))], how="vertical_relaxed")


def thread_uid(name: str = "thread_name") -> pl.Expr:
    """``pid/ident#generation``; without an ident, ``pid/-#process instance`` (`name`: the
    column of the thread's name)."""
    return pl.format(
        "{}/{}#{}",
        pl.col("pid").cast(pl.String).fill_null("-"),
        pl.coalesce(pl.col("thread").cast(pl.String), pl.col(name), pl.lit("-")),
        pl.when(pl.col("ident_id").is_null()).then(pl.col("inst")).otherwise(pl.col("generation")),
    ).alias("thread_uid")
