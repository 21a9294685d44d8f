"""The `threadlog` command: argument handling and presentation only.

Data goes to stdout (or a file), messages and tables for people to stderr. A
`ThreadlogError` anywhere below is caught here, once, and printed as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
from rich.table import Table

from threadlog import __version__
from threadlog.errors import ExitCode, ThreadlogError
from threadlog.export import format_of, write_frame
from threadlog.markers import Markers
from threadlog.rally_join import describe_join
from threadlog.rally_views import flat_for_csv, sort_iterations, with_slowest_action, workload_statistics
from threadlog.reconstruct import DEFAULT_PID_GAP, ReconstructOptions
from threadlog.secrets import mask_secrets, masked_columns
from threadlog.store import Store
from threadlog.trace import TraceFilter, parse_time, write_trace
from threadlog.views import (
    IterationTimeline,
    iteration_stats,
    list_iterations,
    list_threads,
    recycled_idents,
    scan_table,
    select_iteration,
    task_filter,
    thread_timeline,
)
from threadlog.views import timeline as build_timeline

if TYPE_CHECKING:
    from threadlog.ingest import IngestOptions

__all__ = ["app", "main"]


class _Commands(typer.core.TyperGroup):
    """Prints user errors as one line and exits non-zero, without a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadlogError as exc:
            # the message names files and formats: "[old]" in it is text, not markup
            message = f"[bold red]error:[/] {escape(str(exc))}"
            Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=True)
            raise typer.Exit(ExitCode.USER_ERROR) from None
        except KeyboardInterrupt:
            Console(stderr=True, highlight=False).print("interrupted; the previous store is unchanged")
            raise typer.Exit(ExitCode.INTERRUPTED) from None


app = typer.Typer(
    cls=_Commands,
    help="Make the logs of concurrent Python programs readable again: real threads and "
    "Rally iterations from logs whose thread idents are recycled.\n\n"
    "Example:\n\n"
    "    threadlog parse rally.log && threadlog timeline --iteration 42",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar="THREADLOG_STORE", help="Store folder [default: ./.threadlog]"),
]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"threadlog {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """threadlog: real threads and Rally iterations from Python logs."""


def _err() -> Console:
    con = Console(stderr=True, highlight=False)
    if not con.is_terminal:
        con = Console(stderr=True, highlight=False, width=160)
    return con


@app.command()
def parse(
    logs: Annotated[
        list[str],
        typer.Argument(
            help="Log files (read oldest first, by each file's first time); .gz, .bz2 and .xz too; - for stdin."
        ),
    ],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="The program's logging format string.")] = None,
    style: Annotated[str, typer.Option("--style", help="Format style: % { or $.")] = "%",
    datefmt: Annotated[str | None, typer.Option("--datefmt", help="strftime format of %(asctime)s.")] = None,
    exception_prefix: Annotated[
        str | None, typer.Option("--exception-prefix", help="oslo logging_exception_prefix, for traceback lines.")
    ] = None,
    rally_conf: Annotated[
        Path | None, typer.Option("--rally-conf", help="Read the logging formats from this rally.conf.")
    ] = None,
    preset_name: Annotated[
        str | None, typer.Option("--preset", help="Use a built-in format by name instead of detecting one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    gap: Annotated[
        float | None,
        typer.Option(
            "--gap",
            min=0.0,
            help="Seconds of silence on an ident (without markers) that start a new thread "
            "[default: 0.2, and only in logs without iteration markers].",
        ),
    ] = None,
    pid_gap: Annotated[
        float,
        typer.Option("--pid-gap", min=0.0, help="Seconds of silence after which a pid names a new process; 0: never."),
    ] = DEFAULT_PID_GAP,
    iteration_start: Annotated[
        str | None,
        typer.Option(
            "--iteration-start", help="Regex of a unit of work's first message: (?P<iteration>...), opt. (?P<task>...)."
        ),
    ] = None,
    iteration_end: Annotated[
        str | None,
        typer.Option(
            "--iteration-end",
            help="Regex of its last message; may name (?P<status>...), (?P<error_type>...), (?P<error>...).",
        ),
    ] = None,
    records_only: Annotated[
        bool, typer.Option("--records-only", help="Only the records table: no threads and iterations (quicker).")
    ] = False,
    rally_report: Annotated[
        list[str] | None,
        typer.Option(
            "--rally-report",
            help="Join this Rally report (rally task report --json, or rally task results) to the iterations; "
            "repeatable; .gz, .bz2, .xz too.",
        ),
    ] = None,
    utc_offset: Annotated[
        str | None,
        typer.Option("--utc-offset", help="The log's offset from UTC, e.g. +02:00 [default: inferred]."),
    ] = None,
    allow_unparsed: Annotated[
        bool,
        typer.Option("--allow-unparsed", help="Store the parse even if most lines fit no format (refused otherwise)."),
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Parse logs into the store and print a summary.

    The format is detected from the first lines unless --format, --rally-conf or --preset
    says what it is. Every line ends up in exactly one record or is counted as unparsed.

    Example:

        threadlog parse rally.log

        threadlog parse --format '%(process)d %(thread)d %(levelname)s: %(message)s' app.log

        threadlog parse rally.log --rally-report report.json
    """
    # The parser's modules (and pyparsing) load only here: reading the store starts faster.
    from threadlog.grammars import grammar_from_format, grammar_from_rally_conf, preset  # noqa: PLC0415
    from threadlog.ingest import IngestOptions, ingest  # noqa: PLC0415
    from threadlog.rally_join import parse_offset  # noqa: PLC0415

    if sum(x is not None for x in (fmt, rally_conf, preset_name)) > 1:
        raise ThreadlogError("give only one of --format, --rally-conf and --preset")
    grammar = None
    if fmt is not None:
        grammar = grammar_from_format(fmt, style, datefmt, exception_prefix)
    elif rally_conf is not None:
        grammar = grammar_from_rally_conf(str(rally_conf))
    elif preset_name is not None:
        grammar = preset(preset_name)
    options = IngestOptions(
        grammar=grammar,
        store=store,
        markers=Markers.custom(iteration_start, iteration_end),
        reconstruct=None if records_only else ReconstructOptions(gap=gap, pid_gap=pid_gap or None),
        rally_reports=rally_report or [],
        utc_offset=None if utc_offset is None else parse_offset(utc_offset),
        allow_unparsed=allow_unparsed,
    )
    err = _err()
    live = err.is_terminal and not as_json
    summary = _ingest_with_progress(logs, options, err) if live else ingest(logs, options)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        err.print(_summary_table(summary))
    for note in summary.get("notes", []):
        err.print(f"note: {escape(note)}", soft_wrap=True)
    for warning in summary.get("warnings", []):
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@app.command()
def formats() -> None:
    """List the built-in formats that `parse` detects, with their format strings.

    Example:

        threadlog formats
    """
    from threadlog.grammars import PRESETS  # noqa: PLC0415 (see parse)

    table = Table("preset", "format", "exception prefix")
    for name, grammar in PRESETS.items():
        table.add_row(name, "\n".join(grammar.formats), "\n".join(p.format for p in grammar.exceptions))
    Console().print(table)


def _ingest_with_progress(logs: list[str], options: IngestOptions, err: Console) -> dict[str, Any]:
    from threadlog.ingest import ingest  # noqa: PLC0415 (see parse)
    from threadlog.reader import open_source  # noqa: PLC0415 (see parse)

    # progress counts bytes of text; the total is known only for plain files
    sources = [open_source(name) for name in logs]
    sizes = [s.size for s in sources if not s.compressed]
    total = sum(sizes) if len(sizes) == len(sources) and None not in sizes else None
    with Progress("reading", BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("read", total=total or None)
        options.progress = lambda done: bar.update(task, completed=done)
        return ingest(logs, options)


def _summary_table(s: dict[str, Any], title: str = "threadlog parse") -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    fmt = s["format"]
    how = "detected" if fmt["detected"] else "given"
    rows: list[tuple[str, Any]] = [
        ("files", ", ".join(s["files"])),
        ("format", f"{fmt['name']} ({how})" + _per_file(s.get("format_per_file"))),
        ("lines read", f"{s['lines']:,}"),
        ("records", f"{s['records']:,}"),
        ("multi-line records", f"{s['multiline_records']:,}"),
        ("unparsed lines", f"{s['unparsed_lines']:,}"),
        ("lines with replaced bytes", f"{s['replaced_lines']:,}"),
        ("time span", _span(s)),
        ("processes", f"{s['processes']:,}"),
        ("(pid, ident) pairs", "no ident in format" if s["pid_thread_pairs"] is None else f"{s['pid_thread_pairs']:,}"),
    ]
    for key, label in (
        ("logical_threads", "logical threads"),
        ("recycled_idents", "recycled idents"),
        ("tasks", "tasks"),
        ("workloads", "workloads"),
        ("iterations", "iterations"),
    ):
        if key in s:
            rows.append((label, _fmt_value(s[key])))
    rows += [("rally report", describe_join(facts)) for facts in s.get("rally") or []]
    rows += [("took", f"{s['seconds']:.2f} s"), ("store", s["store"])]
    for k, v in rows:
        table.add_row(k, escape(str(v)))
    return table


def _per_file(per_file: dict[str, str] | None) -> str:
    if not per_file:
        return ""
    return "; per file: " + ", ".join(f"{Path(name).name} {fmt}" for name, fmt in per_file.items())


def _fmt_value(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {val:,}" if isinstance(val, int) else f"{k} {val}" for k, val in v.items())
    return f"{v:,}" if isinstance(v, int) else str(v)


def _span(s: dict[str, Any]) -> str:
    if s["first_ts"] is None:
        return "no timestamps in format"
    # from meta.json they come back as text
    first, last = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in (s["first_ts"], s["last_ts"]))
    return f"{first} .. {last} ({(last - first).total_seconds():.3f} s)"


# -- reading the store ----------------------------------------------------------------------


@contextmanager
def _reading(store: str | None) -> Iterator[Store]:
    """The store, opened; warns about changed sources and reports a store that breaks."""
    opened = Store.open(store)
    changed = opened.stale_sources()
    if changed:
        _err().print(
            f"[yellow]warning:[/] changed since parsed: {escape(', '.join(changed))}; "
            "run `threadlog parse` again for current results",
            soft_wrap=True,
        )
    with opened.reading():
        yield opened


def _out() -> Console:
    con = Console(highlight=False)
    if not con.is_terminal:  # piped: do not squeeze tables into 80 columns
        con = Console(highlight=False, width=200)
    return con


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _print_frame(frame: pl.DataFrame, columns: list[str], title: str, limit: int) -> None:
    table = Table(*columns, title=title, title_justify="left")
    shown = frame if limit <= 0 else frame.head(limit)
    for row in shown.select(columns).iter_rows():
        table.add_row(*(_cell(v) for v in row))
    _out().print(table)
    if 0 < limit < frame.height:
        _err().print(f"{frame.height - limit:,} more rows; --limit 0 shows all")


@app.command()
def info(
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON on stdout.")] = False,
    store: StoreOpt = None,
) -> None:
    """Show what the store holds: the summary of the parse that made it.

    Example:

        threadlog info
    """
    with _reading(store) as opened:
        summary = {**opened.meta.get("summary", {}), "store": str(opened.root)}
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        _out().print(_summary_table(summary, "threadlog info"))


LimitOpt = Annotated[int, typer.Option("--limit", help="Rows to show; 0 for all.")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Task uuid (a unique prefix is enough).")]
WorkloadOpt = Annotated[int | None, typer.Option("--workload", help="Workload ordinal within the task.")]


@app.command()
def threads(
    pid: Annotated[int | None, typer.Option("--pid", help="Only this process id.")] = None,
    recycled: Annotated[
        bool, typer.Option("--recycled", help="Only idents that stood for more than one thread, with how many.")
    ] = False,
    limit: LimitOpt = 50,
    store: StoreOpt = None,
) -> None:
    """List the logical threads recovered from the log, or the recycled idents.

    Each thread has a thread_uid (pid/ident#generation) and the reason it began:
    first, pid_reuse, iteration_start, previous_ended, name_change, workload_start,
    hook_run or time_gap.

    Example:

        threadlog threads --recycled
    """
    with _reading(store) as opened:
        if recycled:
            frame = recycled_idents(opened, pid)
            cols = ["pid", "thread", "threads", "iteration_threads", "first_ts", "last_ts", "first_line", "last_line"]
            _print_frame(frame, cols, f"{frame.height:,} recycled idents", limit)
            return
        frame = list_threads(opened, pid)
        cols = [
            "thread_uid",
            "thread_name",
            "reason",
            "first_ts",
            "last_ts",
            "first_line",
            "last_line",
            "records",
            "iteration",
        ]
        _print_frame(frame, cols, f"{frame.height:,} logical threads", limit)


@app.command()
def iterations(
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="ok, error or unfinished.")] = None,
    sort: Annotated[
        str | None,
        typer.Option("--sort", help="Sort by start_ts, duration_s, rally_duration_s, slowest_action_s, ...; :desc."),
    ] = None,
    limit: LimitOpt = 50,
    store: StoreOpt = None,
) -> None:
    """List Rally iterations with status, duration and where they ran.

    The footer sums them up as Rally's own table does: count, ok, failed and the
    duration's min, median, 90th percentile and max.

    Example:

        threadlog iterations --status error

        threadlog iterations --sort rally_duration_s:desc
    """
    with _reading(store) as opened:
        frame = sort_iterations(
            with_slowest_action(opened, list_iterations(opened, task, workload, None, status)), sort
        )
        joined = "rally_duration_s" in frame.columns and frame["rally_duration_s"].null_count() < frame.height
        rally_cols = ["rally_duration_s", "slowest_action", "slowest_action_s"] if joined else []
        cols = [
            "task",
            "workload",
            "iteration",
            "status",
            "error_type",
            "duration_s",
            *rally_cols,
            "pid",
            "thread_uid",
            "first_line",
            "last_line",
        ]
        shown = frame.with_columns(pl.col("task").str.slice(0, 8))
        _print_frame(shown, cols, f"{frame.height:,} iterations", limit)
        st = iteration_stats(frame)
        _out().print(
            f"count {st['count']:,}  ok {st['ok']:,}  failed {st['failed']:,}  "
            f"unfinished {st['unfinished']:,}  duration s: min {_cell(st['min'])}  "
            f"median {_cell(st['median'])}  p90 {_cell(st['p90'])}  max {_cell(st['max'])}"
        )


@app.command()
def workloads(
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    store: StoreOpt = None,
) -> None:
    """List Rally's workloads, each with the statistics of Rally's report.

    Per atomic action (with a joined report) and for whole iterations: min, median,
    90%ile, 95%ile, max, avg, success % and count. With a report they come from Rally's
    durations, as Rally computes them; without one from the log's END - START. With a
    report also each workload's SLA and its contexts' setup and cleanup.

    Example:

        threadlog workloads --workload 2
    """
    with _reading(store) as opened:
        which = task_filter(opened, task)
        if workload is not None:
            which = which & (pl.col("workload") == workload)
        table, stats = workload_statistics(opened, which)
        if table.height == 0:
            raise ThreadlogError("no workloads in the store; `threadlog iterations` lists what it has")
        con = _out()
        for row in table.iter_rows(named=True):
            _print_workload(
                con, row, stats.filter((pl.col("task") == row["task"]) & (pl.col("workload") == row["workload"]))
            )


def _print_workload(con: Console, row: dict[str, Any], stats: pl.DataFrame) -> None:
    subtask = f"  subtask {row['subtask']!r}" if row["subtask"] else ""
    load = "-" if row["load_duration_s"] is None else f"{row['load_duration_s']:.3f} s"
    source = {"rally": "Rally's", "log": "first START to last END"}.get(row["load_duration_from"] or "", "")
    con.print(
        f"[bold]workload {row['workload']}[/]  task {row['task']}{subtask}  scenario {row['scenario'] or '-'}  "
        f"runner {row['runner'] or '-'} {row['runner_args'] or ''}",
        soft_wrap=True,
    )
    con.print(
        f"iterations {row['iterations']:,}  failures {row['failures']:,}  load duration {load} ({source})"
        + ("" if row["pass_sla"] is None else f"  SLA {'passed' if row['pass_sla'] else 'FAILED'}"),
        soft_wrap=True,
    )
    for criterion in row["sla"] or []:
        con.print(f"  sla {criterion['criterion']}: {escape(criterion['detail'] or '')}", soft_wrap=True)
    for ctx in row["contexts"] or []:
        con.print(
            f"  context {ctx['name']}: setup {_cell(ctx['setup_s'])} s {escape(ctx['setup_error'] or '')}  "
            f"cleanup {_cell(ctx['cleanup_s'])} s {escape(ctx['cleanup_error'] or '')}",
            soft_wrap=True,
        )
    origin = "Rally's durations" if (stats["source"] == "rally").any() else "the log's END - START"
    table = Table(
        "action", "min", "median", "90%ile", "95%ile", "max", "avg", "success", "count",
        title=f"seconds, from {origin}", title_justify="left",
    )  # fmt: skip
    for s in stats.iter_rows(named=True):
        table.add_row(
            "  " * s["depth"] + s["action"].rsplit(" > ", 1)[-1],
            *(_cell(s[k]) for k in ("min", "median", "p90", "p95", "max", "avg")),
            f"{s['success_pct']:.1f}%",
            f"{s['count']:,}",
        )
    con.print(table)


LEVEL_STYLE = {
    "ERROR": "bold red",
    "CRITICAL": "bold red",
    "WARNING": "yellow",
    "WARN": "yellow",
    "INFO": "green",
    "DEBUG": "dim",
    "RALLYDEBUG": "dim",
    "TRACE": "dim",
}


@app.command()
def timeline(
    iteration: Annotated[int | None, typer.Option("--iteration", "-i", help="Iteration number.")] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", help="A logical thread's thread_uid instead (any log, Rally or not).")
    ] = None,
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    level: Annotated[str | None, typer.Option("--level", help="Only records at this level or above.")] = None,
    context: Annotated[
        bool, typer.Option("--context", help="Also list the iterations that overlapped it in its process.")
    ] = False,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the timeline to FILE (.csv, .parquet, .json).")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Write the timeline to stdout as csv, parquet or json.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    store: StoreOpt = None,
) -> None:
    """Show one iteration (or one logical thread) line by line, with offsets from its start.

    Reads the store only. When the number matches iterations of several workloads or
    tasks, it lists them with the flags that pick each.

    Example:

        threadlog timeline --iteration 42 --workload 2 --context

        threadlog timeline --thread 3667/-#1
    """
    with _reading(store) as opened:
        if (iteration is None) == (thread is None):
            raise ThreadlogError("name one iteration (--iteration N) or one thread (--thread UID)")
        if thread is not None:
            row, records = thread_timeline(opened, thread, level)
            if out is not None or to is not None:
                _write_timeline(records, out, to, force)
                return
            _print_thread_timeline(row, records)
            return
        assert iteration is not None
        found = select_iteration(opened, iteration, task, workload)
        if found.height > 1:
            table = Table(
                "task",
                "workload",
                "status",
                "start",
                "pick with",
                title=f"iteration {iteration} is in {found.height} workloads",
            )
            for row in found.iter_rows(named=True):
                table.add_row(
                    row["task"],
                    str(row["workload"]),
                    row["status"],
                    _cell(row["start_ts"]),
                    f"--task {row['task'][:8]} --workload {row['workload']}",
                )
            _err().print(table)
            raise typer.Exit(ExitCode.USER_ERROR)
        view = build_timeline(opened, found.row(0, named=True), level, context)
        if out is not None or to is not None:
            _write_timeline(view.records, out, to, force)
            return
        _print_timeline(view)


def _write_timeline(records: pl.DataFrame, out: str | None, to: str | None, force: bool) -> None:
    write_frame(records.drop("parsed"), out, format_of(out, to), force)
    if out is not None:
        _err().print(f"wrote {records.height:,} records to {escape(str(out))}")


def _print_thread_timeline(row: dict[str, Any], records: pl.DataFrame) -> None:
    con = _out()
    con.print(
        f"[bold]thread {row['thread_uid']}[/]  pid {row['pid']}  ident {_cell(row['thread'])}  "
        f"name {_cell(row['thread_name'])}  began: {row['reason']}",
        soft_wrap=True,
    )
    con.print(
        f"first {_cell(row['first_ts'])}  last {_cell(row['last_ts'])}  lines {row['first_line']}..{row['last_line']}  "
        f"records {records.height}",
        soft_wrap=True,
    )
    _print_records(con, records)


def _print_timeline(view: IterationTimeline) -> None:
    it = view.iteration
    con = _out()
    status = it["status"] + (f": {it['error_type']}: {it['error']}" if it["error_type"] else "")
    con.print(
        f"[bold]iteration {it['iteration']}[/]  task {it['task']}  workload {it['workload']}  status {status}",
        soft_wrap=True,
    )
    con.print(
        f"pid {it['pid']}  ident {_cell(it['thread'])}  thread {it['thread_uid']}  "
        f"start {_cell(it['start_ts'])}  end {_cell(it['end_ts'])}  duration {_cell(it['duration_s'])} s  "
        f"records {view.records.filter(pl.col('kind') == 'record').height}",
        soft_wrap=True,
    )
    if view.ambiguous:
        con.print(
            f"[yellow]{view.ambiguous} records in its span could not be attributed (ambiguous: "
            "several iterations open in the process)[/]"
        )
    _print_records(con, view.records)
    if view.context is not None:
        _print_context(con, view)


def _print_records(con: Console, records: pl.DataFrame) -> None:
    for row in records.iter_rows(named=True):
        offset = "" if row["offset_s"] is None else f"+{row['offset_s']:.3f}s"
        if row.get("kind", "record") != "record":  # a Rally atomic action starting or finishing
            con.print(f"{offset:>10} [cyan]{'':<8} {escape(row['message'])}[/]", soft_wrap=True)
            continue
        lvl = row["level"] or "-"
        style = LEVEL_STYLE.get(lvl, "")
        lines = (row["message"] or "").split("\n")
        where = f"{Path(row['source']).name}:{row['line']}"
        tag = "" if row["attribution"] in ("thread", None) else f" ({row['attribution']})"
        con.print(
            f"{offset:>10} [{style}]{lvl:<8}[/] {row['logger'] or '-'}  {escape(lines[0])}  [dim]{where}{tag}[/]",
            soft_wrap=True,
        )
        for extra in lines[1:]:
            con.print(f"{'':>10}   {escape(extra)}", soft_wrap=True)


def _print_context(con: Console, view: IterationTimeline) -> None:
    it, context = view.iteration, view.context
    assert context is not None  # the caller checked
    title = f"{context.height} iterations overlapped it in pid {it['pid']}"
    table = Table(
        "iteration",
        "workload",
        "status",
        "start offset s",
        "end offset s",
        "thread_uid",
        title=title,
        title_justify="left",
    )
    for row in context.iter_rows(named=True):
        table.add_row(
            str(row["iteration"]),
            str(row["workload"]),
            row["status"],
            _cell(row["start_offset_s"]),
            _cell(row["end_offset_s"]),
            row["thread_uid"],
        )
    con.print(table)


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="records, threads, iterations, atomic-actions, workloads or trace.")],
    out: Annotated[
        str, typer.Option("--out", "-o", help="Output file: .csv or .parquet (.json or .json.gz for trace).")
    ],
    task: Annotated[str | None, typer.Option("--task", help="Only this task (uuid prefix).")] = None,
    workload: Annotated[int | None, typer.Option("--workload", help="Only this workload.")] = None,
    iteration: Annotated[int | None, typer.Option("--iteration", help="Only this iteration number.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only iterations (and their records) with this status.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Trace: only what ran at or after this time (log clock, ISO).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Trace: only what ran at or before this time (log clock, ISO).")
    ] = None,
    mask: Annotated[
        bool, typer.Option("--mask-secrets", help="Replace tokens and passwords in messages by ***.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write a table of the store, or the whole run as a trace, to a file.

    Parquet keeps types (timestamps, categorical levels); CSV quotes multi-line messages
    so spreadsheets, polars and DuckDB read them back unchanged. The trace is Chrome
    Trace Event Format (gzip-compressed when the name ends in .gz): open it in
    https://ui.perfetto.dev.

    Example:

        threadlog export iterations --out iterations.parquet

        threadlog export trace --out run.json.gz --workload 2 --status error

        threadlog export atomic-actions --out actions.csv
    """
    with _reading(store) as opened:
        if what == "trace":
            keep = TraceFilter(
                task, workload, iteration, status, parse_time(since, "--since"), parse_time(until, "--until")
            )
            n = write_trace(opened, out, force, keep, mask)
            _err().print(f"wrote {n:,} trace events to {escape(str(out))}; open it in https://ui.perfetto.dev")
            return
        tables = {"records": "records", "threads": "threads", "iterations": "iterations",
                  "atomic-actions": "atomic_actions", "workloads": "workloads"}  # fmt: skip
        if what not in tables:
            raise ThreadlogError(
                f"cannot export {what!r}; choose records, threads, iterations, atomic-actions, workloads or trace"
            )
        if since is not None or until is not None:
            raise ThreadlogError("--since and --until cut the trace only; filter tables with --task/--workload")
        fmt = format_of(out, None)
        if fmt == "json":
            raise ThreadlogError("tables export as .csv or .parquet")
        if what == "workloads" and (iteration is not None or status is not None):
            raise ThreadlogError("workloads have no iteration or status; filter them with --task and --workload")
        frame = scan_table(opened, tables[what], task, workload, iteration, status)
        if fmt == "csv":
            frame = flat_for_csv(frame)
        if mask:
            frame = frame.with_columns(mask_secrets(pl.col(c)) for c in masked_columns(frame))
        write_frame(frame, out, fmt, force)  # streamed: a big store's records are never held whole
        rows = frame.select(pl.len()).collect().item()
        _err().print(f"wrote {rows:,} {what} rows to {escape(str(out))}")


@app.command()
def report(
    out: Annotated[str, typer.Option("--out", "-o", help="The HTML file to write.")],
    task: Annotated[str | None, typer.Option("--task", help="Draw this task's workloads (uuid prefix).")] = None,
    workload: Annotated[int | None, typer.Option("--workload", help="Draw only this workload.")] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Keep tokens and passwords on the page (masked by default).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write the run as one self-contained HTML page that opens anywhere, offline.

    Per workload: a summary, the iterations on their threads over time, durations,
    failures by error type and the timelines of a few iterations; for the whole run,
    threads and levels over time and errors grouped. Tokens and passwords are masked.

    Example:

        threadlog report --out run.html
    """
    from threadlog.report_html import write_report  # noqa: PLC0415 (see parse: plotly loads only here)

    with _reading(store) as opened:
        size = write_report(opened, out, force, task, workload, mask=not show_secrets)
        _err().print(f"wrote {escape(str(out))} ({size / 1e6:.1f} MB); open it in any browser")


def main() -> None:
    """Entry point of the `threadlog` script."""
    app(prog_name="threadlog")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
