"""Records given to the iteration open in their process, in logs that do not name threads."""

from __future__ import annotations

import polars as pl

from threadlog.keyed import PROC, first_of, within
from threadlog.markers import END, START
from threadlog.reader import own_strings

__all__ = ["WindowAttribution"]


class WindowAttribution:
    """Without idents: a record belongs to the only iteration open in its process, if any.

    START/END (and ``Iteration N raised``) records name their iteration: ``marker``. With
    several iterations open the record is ``ambiguous``. The sum of the open iterations'
    ids, kept next to their count, names the open one when the count is 1. Iterations
    still open at the chunk's end are carried into the next. (Without idents a process's
    records form one key, so key order keeps each process's records in record order.)
    """

    def __init__(self) -> None:
        # each process's open iterations, carried from chunk to chunk
        self._open = pl.DataFrame(
            schema={"pid": pl.Int64, "inst": pl.Int32, "task": pl.String, "iteration": pl.Int64, "start_row": pl.Int64}
        )

    def open_iterations(self) -> pl.Series:
        """The iterations (``start_row``) with no END yet."""
        return self._open["start_row"]

    def attribute(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """`keyed` with ``start_row`` and ``attribution``."""
        ev = keyed
        starts = keyed.filter(pl.col("mark") == START).select(
            *PROC,
            pl.col("m_task").cast(pl.String).alias("task"),
            pl.col("m_iteration").alias("iteration"),
            pl.col("row").alias("start_row"),
        )
        candidates = pl.concat([self._open, starts]).with_columns(on=pl.col("start_row")).sort("on")
        ends = (
            ev.filter(pl.col("mark") == END)
            .select(
                *PROC,
                pl.col("m_task").cast(pl.String).alias("task"),
                pl.col("m_iteration").alias("iteration"),
                pl.col("row").alias("end_row"),
            )
            .sort("end_row")
            .join_asof(
                candidates,
                left_on="end_row",
                right_on="on",
                by=[*PROC, "task", "iteration"],
                strategy="backward",
                check_sortedness=False,
            )
            .filter(pl.col("start_row").is_not_null())
            .unique("start_row", keep="first", maintain_order=True)
            .select("end_row", "start_row")
        )
        before = self._open.group_by(PROC).agg(n0=pl.len().cast(pl.Int64), id0=pl.col("start_row").sum())
        ev = ev.join(
            ends.rename({"start_row": "end_of"}), left_on="row", right_on="end_row", how="left", maintain_order="left"
        ).join(before, on=PROC, how="left", nulls_equal=True, maintain_order="left")
        opened = pl.col("mark") == START
        closed = pl.col("end_of").is_not_null()
        id_in = pl.when(opened).then(pl.col("row")).otherwise(0)
        id_out = pl.when(closed).then(pl.col("end_of")).otherwise(0)
        # counted up to the record before, plus what this one closes; each process's records
        # are one run in key order, so running sums restart at a run's first row, no windows
        process = first_of(*PROC)
        ev = ev.with_columns(
            n_open=pl.col("n0").fill_null(0)
            + within(process, opened.cast(pl.Int64) - closed.cast(pl.Int64))
            + closed.cast(pl.Int64),
            id_open=pl.col("id0").fill_null(0) + within(process, id_in - id_out) + id_out,
        )
        # "Iteration N raised ...": the open iteration of that number in the process
        raised = (
            ev.filter(pl.col("raised_iteration").is_not_null())
            .select(*PROC, pl.col("raised_iteration").alias("iteration"), pl.col("row").alias("r_row"))
            .sort("r_row")
            .join_asof(
                candidates.drop("task"),
                left_on="r_row",
                right_on="on",
                by=[*PROC, "iteration"],
                strategy="backward",
                check_sortedness=False,
            )
            .join(ends, on="start_row", how="left")
            .filter(pl.col("start_row").is_not_null() & (pl.col("end_row").fill_null(2**62) >= pl.col("r_row")))
            .select(pl.col("r_row"), pl.col("start_row").alias("named"))
        )
        ev = ev.join(raised, left_on="row", right_on="r_row", how="left", maintain_order="left")
        self._open = own_strings(candidates.drop("on").join(ends, on="start_row", how="anti"))
        window_ok = ~pl.col("not_in_iteration") & ~pl.col("main_only")
        start_row = (
            pl.when(opened)
            .then(pl.col("row"))
            .when(closed)
            .then(pl.col("end_of"))
            .when(pl.col("named").is_not_null())
            .then(pl.col("named"))
            .when((pl.col("n_open") == 1) & window_ok)
            .then(pl.col("id_open"))
        )
        attribution = (
            pl.when(opened | closed | pl.col("named").is_not_null())
            .then(pl.lit("marker"))
            .when((pl.col("n_open") == 1) & window_ok)
            .then(pl.lit("window"))
            .when(pl.col("n_open") > 1)
            .then(pl.lit("ambiguous"))
        )
        return ev.with_columns(start_row=start_row, attribution=attribution).drop(
            "end_of", "n0", "id0", "n_open", "id_open", "named"
        )
