"""The `threadlog` command: argument handling and presentation only.

Data goes to stdout (or a file), messages and tables for people to stderr. A
`ThreadlogError` anywhere below is caught here, once, and printed as one line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console

from threadlog import __version__
from threadlog.errors import ExitCode, ThreadlogError
from threadlog.export import format_of, write_frame, write_trace
from threadlog.markers import Markers
from threadlog.reconstruct import DEFAULT_PID_GAP, ReconstructOptions
from threadlog.render import (
    cell,
    err_console,
    formats_table,
    ingest_with_progress,
    iteration_candidates,
    out_console,
    print_frame,
    print_thread_timeline,
    print_timeline,
    summary_table,
)
from threadlog.store import Store
from threadlog.views import (
    iteration_stats,
    list_iterations,
    list_threads,
    recycled_idents,
    scan_table,
    select_iteration,
    thread_timeline,
)
from threadlog.views import timeline as build_timeline

__all__ = ["app", "main"]


class _Commands(typer.core.TyperGroup):
    """Prints user errors as one line and exits non-zero, without a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadlogError as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {exc}", markup=True)
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


@app.command()
def parse(
    logs: Annotated[
        list[str],
        typer.Argument(help="Log files in order (rotated sets: oldest first); .gz, .bz2 and .xz too; - for stdin."),
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
    store: StoreOpt = None,
) -> None:
    """Parse logs into the store and print a summary.

    The format is detected from the first lines unless --format, --rally-conf or --preset
    says what it is. Every line ends up in exactly one record or is counted as unparsed.

    Example:

        threadlog parse rally.log

        threadlog parse --format '%(process)d %(thread)d %(levelname)s: %(message)s' app.log
    """
    # The parser's modules (and pyparsing) load only here: reading the store starts faster.
    from threadlog.grammars import grammar_from_format, grammar_from_rally_conf, preset  # noqa: PLC0415
    from threadlog.ingest import IngestOptions, ingest  # noqa: PLC0415

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
    )
    err = err_console()
    live = err.is_terminal and not as_json
    summary = ingest_with_progress(logs, options, err) if live else ingest(logs, options)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        err.print(summary_table(summary))


@app.command()
def formats() -> None:
    """List the built-in formats that `parse` detects, with their format strings.

    Example:

        threadlog formats
    """
    from threadlog.grammars import PRESETS  # noqa: PLC0415 (see parse)

    Console().print(formats_table(PRESETS))


# -- reading the store ----------------------------------------------------------------------


@contextmanager
def _reading(store: str | None) -> Iterator[Store]:
    """The store, opened; warns about changed sources and reports a store that breaks."""
    opened = Store.open(store)
    changed = opened.stale_sources()
    if changed:
        err_console().print(
            f"[yellow]warning:[/] changed since parsed: {', '.join(changed)}; "
            "run `threadlog parse` again for current results",
            soft_wrap=True,
        )
    with opened.reading():
        yield opened


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
        out_console().print(summary_table(summary, "threadlog info"))


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
            print_frame(frame, cols, f"{frame.height:,} recycled idents", limit)
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
        print_frame(frame, cols, f"{frame.height:,} logical threads", limit)


@app.command()
def iterations(
    task: TaskOpt = None,
    workload: WorkloadOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="ok, error or unfinished.")] = None,
    limit: LimitOpt = 50,
    store: StoreOpt = None,
) -> None:
    """List Rally iterations with status, duration and where they ran.

    The footer sums them up as Rally's own table does: count, ok, failed and the
    duration's min, median, 90th percentile and max.

    Example:

        threadlog iterations --status error
    """
    with _reading(store) as opened:
        frame = list_iterations(opened, task, workload, None, status)
        cols = [
            "task",
            "workload",
            "iteration",
            "status",
            "error_type",
            "duration_s",
            "pid",
            "thread_uid",
            "first_line",
            "last_line",
        ]
        shown = frame.with_columns(pl.col("task").str.slice(0, 8))
        print_frame(shown, cols, f"{frame.height:,} iterations", limit)
        st = iteration_stats(frame)
        out_console().print(
            f"count {st['count']:,}  ok {st['ok']:,}  failed {st['failed']:,}  "
            f"unfinished {st['unfinished']:,}  duration s: min {cell(st['min'])}  "
            f"median {cell(st['median'])}  p90 {cell(st['p90'])}  max {cell(st['max'])}"
        )


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
            print_thread_timeline(row, records)
            return
        assert iteration is not None
        found = select_iteration(opened, iteration, task, workload)
        if found.height > 1:
            err_console().print(iteration_candidates(iteration, found))
            raise typer.Exit(ExitCode.USER_ERROR)
        view = build_timeline(opened, found.row(0, named=True), level, context)
        if out is not None or to is not None:
            _write_timeline(view.records, out, to, force)
            return
        print_timeline(view)


def _write_timeline(records: pl.DataFrame, out: str | None, to: str | None, force: bool) -> None:
    write_frame(records.drop("parsed"), out, format_of(out, to), force)
    if out is not None:
        err_console().print(f"wrote {records.height:,} records to {out}")


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="records, threads, iterations or trace.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Output file: .csv or .parquet (.json for trace).")],
    task: Annotated[str | None, typer.Option("--task", help="Only this task (uuid prefix).")] = None,
    workload: Annotated[int | None, typer.Option("--workload", help="Only this workload.")] = None,
    iteration: Annotated[int | None, typer.Option("--iteration", help="Only this iteration number.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only iterations (and their records) with this status.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    store: StoreOpt = None,
) -> None:
    """Write a table of the store, or the whole run as a trace, to a file.

    Parquet keeps types (timestamps, categorical levels); CSV quotes multi-line messages
    so spreadsheets, polars and DuckDB read them back unchanged. The trace is Chrome
    Trace Event Format: open it in https://ui.perfetto.dev or chrome://tracing.

    Example:

        threadlog export iterations --out iterations.parquet

        threadlog export trace --out run.json
    """
    with _reading(store) as opened:
        if what == "trace":
            n = write_trace(opened, out, force)
            err_console().print(f"wrote {n:,} trace events to {out}; open it in https://ui.perfetto.dev")
            return
        if what not in ("records", "threads", "iterations"):
            raise ThreadlogError(f"cannot export {what!r}; choose records, threads, iterations or trace")
        fmt = format_of(out, None)
        if fmt == "json":
            raise ThreadlogError("tables export as .csv or .parquet")
        frame = scan_table(opened, what, task, workload, iteration, status)
        write_frame(frame, out, fmt, force)  # streamed: a big store's records are never held whole
        rows = frame.select(pl.len()).collect().item()
        err_console().print(f"wrote {rows:,} {what} rows to {out}")


def main() -> None:
    """Entry point of the `threadlog` script."""
    app(prog_name="threadlog")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
