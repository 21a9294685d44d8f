"""Records become logical threads and iterations, chunk by chunk.

Python recycles a thread's ident the moment the thread exits, and forked workers hand out
the same idents, so ``(pid, ident)`` names many threads. Each ``(pid, ident)`` key is cut
into generations, one per real thread, by the evidence a log holds (in this order):

* ``pid_reuse``: a new process under an old pid. Rally and oslo processes announce
  themselves (``Starting a worker.``, ``Logging enabled!``, ...), the main thread's ident
  changes, or the pid was silent for longer than ``pid_gap``.
* ``iteration_start``: Rally runs each iteration in a new thread, so ``ITER: n START`` on a
  key begins a new thread (and leaves an unclosed previous iteration ``unfinished``) ...
* ``previous_ended``: ... and the record after its ``END`` belongs to the next thread.
  Not on a process's main thread: the serial runner runs every iteration there.
* ``name_change``: ``%(threadName)s`` differs from the key's previous record.
* ``workload_start`` / ``hook_run``: helper threads (the hook event consumer, hook actions)
  come and go with workloads and hook triggers; in c07 of the Rally corpus these reuse
  idents with no marker between them.
* ``time_gap``: on keys without markers, silence longer than ``gap`` seconds. By default
  only in logs without iteration markers (a scan of the raw bytes before parsing, stopping
  at the first marker, tells; failing that, the first chunks fed): in a Rally log the
  markers and the workload and hook evidence already cut every thread, and a helper thread
  may wait for seconds (c07's hook event consumer does) without being a new thread.
* ``first``: otherwise, the key's first record in its process.

`Reconstructor` is fed the records a chunk at a time, in order. It answers each chunk's
per-record columns at once and hands over each thread and iteration as soon as it is
over, so memory holds one chunk plus state per pid, per key and per open thread and
iteration, however long the log. Within a chunk everything is polars expressions, mostly
shifts and restarting sums over the records sorted by key; a key seen before enters the
chunk as a "carried" row that holds its state (see `_Keys`), so the same
expressions continue it. The state is kept by what owns it, each part with its schema:
`_Processes` (per pid), `_Keys` (per key), `_OpenThreads`, `_OpenIterations` and
`_WorkloadNumbering`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from threadlog.markers import END, START
from threadlog.reader import own_strings

__all__ = ["ReconstructOptions", "Reconstructor"]

DEFAULT_GAP = 0.2
DEFAULT_PID_GAP = 3600.0
REASONS = (
    "first",
    "pid_reuse",
    "iteration_start",
    "previous_ended",
    "name_change",
    "workload_start",
    "hook_run",
    "time_gap",
)
RECORD_SCHEMA = {
    "thread_uid": pl.String,
    "task": pl.String,
    "workload": pl.Int64,
    "iteration": pl.Int64,
    "attribution": pl.String,
}
PROC = ["pid", "inst"]
KEY = ["pid", "ident_id"]
# threads (``tid``) and iterations (``start_row``) are named by the row they begin at: the
# tables are sorted by these, then the columns are dropped
THREAD_COLUMNS = [
    "tid",
    "thread_uid",
    "source",
    "pid",
    "thread",
    "thread_name",
    "generation",
    "reason",
    "first_ts",
    "last_ts",
    "first_line",
    "last_line",
    "records",
    "task",
    "workload",
    "iteration",
]
ITERATION_COLUMNS = [
    "start_row",
    "task",
    "workload",
    "iteration",
    "status",
    "error_type",
    "error",
    "start_ts",
    "end_ts",
    "duration_s",
    "pid",
    "thread",
    "thread_uid",
    "records",
    "first_line",
    "last_line",
    "source",
]


@dataclass
class ReconstructOptions:
    """Thresholds of the time rules, in seconds.

    `gap` None means automatic: `DEFAULT_GAP` in logs without iteration markers, else off.
    `pid_gap` None turns the pid-silence rule off.
    """

    gap: float | None = None
    pid_gap: float | None = DEFAULT_PID_GAP


def _seconds(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_microseconds() / 1e6


def _first_of(*cols: str) -> pl.Expr:
    """True on the first row of each run of equal `cols` (rows in key order)."""
    same = pl.lit(True)
    for c in cols:
        same = same & pl.col(c).eq_missing(pl.col(c).shift(1))
    return (pl.int_range(pl.len()) == 0) | ~same


def _within(first: pl.Expr, value: pl.Expr) -> pl.Expr:
    """A running cumulative sum of `value` that restarts where `first` is true."""
    total = value.cum_sum()
    return total - pl.when(first).then(total - value).forward_fill()


def _key_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each key's rows together, in their order in `frame` (keys in the order
    they first appear): the rows' positions grouped per key, then gathered; a third of the
    cost of sorting every column on three keys."""
    order = frame.select(KEY).with_row_index("_at").group_by(KEY, maintain_order=True).agg("_at")
    return frame[order["_at"].explode()]


def _rows(frame: pl.DataFrame, where: pl.Expr, *columns: str | pl.Expr) -> pl.DataFrame:
    """`columns` of the rows of `frame` `where` holds (copying only those columns)."""
    return frame.lazy().filter(where).select(*columns).collect()


def _upsert(table: pl.DataFrame, rows: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """`table` with `rows` replacing the rows of the same `on` values."""
    kept = table.join(rows.select(on), on=on, how="anti", nulls_equal=True)
    return pl.concat([kept, own_strings(rows.select(table.columns))], how="vertical_relaxed")


# a number per ident for sorting and grouping: the ident itself, or the name's hash
IDENT_ID = pl.coalesce(
    pl.col("thread"),
    pl.when(pl.col("thread_name").is_not_null()).then(
        pl.col("thread_name").hash().cast(pl.Int64, wrap_numerical=True)  # hash(null) is not null
    ),
).alias("ident_id")

Emit = Callable[[str, pl.DataFrame], None]


class Reconstructor:
    """Logical threads and iterations of a log fed to it chunk by chunk, in record order.

    `feed` takes a chunk's key and evidence columns (``source, line, pid, thread,
    thread_name, ts`` and those of `threadlog.markers`) and returns, lazily, its records'
    ``thread_uid, task, workload, iteration, attribution``. Each thread and iteration, once
    over, goes to `emit` as a row of ``"threads"`` (`THREAD_COLUMNS`) or ``"iterations"``
    (`ITERATION_COLUMNS`); `finish` emits those still open and returns the summary.
    `has_ident`: the format names threads (ident or name); without, records are given to
    iterations by the window rule.
    """

    def __init__(
        self, opts: ReconstructOptions | None, *, has_ident: bool, emit: Emit, log_has_markers: bool | None = None
    ) -> None:
        self.opts = opts or ReconstructOptions()
        self.has_ident = has_ident
        self.log_has_markers = log_has_markers  # None: unknown, decide on the first chunk
        self.emit = emit
        self._gap: float | None = None
        self._rows = 0  # records seen: the next record's row number
        self._processes = _Processes(self.opts.pid_gap)
        self._keys = _Keys()
        self._threads = _OpenThreads(self._emit_threads)
        self._iterations = _OpenIterations(self._emit_iterations, has_ident=has_ident)
        self._open = pl.DataFrame(
            schema={"pid": pl.Int64, "inst": pl.Int32, "task": pl.String, "iteration": pl.Int64, "start_row": pl.Int64}
        )  # without idents: each process's open iterations
        self._workloads = _WorkloadNumbering()
        self._tally = _Tally()

    def feed(self, ev: pl.DataFrame) -> pl.LazyFrame:
        """This chunk's per-record columns (`RECORD_SCHEMA`), in its record order.

        Lazy: putting the records back in record order needs no state, so the caller
        collects them off the reconstructor's thread."""
        if self._rows == 0:
            self._gap = self.opts.gap
            markers = self.log_has_markers or bool((ev["mark"] > 0).any())
            if self._gap is None and not markers:
                self._gap = DEFAULT_GAP
        ev = ev.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row") + self._rows, IDENT_ID)
        self._rows += ev.height
        # what an END says is looked up by row when its iteration is counted, not sorted along
        ends = _rows(
            ev,
            pl.col("mark") == END,
            pl.col("row").alias("end_row"),
            pl.col("line").alias("new_end_line"),
            pl.col("ts").alias("new_end_ts"),
            pl.col("m_status").alias("new_m_status"),
            pl.col("m_error_type").alias("new_error_type"),
            pl.col("m_error").alias("new_error"),
        )
        ev = self._processes.split(ev).drop("m_status", "m_error_type", "m_error", "process_start", "finished_workload")
        keyed = self._split_lifetimes(ev)
        if not self.has_ident:
            keyed = self._attribute_by_window(keyed)
        self._open_iterations(keyed)
        named = keyed.select("start_row").join(
            self._iterations.names(), on="start_row", how="left", maintain_order="left"
        )
        keyed = keyed.hstack(named.drop("start_row"))
        self._threads.add(keyed, self._keys.current_threads())
        self._count_iterations(keyed, ends)
        self._retire_silent_processes(ev["ts"].max())
        # the ids are formatted off the reconstructor's thread, with the records' order
        out = keyed.lazy().with_columns(_thread_uid()).select("row", *RECORD_SCHEMA).sort("row").drop("row")
        return out.cast(RECORD_SCHEMA)  # type: ignore[arg-type]

    def finish(self) -> dict[str, object]:
        """Emit the threads and iterations still open; the summary's figures."""
        self._threads.close()
        self._iterations.close()
        self._keys = _Keys()  # the state is no longer needed
        return self._tally.summary()

    # -- threads -------------------------------------------------------------------------

    def _split_lifetimes(self, ev: pl.DataFrame) -> pl.DataFrame:
        """The chunk's records in key order, with ``reason, generation, tid`` and, with
        idents, ``start_row, attribution``."""
        frame = pl.concat([self._keys.carried_rows(ev), ev], how="diagonal_relaxed", rechunk=True)
        frame = _key_order(frame).with_columns(
            pl.col("carried").fill_null(False), first=_first_of("pid", "ident_id", "inst")
        )
        carried_row, first = pl.col("carried"), pl.col("first")
        is_start = pl.col("mark") == START
        is_end = pl.col("mark") == END

        def so_far(flag: pl.Expr, state: str) -> pl.Expr:
            """`flag`'s latest value on this key, this record included (a carried row holds it)."""
            return (
                pl.when(carried_row)
                .then(pl.col(state))
                .when(flag.is_not_null())
                .then(flag)
                .when(first)
                .then(False)
                .forward_fill()
            )

        frame = frame.with_columns(
            k_open=so_far(pl.when(is_start).then(True).when(is_end).then(False), "k_open"),
            k_trigger=so_far(pl.when(pl.col("hook_trigger")).then(True), "k_trigger"),
            # only the time-gap rule asks whether the key has had markers
            k_markers=((pl.col("mark") > 0) | pl.col("k_markers").fill_null(False)).any().over(first.cum_sum())
            if self._gap is not None
            else pl.lit(False),
        )
        reason = pl.when(carried_row).then(None)  # a carried row is the key's past, not a record
        for name, cond in _split_rules(self._gap):
            reason = reason.when(cond.fill_null(False)).then(pl.lit(name))
        frame = frame.with_columns(reason=reason.otherwise(None).cast(pl.Enum(REASONS)))
        new_thread = pl.col("reason").is_not_null()
        frame = frame.with_columns(
            k_generation=_within(
                _first_of("pid", "ident_id"),
                pl.when(carried_row).then(pl.col("k_generation")).otherwise(new_thread.cast(pl.Int64)),
            ),
            # a thread is named by the row it begins at, so that the threads table sorts by it
            k_tid=pl.when(carried_row).then(pl.col("k_tid")).when(new_thread).then(pl.col("row")).forward_fill(),
        )
        frame = _attribute_by_thread(frame)
        self._keys.keep_last(frame)
        frame = frame.filter(~carried_row).rename({"k_generation": "generation", "k_tid": "tid"})
        if not self.has_ident:
            frame = frame.drop("start_row", "attribution")
        return frame.drop(*_Keys.STATE.keys() - {"k_generation", "k_tid"}, "carried", "first", "end_value")

    def _retire_silent_processes(self, newest: object) -> None:
        """Close the threads of processes silent for longer than ``pid_gap``.

        Such a pid, if it logs again, is a new process (the ``pid_reuse`` rule), so its open
        threads are over. Emitting them keeps memory from growing with every process a long
        log has seen; the pid's next record starts a new process instance, as the rule says.
        """
        if self.opts.pid_gap is None or newest is None or not self._keys.started:
            return
        retired = self._processes.retire_silent(newest)
        if not retired.len():
            return
        over = pl.col("pid").is_in(retired.implode())
        self._threads.close(over)
        self._keys.retire(over)  # iterations left open on them are unfinished

    def _emit_threads(self, threads: pl.DataFrame) -> None:
        # the iteration a thread ran, when it ran exactly one
        one = pl.col("min_start") == pl.col("max_start")
        done = threads.with_columns(
            pl.when(one).then(pl.col(c)).alias(c) for c in ("task", "workload", "iteration")
        ).select(THREAD_COLUMNS)
        self._tally.threads(done)
        self.emit("threads", done)

    # -- iterations ----------------------------------------------------------------------

    def _attribute_by_window(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """Without idents: a record belongs to the only iteration open in its process, if any.

        START/END (and ``Iteration N raised``) records name their iteration: ``marker``. With
        several iterations open the record is ``ambiguous``. The sum of the open iterations'
        ids, kept next to their count, names the open one when the count is 1. Iterations
        still open at the chunk's end are carried into the next. (Without idents a process's
        records form one key, so key order keeps each process's records in record order.)
        """
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
        ev = ev.with_columns(
            n_open=pl.col("n0").fill_null(0)
            + (opened.cast(pl.Int64).cum_sum() - (closed.cast(pl.Int64).cum_sum() - closed.cast(pl.Int64))).over(PROC),
            id_open=pl.col("id0").fill_null(0) + (id_in.cum_sum() - (id_out.cum_sum() - id_out)).over(PROC),
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

    def _open_iterations(self, keyed: pl.DataFrame) -> None:
        """Open an iteration for each START of the chunk, with its workload ordinal."""
        starts = _rows(
            keyed,
            pl.col("mark") == START,
            pl.col("row").alias("start_row"),
            pl.col("m_task").cast(pl.String).alias("task"),
            pl.col("m_iteration").alias("iteration"),
            pl.col("source").cast(pl.String),
            pl.col("line").alias("first_line"),
            pl.col("ts").alias("start_ts"),
            "pid",
            "thread",
            _thread_uid(),
        ).sort("start_row")
        self._iterations.open(starts.with_columns(workload=self._workloads.number(keyed, starts)))

    def _count_iterations(self, keyed: pl.DataFrame, ends: pl.DataFrame) -> None:
        """Add the chunk's records to their iterations; those over are handed on."""
        # open: with idents, those its key's block still holds; without, those with no END yet
        still = self._keys.open_iterations() if self.has_ident else self._open["start_row"]
        self._iterations.add(keyed, ends, still)

    def _emit_iterations(self, iterations: pl.DataFrame) -> None:
        # an END without a status (a user's marker may not say) means the unit of work ended well
        status = (
            pl.when(pl.col("end_line").is_null())
            .then(pl.lit("unfinished"))
            .when(
                pl.col("m_status").is_null() | pl.col("m_status").str.to_lowercase().is_in(["ok", "success", "passed"])
            )
            .then(pl.lit("ok"))
            .otherwise(pl.lit("error"))
        )
        done = iterations.with_columns(
            status=status,
            # rounded to the µs the times have: polars may divide by multiplying by 1e-6
            duration_s=_seconds(pl.col("end_ts") - pl.col("start_ts")).round(6),
            records=pl.when(pl.col("records") > 0).then(pl.col("records")).otherwise(1),
            last_line=pl.coalesce("end_line", "max_line"),
        ).select(ITERATION_COLUMNS)
        self._tally.iterations(done)
        self.emit("iterations", done)


def _split_rules(gap: float | None) -> list[tuple[str, pl.Expr]]:
    """Why a record begins a new thread on its key: (reason, condition), in the order of the
    module docstring; the first that holds names it, and a record none holds for continues
    its key's thread. Read over a chunk in key order, with the columns `_split_lifetimes` adds
    (``first``: the key's first record in its process instance; ``k_*``: the key's state).
    """
    first, main = pl.col("first"), pl.col("main")

    def prev(c: str) -> pl.Expr:  # the key's record before (null on its first)
        return pl.when(~first).then(pl.col(c).shift(1))

    outside = ~main & ~prev("k_open").fill_null(False)  # a helper thread, not in an iteration
    rules = [
        ("pid_reuse", first & (pl.col("inst") > 1)),
        ("iteration_start", (pl.col("mark") == START) & (first | ~main)),
        ("previous_ended", ~main & (prev("mark") == END)),
        ("name_change", pl.col("thread_name") != prev("thread_name")),
        ("workload_start", outside & (pl.col("wl_epoch") != prev("wl_epoch"))),
        (
            "hook_run",
            outside
            & (pl.col("hook_epoch") != prev("hook_epoch"))
            & ~prev("k_trigger").fill_null(False)
            & ~pl.col("hook_trigger"),
        ),
    ]
    if gap is not None:
        silence = _seconds(pl.col("ts") - prev("ts"))
        rules.append(("time_gap", ~main & ~pl.col("k_markers") & (silence > gap)))
    # the rules after iteration_start compare with the record before: on a key's first, none holds
    return [*rules, ("first", first)]


def _workload_boundary(main: pl.Expr | None = None) -> pl.Expr:
    """A main-thread record (`main`, by default the ``main`` column) that begins or ends a workload."""
    return (pl.col("running_workload") | pl.col("finished_workload")) & (pl.col("main") if main is None else main)


def _thread_uid(name: str = "thread_name") -> pl.Expr:
    """``pid/ident#generation``; without an ident, ``pid/-#process instance`` (`name`: the
    column of the thread's name)."""
    return pl.format(
        "{}/{}#{}",
        pl.col("pid").cast(pl.String).fill_null("-"),
        pl.coalesce(pl.col("thread").cast(pl.String), pl.col(name), pl.lit("-")),
        pl.when(pl.col("ident_id").is_null()).then(pl.col("inst")).otherwise(pl.col("generation")),
    ).alias("thread_uid")


class _OpenIterations:
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
        members = _rows(keyed, pl.col("start_row").is_not_null(), "start_row", "line", "row", "mark")
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


class _OpenThreads:
    """The threads whose key has not moved on: their figures so far (`THREAD_COLUMNS` and
    ``min_start, max_start``, the range of iterations they ran), merged with each chunk's
    records and handed to `done` once over."""

    def __init__(self, done: Callable[[pl.DataFrame], None]) -> None:
        self._open: pl.DataFrame | None = None
        self._done = done

    def add(self, keyed: pl.DataFrame, current: pl.Series) -> None:
        """Add the chunk's records (`keyed`, in key order) to their threads; hand over the
        threads that are over: those not among `current`, each key's thread now."""
        starts = _first_of("tid")
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
        part = part.with_columns(_thread_uid("first_name"), pl.col("reason").cast(pl.String)).drop(
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


class _Processes:
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
            span = _seconds(pl.col("ts_max") - pl.min_horizontal("ts_min", "c_ts"))
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
            wl_epoch=pl.col("wl_seen") - _workload_boundary().cast(pl.Int64),
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
        self._table = _upsert(self._table, last, ["pid"])
        return ev.drop("_pid", "main_ident", "wl_seen", "hooks_seen")

    def _process_values(self, at: pl.DataFrame, is_main_name: pl.Expr, main_evidence: pl.Expr) -> pl.DataFrame:
        """The per-pid values at the records where they may change (`at`, in record order,
        with each pid's first record and its carried ``c_*`` values)."""
        at_first = pl.int_range(pl.len()).over("pid") == 0
        # a retired pid (see `_retire_silent_processes`) names a new process when it is back
        new_inst = (at_first & (pl.col("c_inst").is_null() | pl.col("c_retired"))) | pl.col("process_start")
        if self.pid_gap is not None:
            prev_ts = pl.when(at_first).then(pl.col("c_ts")).otherwise(pl.col("ts").shift(1).over("pid"))
            new_inst = new_inst | (_seconds(pl.col("ts") - prev_ts) > self.pid_gap).fill_null(False)
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
            wl_seen=running("c_wl", _workload_boundary(main.fill_null(False))),
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


class _Keys:
    """What each ``(pid, ident)`` key carries from one chunk into the next: its last record
    (``row, inst, mark, ts, thread_name``, the epochs it was in) and the running values
    ``k_*`` the rules read at that record. In the next chunk it enters as a row ahead of the
    key's records, flagged ``carried``, so shifts and running sums continue through it."""

    STATE: ClassVar[dict[str, pl.DataType]] = {
        "k_open": pl.Boolean,  # an iteration is open on the key
        "k_trigger": pl.Boolean,  # the key triggered a hook
        "k_markers": pl.Boolean,  # the key (this process) has had markers
        "k_generation": pl.Int64,
        "k_tid": pl.Int64,  # its current thread
        "k_block_start": pl.Boolean,  # the key's current block began with a START
        "k_block_row": pl.Int64,  # ... at this row
        "k_block_ends": pl.Int64,  # ENDs in the block so far
    }
    LAST: ClassVar[list[str]] = ["row", "inst", "mark", "ts", "thread_name", "wl_epoch", "hook_epoch"]
    # a key of a retired process keeps only the generation it reached
    RETIRED: ClassVar[dict[str, pl.DataType]] = {"pid": pl.Int64, "ident_id": pl.Int64, "k_generation": pl.Int64}

    def __init__(self) -> None:
        self._table: pl.DataFrame | None = None  # per key: KEY, LAST, STATE
        self._retired = pl.DataFrame(schema=self.RETIRED)

    @property
    def started(self) -> bool:
        return self._table is not None

    def carried_rows(self, ev: pl.DataFrame) -> pl.DataFrame:
        """The rows that enter the chunk `ev` ahead of its records: one per key of `ev` seen
        before."""
        if self._table is None:
            types = {**ev.schema, "inst": pl.Int32, "wl_epoch": pl.Int64, "hook_epoch": pl.Int64}
            self._table = pl.DataFrame(schema={**{c: types[c] for c in (*KEY, *self.LAST)}, **self.STATE})
        present = ev.select(KEY).unique()
        carried = self._table.join(present, on=KEY, how="semi", nulls_equal=True)
        back = self._retired.join(present, on=KEY, how="semi", nulls_equal=True)
        if back.height:  # keys of retired processes: a new process, its generations count on
            self._retired = self._retired.join(present, on=KEY, how="anti", nulls_equal=True)
            carried = pl.concat([carried, self._back(back, self._table.schema)], how="vertical_relaxed")
        return carried.with_columns(carried=pl.lit(True), main=pl.lit(False), hook_trigger=pl.lit(False))

    @staticmethod
    def _back(keys: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
        """Carried rows for keys of retired processes: only the generation counts on (the
        next record is a new process's, so every other value starts afresh)."""
        defaults = {
            "row": -1,
            "inst": 0,  # no process instance: the next record is first on its key
            "mark": 0,
            "wl_epoch": 0,
            "hook_epoch": 0,
            "k_open": False,
            "k_trigger": False,
            "k_markers": False,
            "k_tid": -1,
            "k_block_start": False,
            "k_block_ends": 0,
        }
        filled = keys.with_columns(pl.lit(v, dtype=schema[c]).alias(c) for c, v in defaults.items())
        missing = [pl.lit(None, dtype=schema[c]).alias(c) for c in schema if c not in filled.columns]
        return filled.with_columns(missing).select(schema.names())

    def keep_last(self, frame: pl.DataFrame) -> None:
        """Keep each key's last row of `frame` (the chunk in key order, with the rules' values)."""
        assert self._table is not None
        at_end = pl.int_range(pl.len()) == pl.len() - 1
        last = at_end | pl.any_horizontal(pl.col(c).ne_missing(pl.col(c).shift(-1)) for c in KEY)
        self._table = _upsert(self._table, frame.select(*KEY, *self.LAST, *self.STATE).filter(last), KEY)

    def current_threads(self) -> pl.Series:
        """Each key's current thread (``tid``)."""
        assert self._table is not None
        return self._table["k_tid"]

    def open_iterations(self) -> pl.Series:
        """The iterations (``start_row``) still open on their key."""
        assert self._table is not None
        return self._table.filter(pl.col("k_block_start") & (pl.col("k_block_ends") == 0))["k_block_row"]

    def retire(self, over: pl.Expr) -> None:
        """Shrink the keys `over` holds for to the generation they reached."""
        assert self._table is not None
        self._retired = pl.concat([self._retired, self._table.filter(over).select(*KEY, "k_generation")])
        self._table = self._table.filter(~over)


def _attribute_by_thread(frame: pl.DataFrame) -> pl.DataFrame:
    """Records between a START and its END on the same logical thread belong to it.

    `frame` is in key order, so each logical thread's records are contiguous: a block starts
    at a new thread or at a START, and a START's block is its iteration up to its first END.
    A carried row continues its key's block.
    """
    carried_row = pl.col("carried")
    is_start = pl.col("mark") == START
    is_end = (pl.col("mark") == END).cast(pl.Int64)
    block = _first_of("k_tid") | is_start
    frame = frame.with_columns(
        k_block_start=pl.when(carried_row).then(pl.col("k_block_start")).when(block).then(is_start).forward_fill(),
        k_block_row=pl.when(carried_row).then(pl.col("k_block_row")).when(block).then(pl.col("row")).forward_fill(),
        end_value=pl.when(carried_row).then(pl.col("k_block_ends")).otherwise(is_end),
    ).with_columns(k_block_ends=_within(block, pl.col("end_value")))
    in_iter = pl.col("k_block_start") & (pl.col("k_block_ends") - pl.col("end_value") == 0)
    return frame.with_columns(
        start_row=pl.when(in_iter).then(pl.col("k_block_row")),
        attribution=pl.when(in_iter).then(pl.lit("thread")),
    )


class _WorkloadNumbering:
    """The workload of its task each START belongs to, counted across chunks.

    Iteration numbers restart in every workload: the task process's ``Running workload``
    messages count the workloads of its current task; without them, the k-th START of
    iteration n in a task is taken to belong to its k-th workload.
    """

    # per process instance: the task its main thread last named, and where
    MENTIONS: ClassVar[dict[str, pl.DataType]] = {"pid": pl.Int64, "inst": pl.Int32, "row": pl.Int64, "task": pl.String}
    # per task: its latest ``Running workload`` message, and that workload's ordinal
    EVENTS: ClassVar[dict[str, pl.DataType]] = {"task": pl.String, "wl_row": pl.Int64, "workload": pl.Int64}
    # per (task, iteration), in tasks without such messages: the STARTs seen so far
    REPEATS: ClassVar[dict[str, pl.DataType]] = {"task": pl.String, "iteration": pl.Int64, "seen": pl.Int64}

    def __init__(self) -> None:
        self._mentions = pl.DataFrame(schema=self.MENTIONS)
        self._events = pl.DataFrame(schema=self.EVENTS)
        self._repeats = pl.DataFrame(schema=self.REPEATS)

    def number(self, keyed: pl.DataFrame, starts: pl.DataFrame) -> pl.Series:
        """The workload of each of `starts` (``start_row, task, iteration``, by start_row),
        from the chunk's records (`keyed`)."""
        ev = _rows(
            keyed,
            pl.col("main") & (pl.col("running_workload") | pl.col("task_ref").is_not_null()),
            *PROC,
            "row",
            "mark",
            "running_workload",
            "task_ref",
        ).sort("row")
        # the task a main thread last named before each of its "Running workload" messages
        mentions = ev.filter((pl.col("mark") == 0) & pl.col("task_ref").is_not_null()).select(
            *PROC, "row", pl.col("task_ref").cast(pl.String).alias("task")
        )
        mentions = pl.concat([self._mentions, mentions])
        events = ev.filter(pl.col("running_workload")).select(*PROC, pl.col("row").alias("wl_row"))
        known = self._events  # each task's latest workload before this chunk
        if events.height:
            seen = known.select("task", pl.col("workload").alias("seen"))  # one row per task: its latest
            events = (
                events.join_asof(
                    mentions.sort("row"),
                    left_on="wl_row",
                    right_on="row",
                    by=PROC,
                    strategy="backward",
                    check_sortedness=False,
                )
                .filter(pl.col("task").is_not_null())
                .join(seen, on="task", how="left", maintain_order="left")
                .select(
                    "task",
                    "wl_row",
                    workload=(pl.col("seen").fill_null(0) + pl.int_range(1, pl.len() + 1).over("task")).cast(pl.Int64),
                )
            )
            self._events = own_strings(pl.concat([known, events]).unique("task", keep="last"))
        self._mentions = own_strings(mentions.unique(PROC, keep="last"))
        with_events = pl.concat([known, events]) if events.height else known
        by_events = (
            starts.select("start_row", "task")
            .join_asof(
                with_events.sort("wl_row"),
                left_on="start_row",
                right_on="wl_row",
                by="task",
                strategy="backward",
                check_sortedness=False,
            )
            .filter(pl.col("task").is_in(with_events["task"].unique().implode()))
            .select("start_row", "workload")
        )
        rest = starts.join(by_events, on="start_row", how="anti")
        # the k-th START of iteration n in a task: workload k (counted in key order, no groups)
        by_repeats = (
            rest.select("start_row", "task", "iteration")
            .join(self._repeats, on=["task", "iteration"], how="left", nulls_equal=True)
            .sort("task", "iteration", "start_row")
            .with_columns(
                workload=pl.col("seen").fill_null(0)
                + _within(_first_of("task", "iteration"), pl.col("start_row").is_not_null().cast(pl.Int64))
            )
        )
        counted = by_repeats.select("task", "iteration", pl.col("workload").alias("seen")).unique(
            ["task", "iteration"], keep="last"
        )
        self._repeats = _upsert(self._repeats, counted, ["task", "iteration"])
        workloads = pl.concat([by_events, by_repeats.select("start_row", "workload")]).sort("start_row")
        return workloads["workload"]


class _Tally:
    """The summary's figures, counted as threads and iterations are emitted."""

    def __init__(self) -> None:
        self.logical_threads = 0
        self.recycled = 0
        self.most_generations = 0
        self.tasks: set[str] = set()
        self.workloads: set[tuple[str | None, int | None]] = set()
        self.by_status = {"ok": 0, "error": 0, "unfinished": 0}

    def threads(self, done: pl.DataFrame) -> None:
        # generations count up per (pid, ident): an ident stood for several threads if it has a 2nd
        with_ident = done.filter(pl.col("thread").is_not_null())
        self.logical_threads += done.height
        self.recycled += with_ident.filter(pl.col("generation") == 2).height
        self.most_generations = max(self.most_generations, int(with_ident["generation"].max() or 0))

    def iterations(self, done: pl.DataFrame) -> None:
        self.tasks.update(done["task"].drop_nulls().unique().to_list())
        self.workloads.update(done.select("task", "workload").unique().iter_rows())
        for status, count in done["status"].value_counts().iter_rows():
            self.by_status[status] += count

    def summary(self) -> dict[str, object]:
        return {
            "logical_threads": self.logical_threads,
            "recycled_idents": {"count": self.recycled, "most_generations": self.most_generations},
            "tasks": len(self.tasks),
            "workloads": len(self.workloads),
            "iterations": {"total": sum(self.by_status.values()), **self.by_status},
        }
