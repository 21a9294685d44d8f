"""Everything the CLI shows people: summary tables, listings, timelines, progress (rich).

`threadlog.cli` handles the arguments and calls these; nothing here reads options.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
from rich.table import Table

from threadlog.views import IterationTimeline

if TYPE_CHECKING:
    from threadlog.ingest import IngestOptions

__all__ = [
    "cell",
    "err_console",
    "formats_table",
    "ingest_with_progress",
    "iteration_candidates",
    "out_console",
    "print_frame",
    "print_thread_timeline",
    "print_timeline",
    "summary_table",
]


def err_console() -> Console:
    con = Console(stderr=True, highlight=False)
    if not con.is_terminal:
        con = Console(stderr=True, highlight=False, width=160)
    return con


def ingest_with_progress(logs: list[str], options: IngestOptions, err: Console) -> dict[str, Any]:
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


def summary_table(s: dict[str, Any], title: str = "threadlog parse") -> Table:
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
    rows += [("took", f"{s['seconds']:.2f} s"), ("store", s["store"])]
    for k, v in rows:
        table.add_row(k, str(v))
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


def out_console() -> Console:
    con = Console(highlight=False)
    if not con.is_terminal:  # piped: do not squeeze tables into 80 columns
        con = Console(highlight=False, width=200)
    return con


def cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def print_frame(frame: pl.DataFrame, columns: list[str], title: str, limit: int) -> None:
    table = Table(*columns, title=title, title_justify="left")
    shown = frame if limit <= 0 else frame.head(limit)
    for row in shown.select(columns).iter_rows():
        table.add_row(*(cell(v) for v in row))
    out_console().print(table)
    if 0 < limit < frame.height:
        err_console().print(f"{frame.height - limit:,} more rows; --limit 0 shows all")


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


def print_thread_timeline(row: dict[str, Any], records: pl.DataFrame) -> None:
    con = out_console()
    con.print(
        f"[bold]thread {row['thread_uid']}[/]  pid {row['pid']}  ident {cell(row['thread'])}  "
        f"name {cell(row['thread_name'])}  began: {row['reason']}",
        soft_wrap=True,
    )
    con.print(
        f"first {cell(row['first_ts'])}  last {cell(row['last_ts'])}  lines {row['first_line']}..{row['last_line']}  "
        f"records {records.height}",
        soft_wrap=True,
    )
    _print_records(con, records)


def print_timeline(view: IterationTimeline) -> None:
    it = view.iteration
    con = out_console()
    status = it["status"] + (f": {it['error_type']}: {it['error']}" if it["error_type"] else "")
    con.print(
        f"[bold]iteration {it['iteration']}[/]  task {it['task']}  workload {it['workload']}  status {status}",
        soft_wrap=True,
    )
    con.print(
        f"pid {it['pid']}  ident {cell(it['thread'])}  thread {it['thread_uid']}  "
        f"start {cell(it['start_ts'])}  end {cell(it['end_ts'])}  duration {cell(it['duration_s'])} s  "
        f"records {view.records.height}",
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
            cell(row["start_offset_s"]),
            cell(row["end_offset_s"]),
            row["thread_uid"],
        )
    con.print(table)


def formats_table(presets: dict[str, Any]) -> Table:
    """The built-in formats: name, format strings, exception prefixes."""
    table = Table("preset", "format", "exception prefix")
    for name, grammar in presets.items():
        table.add_row(name, "\n".join(grammar.formats), "\n".join(p.format for p in grammar.exceptions))
    return table


def iteration_candidates(iteration: int, found: pl.DataFrame) -> Table:
    """The iterations one number names, with the flags that pick each."""
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
            cell(row["start_ts"]),
            f"--task {row['task'][:8]} --workload {row['workload']}",
        )
    return table
