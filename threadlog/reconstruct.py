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

`Reconstructor` is fed the records a few chunks at a time, in order. It answers each
feed's per-record columns at once and hands over each thread and iteration as soon as it
is over, so memory holds one feed plus state per pid, per key and per open thread and
iteration, however long the log. Within a feed everything is polars expressions, mostly
shifts and restarting sums over the records in key order (`threadlog.keyed`); a key seen
before enters the feed as a "carried" row that holds its state (`KeyState`), so the same
expressions continue it. The state is kept by what owns it, each part in its own module
with its schema beside it: `Processes` (per pid), `KeyState` (per key), `OpenThreads`,
`OpenIterations`, `WorkloadNumbering` and, in logs without idents, `WindowAttribution`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from threadlog.key_state import KeyState
from threadlog.keyed import first_of, key_order, rows, seconds, thread_uid, within
from threadlog.markers import END, START
from threadlog.open_iterations import OpenIterations
from threadlog.open_threads import OpenThreads
from threadlog.processes import Processes
from threadlog.summary import IterationCounts, RecycledIdents, ThreadFigures
from threadlog.window import WindowAttribution
from threadlog.workload_numbering import WorkloadNumbering

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
        self._processes = Processes(self.opts.pid_gap)
        self._keys = KeyState()
        self._threads = OpenThreads(self._emit_threads)
        self._iterations = OpenIterations(self._emit_iterations, has_ident=has_ident)
        self._window = WindowAttribution()  # without idents
        self._workloads = WorkloadNumbering()
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
        ends = rows(
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
            keyed = self._window.attribute(keyed)
        self._open_iterations(keyed)
        named = keyed.select("start_row").join(
            self._iterations.names(), on="start_row", how="left", maintain_order="left"
        )
        keyed = keyed.hstack(named.drop("start_row"))
        self._threads.add(keyed, self._keys.current_threads())
        self._count_iterations(keyed, ends)
        self._retire_silent_processes(ev["ts"].max())
        # the ids are formatted off the reconstructor's thread, with the records' order
        out = keyed.lazy().with_columns(thread_uid()).select("row", *RECORD_SCHEMA).sort("row").drop("row")
        return out.cast(RECORD_SCHEMA)  # type: ignore[arg-type]

    def finish(self) -> ThreadFigures:
        """Emit the threads and iterations still open; the summary's figures."""
        self._threads.close()
        self._iterations.close()
        self._keys = KeyState()  # the state is no longer needed
        return self._tally.summary()

    # -- threads -------------------------------------------------------------------------

    def _split_lifetimes(self, ev: pl.DataFrame) -> pl.DataFrame:
        """The chunk's records in key order, with ``reason, generation, tid`` and, with
        idents, ``start_row, attribution``."""
        frame = pl.concat([self._keys.carried_rows(ev), ev], how="diagonal_relaxed", rechunk=True)
        frame = key_order(frame).with_columns(
            pl.col("carried").fill_null(False), first=first_of("pid", "ident_id", "inst")
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
            k_generation=within(
                first_of("pid", "ident_id"),
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
        return frame.drop(*KeyState.STATE.keys() - {"k_generation", "k_tid"}, "carried", "first", "end_value")

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

    def _open_iterations(self, keyed: pl.DataFrame) -> None:
        """Open an iteration for each START of the chunk, with its workload ordinal."""
        starts = rows(
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
            thread_uid(),
        ).sort("start_row")
        self._iterations.open(starts.with_columns(workload=self._workloads.number(keyed, starts)))

    def _count_iterations(self, keyed: pl.DataFrame, ends: pl.DataFrame) -> None:
        """Add the chunk's records to their iterations; those over are handed on."""
        # open: with idents, those its key's block still holds; without, those with no END yet
        still = self._keys.open_iterations() if self.has_ident else self._window.open_iterations()
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
            duration_s=seconds(pl.col("end_ts") - pl.col("start_ts")).round(6),
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
        silence = seconds(pl.col("ts") - prev("ts"))
        rules.append(("time_gap", ~main & ~pl.col("k_markers") & (silence > gap)))
    # the rules after iteration_start compare with the record before: on a key's first, none holds
    return [*rules, ("first", first)]


def _attribute_by_thread(frame: pl.DataFrame) -> pl.DataFrame:
    """Records between a START and its END on the same logical thread belong to it.

    `frame` is in key order, so each logical thread's records are contiguous: a block starts
    at a new thread or at a START, and a START's block is its iteration up to its first END.
    A carried row continues its key's block.
    """
    carried_row = pl.col("carried")
    is_start = pl.col("mark") == START
    is_end = (pl.col("mark") == END).cast(pl.Int64)
    block = first_of("k_tid") | is_start
    frame = frame.with_columns(
        k_block_start=pl.when(carried_row).then(pl.col("k_block_start")).when(block).then(is_start).forward_fill(),
        k_block_row=pl.when(carried_row).then(pl.col("k_block_row")).when(block).then(pl.col("row")).forward_fill(),
        end_value=pl.when(carried_row).then(pl.col("k_block_ends")).otherwise(is_end),
    ).with_columns(k_block_ends=within(block, pl.col("end_value")))
    in_iter = pl.col("k_block_start") & (pl.col("k_block_ends") - pl.col("end_value") == 0)
    return frame.with_columns(
        start_row=pl.when(in_iter).then(pl.col("k_block_row")),
        attribution=pl.when(in_iter).then(pl.lit("thread")),
    )


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

    def summary(self) -> ThreadFigures:
        return ThreadFigures(
            logical_threads=self.logical_threads,
            recycled_idents=RecycledIdents(count=self.recycled, most_generations=self.most_generations),
            tasks=len(self.tasks),
            workloads=len(self.workloads),
            iterations=IterationCounts(total=sum(self.by_status.values()), **self.by_status),
        )
