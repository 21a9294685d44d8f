"""Iterations begun and not yet over, with their records so far."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from threadlog.keyed import rows
from threadlog.markers import END
from threadlog.reader import own_strings

__all__ = ["OpenIterations"]


class OpenIterations:
    """The iterations begun and not yet over, named by their ``start_row``: what they are
    (`ITERATION_COLUMNS` so far) and their records so far, handed to `done` once over."""

    def __init__(self, done: Callable[[pl.DataFrame], None], *, has_ident: bool) -> None:
        self._open: pl.DataFrame | None = None
        self._done = done
        self.has_ident = has_ident

    def open(self, starts: pl.DataFrame) -> None:
        """Open the iterations of `starts` (``start_row, task, workload, iteration``, where and
        when they began)."""
        opened = starts.with_columns(
            end_line=pl.lit(None, pl.Int64),
            end_ts=pl.lit(None, starts.schema["start_ts"]),
            m_status=pl.lit(None, pl.String),
            error_type=pl.lit(None, pl.String),
            error=pl.lit(None, pl.String),
            records=pl.lit(0, pl.Int64),
            max_line=pl.lit(None, pl.Int64),
        )
        if self._open is None:
            self._open = opened
        else:
            self._open = pl.concat([self._open, opened], how="vertical_relaxed")

    def names(self) -> pl.DataFrame:
        """``start_row, task, workload, iteration`` of each open iteration."""
        assert self._open is not None
        return self._open.select("start_row", "task", "workload", "iteration")

    def add(self, keyed: pl.DataFrame, ends: pl.DataFrame, still: pl.Series) -> None:
        """Add the chunk's records (`keyed`, with ``start_row``) to their iterations, with
        what their END says (`ends`, by ``end_row``); hand over those not in `still`."""
        assert self._open is not None
        members = rows(keyed, pl.col("start_row").is_not_null(), "start_row", "line", "row", "mark")
        if self.has_ident:  # an iteration's records are contiguous in key order
            block = (pl.col("start_row") != pl.col("start_row").shift(1)).fill_null(True).cum_sum().set_sorted()
            grouped = members.group_by(block.alias("_block"), maintain_order=True)
        else:
            grouped = members.group_by("start_row")
        first = [pl.col("start_row").first()] if self.has_ident else []
        part = (
            grouped.agg(
                *first,
                pl.col("row").filter(pl.col("mark") == END).first().alias("end_row"),
                pl.len().cast(pl.Int64).alias("new_records"),
                pl.col("line").max().alias("new_max_line"),
            )
            .drop("_block", strict=False)
            .join(ends, on="end_row", how="left")
            .drop("end_row")
        )
        its = self._open.join(part, on="start_row", how="left", maintain_order="left").with_columns(
            *(pl.coalesce(c, f"new_{c}").alias(c) for c in ("end_line", "end_ts", "m_status", "error_type", "error")),
            records=pl.col("records") + pl.col("new_records").fill_null(0),
            max_line=pl.max_horizontal("max_line", "new_max_line"),
        )
        its = its.drop(part.columns[1:])
        is_open = pl.col("start_row").is_in(still.implode())
        self._done(its.filter(~is_open))
        self._open = own_strings(its.filter(is_open))

    def close(self) -> None:
        """Hand over every open iteration."""
        if self._open is not None and self._open.height:
            self._done(self._open)
        self._open = None
