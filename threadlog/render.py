"""Everything the CLI shows people: summaries, listings, timelines, progress (rich).

`threadlog.cli` handles the arguments and calls these. What each listing shows is a
`threadlog.listing.Listing` declared here; `threadlog.listing` prints it for a terminal,
a pipe or ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn
from rich.table import Table

from threadlog.listing import Listing, ListingOptions, cell, json_rows, json_value, print_listing
from threadlog.rally_join import describe_join
from threadlog.views import IterationTimeline
from threadlog.workloads import STAT_COLUMNS

if TYPE_CHECKING:
    from threadlog.ingest import IngestOptions
    from threadlog.summary import ParseSummary

__all__ = [
    "CANDIDATES",
    "CONTEXT",
    "FORMATS",
    "ITERATIONS",
    "RECYCLED",
    "THREADS",
    "err_console",
    "formats_frame",
    "ingest_with_progress",
    "out_console",
    "plural",
    "print_formats",
    "print_summary",
    "print_thread_timeline",
    "print_timeline",
    "timeline_json",
]

THREADS = Listing(
    ("thread_uid", "thread_name", "reason", "first_ts", "last_ts", "first_line", "last_line", "records", "iteration"),
    keep=("thread_uid",),
    text=("thread_name",),
    drop_first=("thread_name", "last_ts", "first_ts", "last_line", "records", "first_line", "iteration"),
)
RECYCLED = Listing(
    ("pid", "thread", "threads", "iteration_threads", "first_ts", "last_ts", "first_line", "last_line"),
    keep=("pid", "thread", "threads"),
    drop_first=("last_ts", "first_ts", "last_line", "first_line", "iteration_threads"),
)
ITERATIONS = Listing(
    (
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
    ),
    keep=("thread_uid",),
    text=("error_type",),
    drop_first=("task", "last_line", "pid", "first_line", "error_type", "duration_s", "status", "workload"),
)
RALLY_COLUMNS = ("rally_duration_s", "slowest_action", "slowest_action_s")  # with a joined Rally report


def iterations_listing(rally: bool) -> Listing:
    """The iterations' columns, with Rally's duration and slowest action when a report was joined."""
    if not rally:
        return ITERATIONS
    at = ITERATIONS.columns.index("duration_s") + 1
    return Listing(
        (*ITERATIONS.columns[:at], *RALLY_COLUMNS, *ITERATIONS.columns[at:]),
        keep=ITERATIONS.keep,
        text=(*ITERATIONS.text, "slowest_action"),
        drop_first=(
            "task",
            "last_line",
            "pid",
            "first_line",
            "slowest_action",
            "error_type",
            "rally_duration_s",
            "slowest_action_s",
            *ITERATIONS.drop_first[5:],
        ),
    )


CONTEXT = Listing(
    ("iteration", "workload", "status", "start_offset_s", "end_offset_s", "thread_uid"),
    keep=("thread_uid",),
    drop_first=("end_offset_s", "workload", "start_offset_s", "status"),
)
CANDIDATES = Listing(
    ("task", "workload", "status", "start_ts", "pick_with"),
    keep=("pick_with",),
    drop_first=("start_ts", "status", "task"),
)
WORKLOAD_STATS = Listing(
    ("task", "workload", "action", "depth", "source", *STAT_COLUMNS),
    keep=("action",),
    text=("action",),
    drop_first=("task", "source", "depth", "workload", "p95", "avg", "p90", "min", "max", "success_pct"),
)
# under a workload's own lines, in a terminal: headed as Rally's own statistics table is (the
# caption above it says the unit)
ACTION_HEADERS = {"p90": "90%ile", "p95": "95%ile", "success_pct": "success"}
ACTION_STATS = Listing(
    ("action", *(ACTION_HEADERS.get(c, c) for c in STAT_COLUMNS)),
    keep=("action",),
    text=("action",),
    drop_first=tuple(ACTION_HEADERS.get(c, c) for c in ("p95", "avg", "p90", "min", "max", "success_pct")),
)
FORMATS = Listing(("preset", "format", "exception_prefix"), keep=("preset", "format"), drop_first=("exception_prefix",))


def plural(n: int, word: str) -> str:
    """`n` and `word`, made plural unless n is 1: "1 iteration", "3 iterations"."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def err_console() -> Console:
    con = Console(stderr=True, highlight=False)
    if not con.is_terminal:
        con = Console(stderr=True, highlight=False, width=160)
    return con


def ingest_with_progress(logs: list[str], options: IngestOptions, err: Console) -> ParseSummary:
    from threadlog.ingest import ingest_summary  # noqa: PLC0415 (see parse)
    from threadlog.reader import open_source  # noqa: PLC0415 (see parse)

    # progress counts bytes of text; the total is known only for plain files
    sources = [open_source(name) for name in logs]
    sizes = [s.size for s in sources if not s.compressed]
    total = sum(sizes) if len(sizes) == len(sources) and None not in sizes else None
    with Progress("reading", BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("read", total=total or None)
        options.progress = lambda done: bar.update(task, completed=done)
        return ingest_summary(logs, options)


def print_summary(s: ParseSummary, con: Console, title: str) -> None:
    """A parse's summary: a table in a terminal, else ``key<TAB>value`` lines."""
    rows = summary_rows(s)
    if not con.is_terminal:
        con.file.write("".join(f"{k}\t{v}\n" for k, v in rows))
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, escape(v))  # values name files and formats: "[old]" is text, not markup
    con.print(table)


def summary_rows(s: ParseSummary) -> list[tuple[str, str]]:
    """A parse's summary as (label, value) rows, in the order people read them."""
    how = "detected" if s.format.detected else "given"
    rows: list[tuple[str, Any]] = [
        ("files", ", ".join(s.files)),
        ("format", f"{s.format.name} ({how})" + _per_file(s.format_per_file)),
        ("lines read", f"{s.lines:,}"),
        ("records", f"{s.records:,}"),
        ("multi-line records", f"{s.multiline_records:,}"),
        ("unparsed lines", f"{s.unparsed_lines:,}"),
        ("lines with replaced bytes", f"{s.replaced_lines:,}"),
        ("time span", _span(s)),
        ("processes", f"{s.processes:,}"),
        ("(pid, ident) pairs", "no ident in format" if s.pid_thread_pairs is None else f"{s.pid_thread_pairs:,}"),
    ]
    if s.reconstructed:
        figures = s.to_json()  # the nested counts print as "key value" pairs
        for key, label in (
            ("logical_threads", "logical threads"),
            ("recycled_idents", "recycled idents"),
            ("tasks", "tasks"),
            ("workloads", "workloads"),
            ("iterations", "iterations"),
        ):
            rows.append((label, _fmt_value(figures[key])))
    rows += [("rally report", describe_join(facts)) for facts in s.rally or []]
    rows += [("took", f"{s.seconds:.2f} s"), ("store", s.store)]
    return [(k, str(v)) for k, v in rows]


def _per_file(per_file: dict[str, str] | None) -> str:
    if not per_file:
        return ""
    return "; per file: " + ", ".join(f"{Path(name).name} {fmt}" for name, fmt in per_file.items())


def _fmt_value(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {val:,}" if isinstance(val, int) else f"{k} {val}" for k, val in v.items())
    return f"{v:,}" if isinstance(v, int) else str(v)


def _span(s: ParseSummary) -> str:
    if s.first_ts is None or s.last_ts is None:
        return "no timestamps in format"
    return f"{s.first_ts} .. {s.last_ts} ({(s.last_ts - s.first_ts).total_seconds():.3f} s)"


def out_console() -> Console:
    con = Console(highlight=False)
    if not con.is_terminal:  # piped: do not squeeze tables into 80 columns
        con = Console(highlight=False, width=200)
    return con


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
        f"[bold]thread {row['thread_uid']}[/]  pid {cell(row['pid'])}  ident {cell(row['thread'])}  "
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
        f"pid {cell(it['pid'])}  ident {cell(it['thread'])}  thread {it['thread_uid']}  "
        f"start {cell(it['start_ts'])}  end {cell(it['end_ts'])}  duration {cell(it['duration_s'])} s  "
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


def timeline_json(head: dict[str, Any], records: pl.DataFrame, context: pl.DataFrame | None = None) -> str:
    """A timeline as one JSON object: the iteration's (or thread's) row, its records, the overlapping ones."""
    parts = [f'"head": {json.dumps(head, default=json_value)}', f'"records": {json_rows(records.drop("parsed"))}']
    if context is not None:
        parts.append(f'"overlapping": {json_rows(context.select(CONTEXT.columns))}')
    return "{" + ", ".join(parts) + "}"


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
            f"{offset:>10} [{style}]{escape(f'{lvl:<8}')}[/] {escape(row['logger'] or '-')}  {escape(lines[0])}  "
            f"[dim]{escape(where + tag)}[/]",
            soft_wrap=True,
        )
        for extra in lines[1:]:
            con.print(f"{'':>10}   {escape(extra)}", soft_wrap=True)


def _print_context(con: Console, view: IterationTimeline) -> None:
    it, context = view.iteration, view.context
    assert context is not None  # the caller checked
    con.print(f"{plural(context.height, 'iteration')} overlapped it in pid {cell(it['pid'])}", soft_wrap=True)
    print_listing(context, CONTEXT, ListingOptions(), con, err_console())


def formats_frame(presets: dict[str, Any]) -> pl.DataFrame:
    """The built-in formats, one row per preset: its format strings and exception prefixes."""
    return pl.DataFrame(
        {
            "preset": list(presets),
            "format": ["\n".join(g.formats) for g in presets.values()],
            "exception_prefix": ["\n".join(p.format for p in g.exceptions) for g in presets.values()],
        }
    )


def print_formats(frame: pl.DataFrame, options: ListingOptions, con: Console) -> None:
    """The formats in a terminal: a block per preset, format strings whole, never cut or wrapped
    by us (they are copied into --format); piped or --json, a listing."""
    if options.as_json or options.columns or not con.is_terminal:
        print_listing(frame, FORMATS, options, con, err_console())
        return
    for row in frame.iter_rows(named=True):
        con.print(f"[bold]{row['preset']}[/]", soft_wrap=True)
        for fmt in row["format"].split("\n"):
            con.print(f"  format            {escape(fmt)}", soft_wrap=True)
        for prefix in filter(None, row["exception_prefix"].split("\n")):
            con.print(f"  exception prefix  {escape(prefix)}", soft_wrap=True)


def print_workloads(table: pl.DataFrame, stats: pl.DataFrame, as_json: bool, con: Console) -> None:
    """Rally's workloads: in a terminal, a block per workload with its statistics table;
    piped, the statistics of them all as one listing; --json, each workload with its statistics."""
    if as_json:
        rows = []
        for row in table.iter_rows(named=True):
            mine = stats.filter((pl.col("task") == row["task"]) & (pl.col("workload") == row["workload"]))
            rows.append({**row, "statistics": mine.drop("task", "workload").to_dicts()})
        con.file.write(json.dumps(rows, default=json_value, indent=1) + "\n")
        return
    if not con.is_terminal:
        print_listing(stats, WORKLOAD_STATS, ListingOptions(), con, err_console())
        return
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
            f"  context {ctx['name']}: setup {cell(ctx['setup_s'])} s {escape(ctx['setup_error'] or '')}  "
            f"cleanup {cell(ctx['cleanup_s'])} s {escape(ctx['cleanup_error'] or '')}",
            soft_wrap=True,
        )
    origin = "Rally's durations" if (stats["source"] == "rally").any() else "the log's END - START"
    # nested actions indented under their parent, by their own name
    shown = stats.with_columns(
        action=pl.lit("  ").repeat_by(pl.col("depth")).list.join("") + pl.col("action").str.split(" > ").list.last(),
        # as Rally prints it: "77.0%"
        success_pct=pl.format("{}%", pl.col("success_pct").round(1).cast(pl.String)),
    ).rename(ACTION_HEADERS)
    print_listing(shown, ACTION_STATS, ListingOptions(), con, err_console(), f"seconds, from {origin}")
