"""The `threadlog` command: argument handling only; `threadlog.render` shows the results.

Data goes to stdout (or a file), messages for people to stderr. A `ThreadlogError`
anywhere below is caught here, once, and printed as one line.

The options every listing and every writer share are declared once below (`JsonOpt`,
`ColumnsOpt`, `LimitOpt`, `OutOpt`, `ToOpt`, `ForceOpt`): a new command takes them as
parameters and hands them to `threadlog.listing.print_listing` or `threadlog.output.target`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from threadlog import __version__
from threadlog.choices import LEVEL_RANK, SORTABLE
from threadlog.cli_help import App, HelpGroup
from threadlog.errors import ExitCode, ThreadlogError

if TYPE_CHECKING:
    import polars as pl

    from threadlog.store import Store

# Each command imports what it needs (polars, rich, the parser, the views) when it runs:
# `threadlog --help` then loads none of them, and `parse` none of the readers' modules.

__all__ = ["PRESET_NAMES", "app", "main"]

# `threadlog formats` lists them; kept here so that --help need not load the parser (a test
# checks it against threadlog.grammars.PRESETS)
PRESET_NAMES = (
    "oslo",
    "oslo-thread",
    "oslo-threadname",
    "oslo-thread-threadname",
    "pid-thread",
    "home-assistant",
    "home-assistant-seconds",
    "common",
    "basic",
)
# --pid-gap's default, kept here so that --help need not load the reconstructor (a test
# checks it against threadlog.reconstruct.DEFAULT_PID_GAP)
DEFAULT_PID_GAP = 3600.0


class _Commands(HelpGroup):
    """Prints user errors as one line and exits non-zero, without a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadlogError as exc:
            from rich.console import Console
            from rich.markup import escape

            # the message names files and formats: "[old]" in it is text, not markup
            message = f"[bold red]error:[/] {escape(str(exc))}"
            Console(stderr=True, highlight=False, soft_wrap=True).print(message, markup=True)
            raise typer.Exit(ExitCode.USER_ERROR) from None
        except KeyboardInterrupt:
            from rich.console import Console

            Console(stderr=True, highlight=False).print("interrupted; the previous store is unchanged")
            raise typer.Exit(ExitCode.INTERRUPTED) from None


app = App(
    cls=_Commands,
    help="Make the logs of concurrent Python programs readable again: real threads and "
    "Rally iterations from logs whose thread idents are recycled.\n\n"
    "Example:\n\n"
    "    threadlog parse rally.log && threadlog timeline --iteration 42",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _not_negative(value: float | None) -> float | None:
    if value is not None and value < 0:
        raise typer.BadParameter("must be 0 or more seconds")
    return value


StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar="THREADLOG_STORE", metavar="DIR", help="Store folder [default: ./.threadlog]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print it as JSON on stdout.")]
LimitOpt = Annotated[int, typer.Option("--limit", metavar="N", help="Rows to show; 0 for all.")]
ColumnsOpt = Annotated[
    str | None, typer.Option("--columns", metavar="A,B,...", help="Columns to show, in order (any of the table's).")
]
OutOpt = Annotated[
    str | None,
    typer.Option("--out", "-o", metavar="FILE", help="Write to FILE, its extension picks the format; - for stdout."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")]
TableToOpt = Annotated[
    str | None, typer.Option("--to", metavar="FORMAT", help="Format on stdout: csv (default), parquet or jsonl.")
]
TaskOpt = Annotated[str | None, typer.Option("--task", metavar="UUID", help="Task uuid (a unique prefix is enough).")]
WorkloadOpt = Annotated[int | None, typer.Option("--workload", metavar="N", help="Workload ordinal within the task.")]
StatusOpt = Annotated[
    Literal["ok", "error", "unfinished"] | None,
    typer.Option("--status", metavar="STATUS", help="Only iterations with this status: ok, error or unfinished."),
]
LevelOpt = Annotated[
    Literal[tuple(LEVEL_RANK)] | None,  # type: ignore[valid-type]
    typer.Option(
        "--level",
        metavar="LEVEL",
        case_sensitive=False,
        help=f"Only records at this level or above: {', '.join(LEVEL_RANK)}.",
    ),
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


@app.command()
def parse(
    logs: Annotated[
        list[str],
        typer.Argument(
            metavar="LOG",
            help="Log files (read oldest first, by each file's first time); .gz, .bz2 and .xz too; - for stdin.",
        ),
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", metavar="FORMAT", help="The program's logging format string.")
    ] = None,
    style: Annotated[
        Literal["%", "{", "$"],
        typer.Option("--style", metavar="STYLE", help="The format string's style, as in logging: %, { or $."),
    ] = "%",
    datefmt: Annotated[
        str | None, typer.Option("--datefmt", metavar="STRFTIME", help="The format of %(asctime)s.")
    ] = None,
    exception_prefix: Annotated[
        str | None,
        typer.Option(
            "--exception-prefix", metavar="FORMAT", help="oslo's logging_exception_prefix, for traceback lines."
        ),
    ] = None,
    rally_conf: Annotated[
        str | None,
        typer.Option("--rally-conf", metavar="FILE", help="Read the logging formats from this rally.conf."),
    ] = None,
    preset_name: Annotated[
        Literal[PRESET_NAMES] | None,  # type: ignore[valid-type]
        typer.Option(
            "--preset",
            metavar="NAME",
            help=f"Use this built-in format instead of detecting one: {', '.join(PRESET_NAMES)}.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    gap: Annotated[
        float | None,
        typer.Option(
            "--gap",
            metavar="SECONDS",
            callback=_not_negative,
            help="Silence on an ident (without markers) that starts a new thread "
            "[default: 0.2, and only in logs without iteration markers].",
        ),
    ] = None,
    pid_gap: Annotated[
        float,
        typer.Option(
            "--pid-gap",
            metavar="SECONDS",
            callback=_not_negative,
            help="Silence after which a pid names a new process; 0: never.",
        ),
    ] = DEFAULT_PID_GAP,
    iteration_start: Annotated[
        str | None,
        typer.Option(
            "--iteration-start",
            metavar="REGEX",
            help="A unit of work's first message: (?P<iteration>...), opt. (?P<task>...).",
        ),
    ] = None,
    iteration_end: Annotated[
        str | None,
        typer.Option(
            "--iteration-end",
            metavar="REGEX",
            help="Its last message; may name (?P<status>...), (?P<error_type>...), (?P<error>...).",
        ),
    ] = None,
    records_only: Annotated[
        bool, typer.Option("--records-only", help="Only the records table: no threads and iterations (quicker).")
    ] = False,
    rally_report: Annotated[
        list[str] | None,
        typer.Option(
            "--rally-report",
            metavar="FILE",
            help="Join this Rally report (rally task report --json, or rally task results) to the iterations; "
            "repeatable; .gz, .bz2, .xz too.",
        ),
    ] = None,
    utc_offset: Annotated[
        str | None,
        typer.Option(
            "--utc-offset", metavar="+HH:MM", help="The log's offset from UTC, e.g. +02:00 [default: inferred]."
        ),
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

    Examples:

        threadlog parse rally.log
        threadlog parse --format '%(process)d %(thread)d %(levelname)s: %(message)s' app.log
        zcat old.log.gz | threadlog parse -
        threadlog parse rally.log --rally-report report.json
    """
    # The parser's modules (and pyparsing) load only here: reading the store starts faster.
    from rich.markup import escape

    from threadlog.grammars import grammar_from_format, grammar_from_rally_conf, preset
    from threadlog.ingest import IngestOptions, ingest_summary
    from threadlog.markers import Markers
    from threadlog.rally_join import parse_offset
    from threadlog.reconstruct import ReconstructOptions
    from threadlog.render import err_console, ingest_with_progress, print_summary

    if sum(x is not None for x in (fmt, rally_conf, preset_name)) > 1:
        raise ThreadlogError("give only one of --format, --rally-conf and --preset")
    grammar = None
    if fmt is not None:
        grammar = grammar_from_format(fmt, style, datefmt, exception_prefix)
    elif rally_conf is not None:
        grammar = grammar_from_rally_conf(rally_conf)
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
    err = err_console()
    live = err.is_terminal and not as_json
    summary = ingest_with_progress(logs, options, err) if live else ingest_summary(logs, options)
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2, default=str))
    else:
        print_summary(summary, err, "threadlog parse")
    for note in summary.notes:
        err.print(f"note: {escape(note)}", soft_wrap=True)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)


@app.command()
def formats(as_json: JsonOpt = False, columns: ColumnsOpt = None) -> None:
    """List the built-in formats that `parse` detects.

    Each with its format strings, whole, as --format takes them.

    Examples:

        threadlog formats
        threadlog formats --json
    """
    from threadlog.grammars import PRESETS
    from threadlog.listing import ListingOptions
    from threadlog.render import formats_frame, out_console, print_formats

    print_formats(formats_frame(PRESETS), ListingOptions(as_json, columns), out_console())


# -- reading the store ----------------------------------------------------------------------


@contextmanager
def _reading(store: str | None) -> Iterator[Store]:
    """The store, opened; warns about changed sources and reports a store that breaks."""
    from rich.markup import escape

    from threadlog.render import err_console
    from threadlog.store import Store

    opened = Store.open(store)
    changed = opened.stale_sources()
    if changed:
        err_console().print(
            f"[yellow]warning:[/] changed since parsed: {escape(', '.join(changed))}; "
            "run `threadlog parse` again for current results",
            soft_wrap=True,
        )
    with opened.reading():
        yield opened


@app.command()
def info(as_json: JsonOpt = False, store: StoreOpt = None) -> None:
    """Show the summary of the parse that made the store.

    Examples:

        threadlog info
        threadlog info --json
    """
    from threadlog.render import out_console, print_summary

    with _reading(store) as opened:
        summary = opened.summary
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2, default=str))
    else:
        print_summary(summary, out_console(), "threadlog info")


@app.command()
def threads(
    pid: Annotated[int | None, typer.Option("--pid", metavar="PID", help="Only this process id.")] = None,
    recycled: Annotated[
        bool, typer.Option("--recycled", help="Only idents that stood for more than one thread, with how many.")
    ] = False,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    limit: LimitOpt = 50,
    store: StoreOpt = None,
) -> None:
    """List the logical threads in the log, or the recycled idents.

    Each thread has a thread_uid (pid/ident#generation) and the reason it began:
    first, pid_reuse, iteration_start, previous_ended, name_change, workload_start,
    hook_run or time_gap. In a terminal the table fits its width (--columns chooses);
    piped, it prints one tab-separated row per line.

    Examples:

        threadlog threads --recycled
        threadlog threads --columns thread_uid,reason,records --limit 0
    """
    from threadlog.listing import ListingOptions, print_listing
    from threadlog.render import RECYCLED, THREADS, err_console, out_console, plural
    from threadlog.views import list_threads, recycled_idents

    shown = ListingOptions(as_json, columns, limit)
    with _reading(store) as opened:
        if recycled:
            frame = recycled_idents(opened, pid)
            listing, title = RECYCLED, plural(frame.height, "recycled ident")
        else:
            frame = list_threads(opened, pid)
            listing, title = THREADS, plural(frame.height, "logical thread")
    print_listing(frame, listing, shown, out_console(), err_console(), title)


@app.command()
def iterations(
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    status: StatusOpt = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            metavar="COLUMN[:desc]",
            help=f"Sort by one of {', '.join(SORTABLE)}; :desc for the largest first.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    columns: ColumnsOpt = None,
    limit: LimitOpt = 50,
    store: StoreOpt = None,
) -> None:
    """List Rally iterations: status, duration, where they ran.

    The footer sums them up as Rally's own table does: count, ok, failed and the
    duration's min, median, 90th percentile and max. In a terminal the table fits its
    width (--columns chooses); piped, it prints one tab-separated row per line.

    Examples:

        threadlog iterations --status error
        threadlog iterations --sort rally_duration_s:desc
        threadlog iterations --json | jq '.[] | .thread_uid'
    """
    from threadlog.listing import ListingOptions, cell, print_listing
    from threadlog.rally_views import sort_iterations, with_slowest_action
    from threadlog.render import err_console, out_console, plural
    from threadlog.render import iterations_listing as iterations_columns
    from threadlog.views import NO_ITERATIONS, has_iterations, iteration_stats, list_iterations

    with _reading(store) as opened:
        if not has_iterations(opened):
            err_console().print(NO_ITERATIONS, soft_wrap=True)
            if as_json:
                typer.echo("[]")
            return
        frame = sort_iterations(
            with_slowest_action(opened, list_iterations(opened, task, workload, None, status)), sort
        )
    joined = "rally_duration_s" in frame.columns and frame["rally_duration_s"].null_count() < frame.height
    st = iteration_stats(frame)
    footer = (
        f"count {st['count']:,}  ok {st['ok']:,}  failed {st['failed']:,}  "
        f"unfinished {st['unfinished']:,}\nduration s: min {cell(st['min'])}  "
        f"median {cell(st['median'])}  p90 {cell(st['p90'])}  max {cell(st['max'])}"
    )
    options = ListingOptions(as_json, columns, limit)
    listing = iterations_columns(rally=joined)
    print_listing(frame, listing, options, out_console(), err_console(), plural(frame.height, "iteration"), footer)


@app.command()
def workloads(
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    as_json: JsonOpt = False,
    store: StoreOpt = None,
) -> None:
    """List Rally's workloads with the statistics of Rally's report.

    Per atomic action (with a joined report) and for whole iterations: min, median,
    90%ile, 95%ile, max, avg, success % and count. With a report they come from Rally's
    durations, as Rally computes them; without one from the log's END - START. With a
    report also each workload's SLA and its contexts' setup and cleanup. --json prints
    each workload with its statistics as one JSON array.

    Examples:

        threadlog workloads --workload 2
        threadlog workloads --json
    """
    import polars as pl

    from threadlog.rally_views import workload_statistics
    from threadlog.render import out_console, print_workloads
    from threadlog.views import task_filter

    with _reading(store) as opened:
        which = task_filter(opened, task)
        if workload is not None:
            which = which & (pl.col("workload") == workload)
        table, stats = workload_statistics(opened, which)
    if table.height == 0:
        raise ThreadlogError("no workloads in the store; `threadlog iterations` lists what it has")
    print_workloads(table, stats, as_json, out_console())


@app.command()
def timeline(
    iteration: Annotated[int | None, typer.Option("--iteration", "-i", metavar="N", help="Iteration number.")] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", metavar="UID", help="A logical thread's thread_uid instead (any log, Rally or not)."),
    ] = None,
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    level: LevelOpt = None,
    context: Annotated[
        bool, typer.Option("--context", help="Also list the iterations that overlapped it in its process.")
    ] = False,
    as_json: JsonOpt = False,
    out: OutOpt = None,
    to: TableToOpt = None,
    force: ForceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Show one iteration or thread line by line, with offsets.

    The offsets count from the iteration's (or thread's) start.

    Reads the store only. When the number matches iterations of several workloads or
    tasks, it lists them with the flags that pick each. --out writes its records as a
    table (.csv, .parquet, .jsonl); --json prints the whole view as one JSON object.

    Examples:

        threadlog timeline --iteration 42 --workload 2 --context
        threadlog timeline --thread 3667/-#1
        threadlog timeline -i 42 --workload 2 -o it42.parquet
    """
    import polars as pl

    from threadlog.listing import ListingOptions, print_listing
    from threadlog.render import CANDIDATES, err_console, print_thread_timeline, print_timeline, timeline_json
    from threadlog.views import NO_ITERATIONS, has_iterations, select_iteration, thread_timeline
    from threadlog.views import timeline as build_timeline

    with _reading(store) as opened:
        if (iteration is None) == (thread is None):
            raise ThreadlogError("name one iteration (--iteration N) or one thread (--thread UID)")
        if thread is not None:
            row, records = thread_timeline(opened, thread, level)
            if out is not None or to is not None:
                _write_timeline(records, out, to, force)
            elif as_json:
                typer.echo(timeline_json(row, records))
            else:
                print_thread_timeline(row, records)
            return
        assert iteration is not None
        if not has_iterations(opened):
            raise ThreadlogError(NO_ITERATIONS)
        found = select_iteration(opened, iteration, task, workload)
        if found.height > 1:
            candidates = found.with_columns(
                pick_with=pl.format("--task {} --workload {}", pl.col("task").str.slice(0, 8), "workload")
            )
            err = err_console()
            err.print(f"iteration {iteration} is in {found.height} workloads; pick one with", soft_wrap=True)
            print_listing(candidates, CANDIDATES, ListingOptions(), err, err)
            raise typer.Exit(ExitCode.USER_ERROR)
        view = build_timeline(opened, found.row(0, named=True), level, context)
        if out is not None or to is not None:
            _write_timeline(view.records, out, to, force)
        elif as_json:
            typer.echo(timeline_json(view.iteration, view.records, view.context))
        else:
            print_timeline(view)


def _write_timeline(records: pl.DataFrame, out: str | None, to: str | None, force: bool) -> None:
    from rich.markup import escape

    from threadlog.export import write_frame
    from threadlog.output import TABLE_FORMATS, target
    from threadlog.render import err_console, plural

    dest = target(out, to, TABLE_FORMATS, force)
    write_frame(records.drop("parsed"), dest)
    if dest.path is not None:
        err_console().print(f"wrote {plural(records.height, 'record')} to {escape(dest.name)}", soft_wrap=True)


# what `export` writes: the store's tables by the name users give them, and the trace
TABLES = {
    "records": "records",
    "threads": "threads",
    "iterations": "iterations",
    "atomic-actions": "atomic_actions",
    "workloads": "workloads",
}
EXPORTS = (*TABLES, "trace")


@app.command()
def export(
    what: Annotated[
        str,
        typer.Argument(metavar="WHAT", help="records, threads, iterations, atomic-actions, workloads or trace."),
    ],
    out: OutOpt = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="FORMAT",
            help="Format on stdout: csv (default), parquet or jsonl; json or json.gz for trace.",
        ),
    ] = None,
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    iteration: Annotated[
        int | None, typer.Option("--iteration", "-i", metavar="N", help="Only this iteration number.")
    ] = None,
    status: StatusOpt = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="TIME", help="Trace: only what ran at or after this time (log clock, ISO 8601)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="TIME", help="Trace: only what ran at or before this time (log clock, ISO 8601)."
        ),
    ] = None,
    mask: Annotated[
        bool, typer.Option("--mask-secrets", help="Replace tokens and passwords in messages by ***.")
    ] = False,
    force: ForceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Write a table, or the run's trace, to a file or stdout.

    The file's extension picks the format: tables are written as .csv, .parquet or .jsonl,
    the trace as .json or .json.gz. Parquet keeps types (timestamps, categorical levels);
    CSV quotes multi-line messages so spreadsheets, polars and DuckDB read them back
    unchanged. The trace is Chrome Trace Event Format: open it in https://ui.perfetto.dev.
    With --out - (or --to alone) it goes to stdout; binary formats never to a terminal.

    Examples:

        threadlog export iterations --out iterations.parquet
        threadlog export trace -o run.json.gz --workload 2 --status error
        threadlog export records --status error -o - | head
        threadlog export atomic-actions -o actions.csv
    """
    import polars as pl
    from rich.markup import escape

    from threadlog.export import write_frame
    from threadlog.output import TABLE_FORMATS, TRACE_FORMATS, target
    from threadlog.rally_views import flat_for_csv
    from threadlog.render import err_console
    from threadlog.secrets import mask_secrets, masked_columns
    from threadlog.trace import TraceFilter, parse_time, write_trace
    from threadlog.views import scan_table

    if what not in EXPORTS:
        raise ThreadlogError(f"cannot export {what!r}; choose {', '.join(EXPORTS[:-1])} or {EXPORTS[-1]}")
    if out is None and to is None:
        raise ThreadlogError("say where to write: --out FILE, or --out - for stdout")
    with _reading(store) as opened:
        if what == "trace":
            keep = TraceFilter(
                task, workload, iteration, status, parse_time(since, "--since"), parse_time(until, "--until")
            )
            dest = target(out, to, TRACE_FORMATS, force)
            n = write_trace(opened, dest, keep, mask)
            if dest.path is not None:
                err_console().print(
                    f"wrote {n:,} trace events to {escape(dest.name)}; open it in https://ui.perfetto.dev",
                    soft_wrap=True,
                )
            return
        if since is not None or until is not None:
            raise ThreadlogError("--since and --until cut the trace only; filter tables with --task/--workload")
        if what == "workloads" and (iteration is not None or status is not None):
            raise ThreadlogError("workloads have no iteration or status; filter them with --task and --workload")
        dest = target(out, to, TABLE_FORMATS, force)
        frame = scan_table(opened, TABLES[what], task, workload, iteration, status)
        if dest.fmt == "csv":
            frame = flat_for_csv(frame)
        if mask:
            frame = frame.with_columns(mask_secrets(pl.col(c)) for c in masked_columns(frame))
        write_frame(frame, dest)  # streamed: a big store's records are never held whole
        if dest.path is not None:
            rows = frame.select(pl.len()).collect().item()
            err_console().print(f"wrote {rows:,} {what} rows to {escape(dest.name)}", soft_wrap=True)


@app.command()
def report(
    out: OutOpt = None,
    task: Annotated[
        str | None, typer.Option("--task", metavar="UUID", help="Draw this task's workloads (uuid prefix).")
    ] = None,
    workload: Annotated[int | None, typer.Option("--workload", metavar="N", help="Draw only this workload.")] = None,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Keep tokens and passwords on the page (masked by default).")
    ] = False,
    force: ForceOpt = False,
    store: StoreOpt = None,
) -> None:
    """Write the run as one self-contained HTML page.

    It opens anywhere, offline. Per workload: a summary, the iterations on their threads
    over time, durations, failures by error type and the timelines of a few iterations;
    for the whole run, threads and levels over time and errors grouped. Tokens and
    passwords are masked.

    Examples:

        threadlog report -o run.html
        threadlog report --workload 2 -o - > w2.html
    """
    from rich.markup import escape

    from threadlog.output import REPORT_FORMATS, target
    from threadlog.render import err_console
    from threadlog.report_html import write_report  # plotly loads only here

    if out is None:
        raise ThreadlogError("say where to write: --out FILE.html, or --out - for stdout")
    dest = target(out, None, REPORT_FORMATS, force)
    with _reading(store) as opened:
        size = write_report(opened, dest, task, workload, mask=not show_secrets)
    if dest.path is not None:
        err_console().print(f"wrote {escape(dest.name)} ({size / 1e6:.1f} MB); open it in any browser", soft_wrap=True)


def main() -> None:
    """Entry point of the `threadlog` script."""
    app(prog_name="threadlog")  # a closed stdout (`| head`) ends it quietly: typer handles EPIPE


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
