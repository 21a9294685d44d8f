"""The processes behind each pid, as the reconstructor carries them from chunk to chunk."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from threadlog.keyed import PROC, seconds, upsert

__all__ = ["Processes", "workload_boundary"]


def workload_boundary(main: pl.Expr | None = None) -> pl.Expr:
    """A main-thread record (`main`, by default the ``main`` column) that begins or ends a workload."""
    return (pl.col("running_workload") | pl.col("finished_workload")) & (pl.col("main") if main is None else main)


class Processes:
    """The processes behind each pid, carried across chunks: a record's process instance,
    whether it is on its process's main thread, and its workload and hook epochs."""

    # what each pid carries into the next chunk, besides ``pid`` and ``c_ts`` (its last time)
    STATE: ClassVar[dict[str, pl.DataType]] = {
        "c_inst": pl.Int32,  # its process instance (1-based)
        "c_main_name": pl.Int64,  # the ident of its latest ``MainThread`` record
        "c_main": pl.Int64,  # its main thread's ident_id
        "c_wl": pl.Int64,  # workload boundaries seen on its main thread
        "c_hook": pl.Int64,  # hook triggers seen
        "c_retired": pl.Boolean,  # silent for longer than pid_gap: its next record is a new process
    }

    def __init__(self, pid_gap: float | None) -> None:
        self.pid_gap = pid_gap
        self._table: pl.DataFrame | None = None  # per pid: STATE and c_ts
        self._newest: object = None  # the latest timestamp seen

    def split(self, ev: pl.DataFrame) -> pl.DataFrame:
        """Add ``inst`` (1-based process instance of the pid), ``main`` (on its main thread)
        and the workload and hook epochs of the process.

        These values change only at a few records: a pid's first record, process-start,
        ``MainThread``, main-only, workload and hook messages, and (for the pid-silence rule)
        every record of a pid whose chunk spans more than ``pid_gap``. They are worked out on
        those records alone, and every other record takes the values of the latest one of its
        pid: a window over 50 records instead of 50,000.
        """
        if self._table is None:
            self._table = pl.DataFrame(schema=self.STATE | {"pid": ev.schema["pid"], "c_ts": ev.schema["ts"]})
        pids = ev.group_by("pid", maintain_order=True).agg(
            pl.col("row").first().alias("first_row"),
            pl.col("ts").min().alias("ts_min"),
            pl.col("ts").max().alias("ts_max"),
            pl.col("ts").last().alias("ts_last"),
        )
        pids = pids.join(self._table, on="pid", how="left", nulls_equal=True, maintain_order="left")
        is_main_name = (pl.col("thread_name") == "MainThread").fill_null(False)
        main_evidence = pl.col("process_start") | pl.col("main_only") | is_main_name
        changes = (
            main_evidence
            | pl.col("running_workload")
            | pl.col("finished_workload")
            | pl.col("hook_trigger")
            | pl.col("row").is_in(pids["first_row"].implode())
        )
        if self.pid_gap is not None:
            # no record of such a pid can follow the one before it by more than pid_gap
            span = seconds(pl.col("ts_max") - pl.min_horizontal("ts_min", "c_ts"))
            long = pids.filter((span > self.pid_gap).fill_null(False))["pid"]
            changes = changes | pl.col("pid").is_in(long.implode())
        carried = pids.select("pid", *self.STATE, "c_ts")  # each pid of the chunk, its carried values
        at = ev.filter(changes).join(carried, on="pid", how="left", nulls_equal=True, maintain_order="left")
        at = self._process_values(at, is_main_name, main_evidence)
        # an as-of join matches no null key: records without a pid get one that no pid is
        no_pid = pl.col("pid").fill_null(-1).alias("_pid")
        ev = ev.with_columns(no_pid).join_asof(
            at.select("row", no_pid, "inst", "main_ident", "wl_seen", "hooks_seen"),
            on="row",
            by="_pid",
            strategy="backward",
            check_sortedness=False,
        )
        # without any ident, all of a process's records share one key: treat it as the main one
        main = pl.when(pl.col("ident_id").is_null()).then(True).otherwise(pl.col("ident_id") == pl.col("main_ident"))
        ev = ev.with_columns(main.fill_null(False).alias("main")).with_columns(
            wl_epoch=pl.col("wl_seen") - workload_boundary().cast(pl.Int64),
            hook_epoch=pl.col("hooks_seen") - pl.col("hook_trigger").cast(pl.Int64),
        )
        last = at.unique("pid", keep="last", maintain_order=True).select(
            "pid",
            pl.col("inst").alias("c_inst"),
            pl.col("main_name").alias("c_main_name"),
            pl.col("main_ident").alias("c_main"),
            pl.col("wl_seen").alias("c_wl"),
            pl.col("hooks_seen").alias("c_hook"),
            pl.lit(False).alias("c_retired"),
        )
        last = last.join(pids.select("pid", pl.col("ts_last").alias("c_ts")), on="pid", maintain_order="left")
        self._table = upsert(self._table, last, ["pid"])
        return ev.drop("_pid", "main_ident", "wl_seen", "hooks_seen")

    def _process_values(self, at: pl.DataFrame, is_main_name: pl.Expr, main_evidence: pl.Expr) -> pl.DataFrame:
        """The per-pid values at the records where they may change (`at`, in record order,
        with each pid's first record and its carried ``c_*`` values)."""
        at_first = pl.int_range(pl.len()).over("pid") == 0
        # a retired pid (see `_retire_silent_processes`) names a new process when it is back
        new_inst = (at_first & (pl.col("c_inst").is_null() | pl.col("c_retired"))) | pl.col("process_start")
        if self.pid_gap is not None:
            prev_ts = pl.when(at_first).then(pl.col("c_ts")).otherwise(pl.col("ts").shift(1).over("pid"))
            new_inst = new_inst | (seconds(pl.col("ts") - prev_ts) > self.pid_gap).fill_null(False)
        # a second MainThread with another ident: the pid now names another process
        at = at.with_columns(
            main_name=pl.coalesce(
                pl.when(is_main_name).then(pl.col("thread")).forward_fill().over("pid"), pl.col("c_main_name")
            )
        )
        prev_main_name = pl.col("main_name").shift(1).over("pid").fill_null(pl.col("c_main_name"))
        new_inst = new_inst | (is_main_name & (pl.col("thread") != prev_main_name)).fill_null(False)
        at = at.with_columns(
            inst=(pl.col("c_inst").fill_null(0) + new_inst.cast(pl.Int32).cum_sum().over("pid")).cast(pl.Int32)
        )
        same_process = (pl.col("inst") == pl.col("c_inst")).fill_null(False)
        first_main = pl.when(main_evidence).then(pl.col("ident_id")).drop_nulls().first().over(PROC)
        main_ident = pl.when(same_process).then(pl.coalesce("c_main", first_main)).otherwise(first_main)
        at = at.with_columns(main_ident.alias("main_ident"))
        main = pl.when(pl.col("ident_id").is_null()).then(True).otherwise(pl.col("ident_id") == pl.col("main_ident"))

        def running(carried: str, flag: pl.Expr) -> pl.Expr:
            return pl.when(same_process).then(pl.col(carried)).otherwise(0) + flag.cast(pl.Int64).cum_sum().over(PROC)

        return at.with_columns(
            wl_seen=running("c_wl", workload_boundary(main.fill_null(False))),
            hooks_seen=running("c_hook", pl.col("hook_trigger")),
        )

    def retire_silent(self, newest: object) -> pl.Series:
        """The pids silent for longer than ``pid_gap`` before `newest` (the chunk's latest
        time), now retired: their next record begins a new process."""
        assert self.pid_gap is not None
        assert self._table is not None
        self._newest = newest if self._newest is None else max(self._newest, newest)  # type: ignore[operator]
        silent = (pl.col("c_ts") < pl.lit(self._newest) - pl.duration(seconds=self.pid_gap)) & ~pl.col("c_retired")
        retired = self._table.filter(silent.fill_null(False))["pid"]
        if retired.len():
            self._table = self._table.with_columns(c_retired=pl.col("c_retired") | silent.fill_null(False))
        return retired
