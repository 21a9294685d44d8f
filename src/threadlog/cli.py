"""The `threadlog` command: argument handling and presentation only.

Data goes to stdout (or a file), messages and tables for people to stderr. A
`ThreadlogError` anywhere below is caught here, once, and printed as one line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from threadlog import __version__
from threadlog.errors import ExitCode, ThreadlogError
from threadlog.grammars import PRESETS, grammar_from_format, grammar_from_rally_conf, preset
from threadlog.ingest import IngestOptions, ingest

__all__ = ["app", "main"]


class _Commands(typer.core.TyperGroup):
    """Prints user errors as one line and exits non-zero, without a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadlogError as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]error:[/] {exc}", markup=True
            )
            raise typer.Exit(ExitCode.USER_ERROR) from None


app = typer.Typer(
    cls=_Commands,
    help="Make the logs of concurrent Python programs readable again: real threads and "
    "Rally iterations from logs whose thread idents are recycled.",
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
    return Console(stderr=True, highlight=False)


@app.command()
def parse(
    logs: Annotated[list[str], typer.Argument(help="Log files in order (rotated sets: oldest first); .gz ok; - for stdin.")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="The program's logging format string.")] = None,
    style: Annotated[str, typer.Option("--style", help="Format style: % { or $.")] = "%",
    datefmt: Annotated[str | None, typer.Option("--datefmt", help="strftime format of %(asctime)s.")] = None,
    exception_prefix: Annotated[str | None, typer.Option("--exception-prefix", help="oslo logging_exception_prefix, for traceback lines.")] = None,
    rally_conf: Annotated[Path | None, typer.Option("--rally-conf", help="Read the logging formats from this rally.conf.")] = None,
    preset_name: Annotated[str | None, typer.Option("--preset", help="Use a built-in format by name instead of detecting one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    store: StoreOpt = None,
) -> None:
    """Parse logs into the store and print a summary.

    The format is detected from the first lines unless --format, --rally-conf or --preset
    says what it is. Every line ends up in exactly one record or is counted as unparsed.

    Example:

        threadlog parse rally.log

        threadlog parse --format '%(process)d %(thread)d %(levelname)s: %(message)s' app.log
    """
    if sum(x is not None for x in (fmt, rally_conf, preset_name)) > 1:
        raise ThreadlogError("give only one of --format, --rally-conf and --preset")
    grammar = None
    if fmt is not None:
        grammar = grammar_from_format(fmt, style, datefmt, exception_prefix)
    elif rally_conf is not None:
        grammar = grammar_from_rally_conf(str(rally_conf))
    elif preset_name is not None:
        grammar = preset(preset_name)
    options = IngestOptions(grammar=grammar, store=store)
    err = _err()
    if err.is_terminal and not as_json:
        summary = _ingest_with_progress(logs, options, err)
    else:
        summary = ingest(logs, options)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        err.print(_summary_table(summary))


@app.command()
def formats() -> None:
    """List the built-in formats that `parse` detects, with their format strings.

    Example:

        threadlog formats
    """
    table = Table("preset", "format", "exception prefix")
    for name, grammar in PRESETS.items():
        table.add_row(name, "\n".join(grammar.formats), "\n".join(p.format for p in grammar.exceptions))
    Console().print(table)


def _ingest_with_progress(logs: list[str], options: IngestOptions, err: Console) -> dict[str, Any]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn

    total = 0
    for name in logs:
        p = Path(name)
        total += p.stat().st_size if name != "-" and p.is_file() else 0
    with Progress("reading", BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as bar:
        task = bar.add_task("read", total=total or None)
        options.progress = lambda done: bar.update(task, completed=done)
        return ingest(logs, options)


def _summary_table(s: dict[str, Any]) -> Table:
    table = Table(title="threadlog parse", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    fmt = s["format"]
    how = "detected" if fmt["detected"] else "given"
    rows: list[tuple[str, Any]] = [
        ("files", ", ".join(s["files"])),
        ("format", f"{fmt['name']} ({how})"),
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
    rows += [("took", f"{s['seconds']:.2f} s"), ("store", s["store"])]
    for k, v in rows:
        table.add_row(k, str(v))
    return table


def _fmt_value(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {val:,}" if isinstance(val, int) else f"{k} {val}" for k, val in v.items())
    return f"{v:,}" if isinstance(v, int) else str(v)


def _span(s: dict[str, Any]) -> str:
    if s["first_ts"] is None:
        return "no timestamps in format"
    first, last = s["first_ts"], s["last_ts"]
    return f"{first} .. {last} ({(last - first).total_seconds():.3f} s)"


def main() -> None:
    """Entry point of the `threadlog` script."""
    app(prog_name="threadlog")


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
