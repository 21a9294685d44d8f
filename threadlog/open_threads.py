"""Threads begun and not yet over, with their figures so far."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from threadlog.keyed import first_of, thread_uid
from threadlog.reader import own_strings

__all__ = ["OpenThreads"]


class OpenThreads:
    """The threads whose key has not moved on: their figures so far (`THREAD_COLUMNS` and
    ``min_start, max_start``, the range of iterations they ran), merged with each chunk's
    records and handed to `done` once over."""

    def __init__(self, done: Callable[[pl.DataFrame], None]) -> None:
        self._open: pl.DataFrame | None = None
        self._done = done

    def add(self, keyed: pl.DataFrame, current: pl.Series) -> None:
        """Add the chunk's records (`keyed`, in key order) to their threads; hand over the
        threads that are over: those not among `current`, each key's thread now."""
        starts = first_of("tid")
        block = starts.cum_sum().set_sorted()  # a thread's records are contiguous in key order
        # Times and iterations nearly always only go forward within a thread: then a thread's
        # first and last give their range, and the costly per-group min and max are not
        # needed (a clock stepping back, or the window rule's interleaved iterations, need them).
        ordered = keyed.select(
            ~pl.any_horizontal(
                ((pl.col(c) < pl.col(c).forward_fill().shift(1)) & ~starts).any() for c in ("ts", "start_row")
            )
        ).item()
        if ordered:
            low, high = (lambda c: c.drop_nulls().first()), (lambda c: c.drop_nulls().last())
        else:
            low, high = pl.Expr.min, pl.Expr.max
        ts, start_row = pl.col("ts"), pl.col("start_row")
        ranges = [
            low(ts).alias("first_ts"),
            high(ts).alias("last_ts"),
            low(start_row).alias("min_start"),
            high(start_row).alias("max_start"),
        ]
        part = keyed.group_by(block.alias("_block"), maintain_order=True).agg(
            pl.col("tid", "pid", "thread", "generation", "ident_id", "inst").first(),
            pl.col("thread_name").first().alias("first_name"),
            pl.col("source").first().cast(pl.String),
            pl.col("reason").first(),  # a thread's first record says why it began
            pl.col("thread_name", "task", "workload", "iteration").drop_nulls().first(),
            *ranges,
            pl.col("line").first().alias("first_line"),
            pl.col("line").last().alias("last_line"),
            pl.len().cast(pl.Int64).alias("records"),
        )
        part = part.with_columns(thread_uid("first_name"), pl.col("reason").cast(pl.String)).drop(
            "_block", "ident_id", "inst", "first_name"
        )
        if self._open is not None:
            # threads that began in an earlier chunk: their parts so far and this chunk's
            going_on = pl.col("tid").is_in(self._open["tid"].implode())
            continued = part.filter(going_on)
            earlier = self._open.join(continued.select("tid"), on="tid", how="semi")
            untouched = self._open.join(continued.select("tid"), on="tid", how="anti")
            merged = (
                pl.concat([earlier, continued], how="vertical_relaxed")
                .group_by("tid", maintain_order=True)
                .agg(
                    pl.col("thread_uid", "source", "pid", "thread", "generation").first(),
                    pl.col("thread_name", "reason", "task", "workload", "iteration").drop_nulls().first(),
                    pl.col("first_ts").min(),
                    pl.col("last_ts").max(),
                    pl.col("first_line").first(),
                    pl.col("last_line").last(),
                    pl.col("records").sum(),
                    pl.col("min_start").min(),
                    pl.col("max_start").max(),
                )
                .select(earlier.columns)
            )
            part = pl.concat([merged, part.filter(~going_on).select(earlier.columns)], how="vertical_relaxed")
        else:
            untouched = part.clear()
        still = pl.col("tid").is_in(current.implode())
        self._done(part.filter(~still))
        self._open = pl.concat([untouched, own_strings(part.filter(still))], how="vertical_relaxed")

    def __len__(self) -> int:
        return 0 if self._open is None else self._open.height

    def close(self, where: pl.Expr | None = None) -> None:
        """Hand over the open threads `where` holds (all of them by default)."""
        if self._open is None:
            return
        over = pl.lit(True) if where is None else where
        closed = self._open.filter(over)
        self._open = self._open.filter(~over)
        if closed.height:
            self._done(closed)
