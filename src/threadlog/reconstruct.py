"""Records become logical threads and iterations.

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
  only in logs without iteration markers: in a Rally log the markers and the workload and
  hook evidence already cut every thread, and a helper thread may wait for seconds (c07's
  hook event consumer does) without being a new thread.

Everything is polars expressions over the whole table, mostly shifts and restarting sums
over the records sorted by key (see `_in_key_order`); no loops over rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from threadlog.markers import END, START

__all__ = ["ReconstructOptions", "Reconstruction", "reconstruct"]

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


@dataclass
class ReconstructOptions:
    """Thresholds of the time rules, in seconds.

    `gap` None means automatic: `DEFAULT_GAP` in logs without iteration markers, else off.
    `pid_gap` None turns the pid-silence rule off.
    """

    gap: float | None = None
    pid_gap: float | None = DEFAULT_PID_GAP


@dataclass
class Reconstruction:
    """Per-record columns (in record order), and the threads and iterations tables."""

    records: pl.DataFrame
    threads: pl.DataFrame
    iterations: pl.DataFrame
    summary: dict[str, object] = field(default_factory=dict)


def _seconds(expr: pl.Expr) -> pl.Expr:
    return expr.dt.total_microseconds() / 1e6


def split_processes(ev: pl.DataFrame, opts: ReconstructOptions) -> pl.DataFrame:
    """Add ``inst`` (1-based process instance of the pid) and ``main`` (on its main thread)."""
    first_of_pid = pl.int_range(pl.len()).over("pid") == 0
    new_inst = first_of_pid | pl.col("process_start")
    if opts.pid_gap is not None:
        silence = _seconds(pl.col("ts") - pl.col("ts").shift(1).over("pid"))
        new_inst = new_inst | (silence > opts.pid_gap).fill_null(False)
    # a second MainThread with another ident: the pid now names another process
    is_main_name = pl.col("thread_name") == "MainThread"
    prev_main_ident = pl.when(is_main_name).then(pl.col("thread")).forward_fill().shift(1).over("pid")
    new_inst = new_inst | (is_main_name & (pl.col("thread") != prev_main_ident)).fill_null(False)
    ev = ev.with_columns(new_inst.alias("new_inst"))
    ev = ev.with_columns(inst=pl.col("new_inst").cast(pl.Int32).cum_sum().over("pid"))
    main_evidence = pl.col("process_start") | pl.col("main_only") | is_main_name.fill_null(False)
    main_ident = pl.when(main_evidence).then(pl.col("ident_id")).drop_nulls().first().over("pid", "inst")
    # without any ident, all of a process's records share one key: treat it as the main one
    on_main = pl.when(pl.col("ident_id").is_null()).then(True).otherwise(pl.col("ident_id") == main_ident)
    return ev.with_columns(main=on_main.fill_null(False))


def _in_key_order(ev: pl.DataFrame) -> pl.DataFrame:
    """Sort so that each key's records are contiguous and in record order.

    Per-key running values (previous record, open iteration, generation) then become plain
    shifts and cumulative sums with a reset where the key changes, far cheaper than
    window expressions over hundreds of thousands of small groups.
    """
    return ev.sort(["pid", "ident_id", "row"], nulls_last=True)


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


def split_lifetimes(ev: pl.DataFrame, opts: ReconstructOptions) -> pl.DataFrame:
    """``row, generation`` (per pid and ident), ``reason``, ``tid`` (a number per thread) and
    what `attribute_by_thread` needs, in key order (see `_in_key_order`).
    """
    proc = ["pid", "inst"]
    is_start = pl.col("mark") == START
    is_end = pl.col("mark") == END
    wl_boundary = ((pl.col("running_workload") | pl.col("finished_workload")) & pl.col("main")).cast(pl.Int32)
    hook = pl.col("hook_trigger").cast(pl.Int32)
    ev = ev.with_columns(
        wl_epoch=(wl_boundary.cum_sum() - wl_boundary).over(proc),
        hook_epoch=(hook.cum_sum() - hook).over(proc),
    )
    gap = opts.gap
    if gap is None and not bool((ev["mark"] > 0).any()):
        gap = DEFAULT_GAP
    needed = ["row", "pid", "ident_id", "inst", "mark", "ts", "thread_name", "main", "hook_trigger"]
    ev = _in_key_order(ev.select(*needed, "wl_epoch", "hook_epoch"))
    ev = ev.with_columns(first_on_key=_first_of("pid", "ident_id", "inst"))
    first = pl.col("first_on_key")

    def prev(c: str) -> pl.Expr:
        return pl.when(~first).then(pl.col(c).shift(1))

    def before(flag: pl.Expr) -> pl.Expr:
        """Whether `flag`'s latest value on this key, before this record, was true."""
        state = pl.when(flag.is_not_null()).then(flag).when(first).then(False).forward_fill()
        return pl.when(~first).then(state.shift(1)).fill_null(False)

    iteration_open = before(pl.when(is_start).then(True).when(is_end).then(False))
    trigger_key = before(pl.when(pl.col("hook_trigger")).then(True))
    helper = ~pl.col("main") & ~iteration_open
    rules = [
        ("iteration_start", ~pl.col("main") & is_start),
        ("previous_ended", ~pl.col("main") & (prev("mark") == END)),
        ("name_change", pl.col("thread_name") != prev("thread_name")),
        ("workload_start", helper & (pl.col("wl_epoch") != prev("wl_epoch"))),
        (
            "hook_run",
            helper & (pl.col("hook_epoch") != prev("hook_epoch")) & ~trigger_key & ~pl.col("hook_trigger"),
        ),
    ]
    if gap is not None:
        key_id = first.cum_sum()
        has_markers = (pl.col("mark") > 0).any().over(key_id)
        silence = _seconds(pl.col("ts") - prev("ts"))
        rules.append(("time_gap", ~pl.col("main") & ~has_markers & (silence > gap)))
    first_reason = (
        pl.when(pl.col("inst") > 1)
        .then(pl.lit("pid_reuse"))
        .when(is_start)
        .then(pl.lit("iteration_start"))
        .otherwise(pl.lit("first"))
    )
    reason = pl.when(first).then(first_reason)
    for name, cond in rules:
        reason = reason.when(cond.fill_null(False)).then(pl.lit(name))
    ev = ev.with_columns(reason=reason.otherwise(None).cast(pl.Enum(REASONS)))
    new_thread = pl.col("reason").is_not_null().cast(pl.Int64)
    ev = ev.with_columns(
        generation=_within(_first_of("pid", "ident_id"), new_thread),
        tid=new_thread.cum_sum(),
    )
    return ev.select("row", "mark", "reason", "generation", "tid")


def _workloads(ev: pl.DataFrame, starts: pl.DataFrame) -> pl.DataFrame:
    """Workload ordinal of each START (``start_row`` -> ``workload``).

    Iteration numbers restart in every workload: the task process's ``Running workload``
    messages count the workloads of its current task; without them, the k-th START of
    iteration n in a task is taken to belong to its k-th workload.
    """
    proc = ["pid", "inst"]
    # the task a main thread last named before each of its "Running workload" messages
    mentions = (
        ev.lazy()
        .filter(pl.col("main") & (pl.col("mark") == 0) & pl.col("task_ref").is_not_null())
        .select(*proc, "row", pl.col("task_ref").cast(pl.String).alias("task"))
        .collect()
    )
    events = (
        ev.lazy()
        .filter(pl.col("running_workload") & pl.col("main"))
        .select(*proc, pl.col("row").alias("wl_row"))
        .collect()
        .join_asof(mentions, left_on="wl_row", right_on="row", by=proc, strategy="backward", check_sortedness=False)
        .filter(pl.col("task").is_not_null())
        .select("task", "wl_row")
        .with_columns(workload=pl.int_range(1, pl.len() + 1).over("task").cast(pl.Int64))
        .sort("wl_row")
    )
    starts = starts.select("start_row", "task", "iteration").sort("start_row")
    if events.height:
        by_events = starts.join_asof(
            events, left_on="start_row", right_on="wl_row", by="task", strategy="backward", check_sortedness=False
        ).filter(pl.col("task").is_in(events["task"].unique().implode()))
    else:
        by_events = starts.clear().with_columns(workload=pl.lit(None, dtype=pl.Int64))
    rest = starts.join(by_events, on="start_row", how="anti")
    # the k-th START of iteration n in a task: workload k (counted in key order, no groups)
    by_repeats = rest.sort("task", "iteration", "start_row").with_columns(
        workload=_within(_first_of("task", "iteration"), pl.col("start_row").is_not_null().cast(pl.Int64))
    )
    return pl.concat([by_events.select("start_row", "workload"), by_repeats.select("start_row", "workload")])


def attribute_by_thread(ev: pl.DataFrame) -> pl.DataFrame:
    """Records between a START and its END on the same logical thread belong to it.

    `ev` is in key order, so each logical thread's records are contiguous: a block starts at
    a new thread or at a START, and a START's block is its iteration up to its first END.
    """
    is_start = pl.col("mark") == START
    is_end = (pl.col("mark") == END).cast(pl.Int64)
    block = _first_of("tid") | is_start
    ends_before = _within(block, is_end) - is_end
    in_iter = pl.when(block).then(is_start).forward_fill() & (ends_before == 0)
    return ev.with_columns(
        start_row=pl.when(in_iter).then(pl.when(block).then(pl.col("row")).forward_fill()),
        attribution=pl.when(in_iter).then(pl.lit("thread")).cast(pl.Categorical),
    )


def attribute_by_window(ev: pl.DataFrame) -> pl.DataFrame:
    """Without idents: a record belongs to the only iteration open in its process, if any.

    START/END (and ``Iteration N raised``) records name their iteration: ``marker``. With
    several iterations open the record is ``ambiguous``. The sum of the open iterations'
    ids, kept next to their count, names the open one when the count is 1.
    """
    proc = ["pid", "inst"]
    starts = ev.filter(pl.col("mark") == START).select(
        *proc,
        pl.col("m_task").alias("task"),
        pl.col("m_iteration").alias("iteration"),
        pl.col("row").alias("start_row"),
        pl.col("row").alias("on"),
    )
    ends = (
        ev.filter(pl.col("mark") == END)
        .select(
            *proc,
            pl.col("m_task").alias("task"),
            pl.col("m_iteration").alias("iteration"),
            pl.col("row").alias("end_row"),
        )
        .sort("end_row")
        .join_asof(
            starts.sort("on"),
            left_on="end_row",
            right_on="on",
            by=[*proc, "task", "iteration"],
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("start_row").is_not_null())
        .unique("start_row", keep="first", maintain_order=True)
        .select("end_row", "start_row")
    )
    ev = ev.join(
        ends.rename({"start_row": "end_of"}), left_on="row", right_on="end_row", how="left", maintain_order="left"
    )
    opened = pl.col("mark") == START
    closed = pl.col("end_of").is_not_null()
    id_in = pl.when(opened).then(pl.col("row")).otherwise(0)
    id_out = pl.when(closed).then(pl.col("end_of")).otherwise(0)
    ev = ev.with_columns(
        n_open=(opened.cast(pl.Int64).cum_sum() - (closed.cast(pl.Int64).cum_sum() - closed.cast(pl.Int64))).over(proc),
        id_open=(id_in.cum_sum() - (id_out.cum_sum() - id_out)).over(proc),
    )
    # "Iteration N raised ...": the open iteration of that number in the process
    raised = (
        ev.filter(pl.col("raised_iteration").is_not_null())
        .select(*proc, pl.col("raised_iteration").alias("iteration"), pl.col("row").alias("r_row"))
        .sort("r_row")
        .join_asof(
            starts.sort("on"),
            left_on="r_row",
            right_on="on",
            by=[*proc, "iteration"],
            strategy="backward",
            check_sortedness=False,
        )
        .join(ends, on="start_row", how="left")
        .filter(pl.col("start_row").is_not_null() & (pl.col("end_row").fill_null(2**62) >= pl.col("r_row")))
        .select(pl.col("r_row"), pl.col("start_row").alias("named"))
    )
    ev = ev.join(raised, left_on="row", right_on="r_row", how="left", maintain_order="left")
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
    return ev.with_columns(start_row=start_row, attribution=attribution).drop("end_of", "n_open", "id_open", "named")


def reconstruct(ev: pl.DataFrame, opts: ReconstructOptions | None = None) -> Reconstruction:
    """Logical threads and iterations from the evidence table (one row per record).

    `ev` holds ``source, line, pid, thread, thread_name, ts`` and the evidence columns of
    `threadlog.markers`, in record order. The per-record result is small: ``tid`` (the
    logical thread's number in the threads table), ``start_row`` (the iteration's number in
    the iterations table) and ``attribution``; `record_columns` turns it into names.
    """
    opts = opts or ReconstructOptions()
    has_ident = bool(ev["thread"].is_not_null().any() or ev["thread_name"].is_not_null().any())
    ev = ev.with_row_index("row").with_columns(
        # a number per ident for sorting and grouping: the ident itself, or the name's hash
        ident_id=pl.coalesce(
            pl.col("thread"),
            pl.when(pl.col("thread_name").is_not_null()).then(
                pl.col("thread_name").hash().cast(pl.Int64, wrap_numerical=True)  # hash(null) is not null
            ),
        ),
    )
    ev = split_processes(ev, opts)
    lifetimes = split_lifetimes(ev, opts)
    key_order = lifetimes["row"]
    if has_ident:
        lifetimes = attribute_by_thread(lifetimes).sort("row")
        ev = ev.hstack(lifetimes.drop("row", "mark"))
    else:
        ev = attribute_by_window(ev.hstack(lifetimes.sort("row").drop("row", "mark")))
    threads = _threads(ev, key_order)
    iterations = _iterations(ev, threads, key_order if has_ident else None)
    threads = _name_threads_iteration(threads, iterations)
    records = ev.select("tid", "start_row", pl.col("attribution").cast(pl.Categorical))
    return Reconstruction(records, threads, iterations, _summary(threads, iterations))


def record_columns(result: Reconstruction) -> pl.DataFrame:
    """``thread_uid, task, workload, iteration, attribution`` for each record, in order.

    Looked up by position, not joined: ``tid`` runs 1..n over the threads, and the
    iterations are sorted by ``start_row``.
    """
    by_tid = result.threads.sort("tid")
    starts = result.iterations["start_row"]
    at = starts.search_sorted(result.records["start_row"].fill_null(-1))
    it = result.iterations.select("task", "workload", "iteration")
    picked = it.select(pl.all().gather(at.clip(0, max(it.height - 1, 0)))) if it.height else None
    has_it = result.records["start_row"].is_not_null()
    out = pl.DataFrame({"thread_uid": by_tid["thread_uid"].gather(result.records["tid"] - 1)})
    for name, dtype in (("task", pl.String), ("workload", pl.Int64), ("iteration", pl.Int64)):
        column = picked[name] if picked is not None else pl.Series(name, [None] * has_it.len(), dtype=dtype)
        out = out.with_columns(pl.when(has_it).then(column).otherwise(None).cast(dtype).alias(name))
    return out.with_columns(result.records["attribution"].cast(pl.String).alias("attribution"))


def _iteration_members(ev: pl.DataFrame, key_order: pl.Series | None) -> pl.DataFrame:
    """Per iteration (``start_row``, ascending): its END's line, time and outcome, its
    record count and last line.

    With idents an iteration's records are contiguous in key order (`key_order`), and the
    grouping takes polars' sorted fast path; hashing over a million groups is several times
    slower and grows faster than the log.
    """
    members = ev.select("start_row", "mark", "line", "ts", "m_status", "m_error_type", "m_error")
    if key_order is not None:
        members = members[key_order].filter(pl.col("start_row").is_not_null())
        block = (pl.col("start_row") != pl.col("start_row").shift(1)).fill_null(True).cum_sum()
        grouped = members.with_columns(block.set_sorted().alias("block")).group_by("block", maintain_order=True)
    else:
        grouped = members.filter(pl.col("start_row").is_not_null()).group_by("start_row")
    is_end = pl.col("mark") == END
    return (
        grouped.agg(
            pl.col("start_row").first().alias("start_row") if key_order is not None else pl.len().alias("_n"),
            pl.col("line").filter(is_end).first().alias("end_line"),
            pl.col("ts").filter(is_end).first().alias("end_ts"),
            pl.col("m_status").filter(is_end).first().alias("m_status"),
            pl.col("m_error_type").filter(is_end).first().alias("error_type"),
            pl.col("m_error").filter(is_end).first().alias("error"),
            pl.len().alias("records"),
            pl.col("line").max().alias("max_line"),
        )
        .drop("block", "_n", strict=False)
        .sort("start_row")
    )


def _iterations(ev: pl.DataFrame, threads: pl.DataFrame, key_order: pl.Series | None) -> pl.DataFrame:
    starts = (
        ev.lazy()
        .filter(pl.col("mark") == START)
        .select(
            pl.col("row").alias("start_row"),
            pl.col("m_task").cast(pl.String).alias("task"),
            pl.col("m_iteration").alias("iteration"),
            "source",
            pl.col("line").alias("first_line"),
            pl.col("ts").alias("start_ts"),
            "pid",
            "thread",
            "tid",
        )
        .collect()
    )
    members = _iteration_members(ev, key_order)
    workloads = _workloads(ev, starts).sort("start_row")
    # every START belongs to its own iteration, so the three are aligned row by row
    assert members["start_row"].equals(starts["start_row"])
    assert workloads["start_row"].equals(starts["start_row"])
    uid_by_tid = threads.sort("tid")["thread_uid"]
    # an END without a status (a user's marker may not say) means the unit of work ended well
    status = (
        pl.when(pl.col("end_line").is_null())
        .then(pl.lit("unfinished"))
        .when(pl.col("m_status").is_null() | pl.col("m_status").str.to_lowercase().is_in(["ok", "success", "passed"]))
        .then(pl.lit("ok"))
        .otherwise(pl.lit("error"))
    )
    return (
        starts.hstack(members.drop("start_row"))
        .hstack(workloads.drop("start_row"))
        .with_columns(thread_uid=uid_by_tid.gather(starts["tid"] - 1))
        .select(
            "start_row",
            "task",
            "workload",
            "iteration",
            status.alias("status"),
            "error_type",
            "error",
            "start_ts",
            "end_ts",
            _seconds(pl.col("end_ts") - pl.col("start_ts")).alias("duration_s"),
            "pid",
            "thread",
            "thread_uid",
            pl.col("records").fill_null(1).cast(pl.Int64),
            "first_line",
            pl.coalesce("end_line", "max_line").alias("last_line"),
            pl.col("source").cast(pl.String),
        )
    )


def _threads(ev: pl.DataFrame, key_order: pl.Series) -> pl.DataFrame:
    """One row per logical thread. In key order each thread's records are contiguous and
    ``tid`` ascends, so the grouping takes polars' sorted fast path (several times quicker
    than hashing hundreds of thousands of groups)."""
    one = pl.col("start_row").drop_nulls().n_unique() == 1
    needed = [
        "tid",
        "source",
        "pid",
        "thread",
        "thread_name",
        "ident_id",
        "inst",
        "generation",
        "reason",
        "ts",
        "line",
        "row",
        "start_row",
    ]
    keyed = ev.select(needed)[key_order].with_columns(pl.col("tid").set_sorted())
    threads = keyed.group_by("tid", maintain_order=True).agg(
        pl.col("source").first().cast(pl.String),
        pl.col("pid").first(),
        pl.col("thread").first(),
        pl.col("thread_name").drop_nulls().first(),
        pl.col("ident_id").is_null().any().alias("no_ident"),
        pl.col("inst").first(),
        pl.col("generation").first().cast(pl.Int64),
        pl.col("reason").first().cast(pl.String),
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        pl.col("line").first().alias("first_line"),
        pl.col("line").last().alias("last_line"),
        pl.len().cast(pl.Int64).alias("records"),
        pl.col("row").first().alias("first_row"),
        pl.when(one).then(pl.col("start_row").drop_nulls().first()).alias("only_start_row"),
    )
    uid = pl.format(
        "{}/{}#{}",
        pl.col("pid").cast(pl.String).fill_null("-"),
        pl.coalesce(pl.col("thread").cast(pl.String), pl.col("thread_name"), pl.lit("-")),
        pl.when(pl.col("no_ident")).then(pl.col("inst")).otherwise(pl.col("generation")),
    )
    return threads.sort("first_row").with_columns(thread_uid=uid).drop("no_ident", "inst", "first_row")


def _name_threads_iteration(threads: pl.DataFrame, iterations: pl.DataFrame) -> pl.DataFrame:
    """Give a thread the task, workload and iteration it ran, when it ran exactly one."""
    named = iterations.select(pl.col("start_row").alias("only_start_row"), "task", "workload", "iteration")
    return threads.join(named, on="only_start_row", how="left", maintain_order="left").select(
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
    )


def _summary(threads: pl.DataFrame, iterations: pl.DataFrame) -> dict[str, object]:
    # generations count up per (pid, ident): an ident stood for several threads if it has a 2nd
    with_ident = threads.filter(pl.col("thread").is_not_null())
    recycled = with_ident.filter(pl.col("generation") == 2).height
    most = int(with_ident["generation"].max() or 0) if with_ident.height else 0
    by_status = {s: int(iterations.filter(pl.col("status") == s).height) for s in ("ok", "error", "unfinished")}
    return {
        "logical_threads": threads.height,
        "recycled_idents": {"count": recycled, "most_generations": most},
        "tasks": iterations["task"].drop_nulls().n_unique(),
        "workloads": iterations.select(pl.struct("task", "workload").n_unique()).item() if iterations.height else 0,
        "iterations": {"total": iterations.height, **by_status},
    }
