"""`threadlog parse` as a library call: logs in, a new store out, a summary back."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from threadlog.detect import detect_grammars, fitting_preset
from threadlog.errors import ThreadlogError
from threadlog.grammars import LineGrammar
from threadlog.markers import Markers
from threadlog.parse import ParseStats
from threadlog.pipeline import run_pipeline
from threadlog.rally_report import RallyReport, load_report
from threadlog.rally_tables import write_rally_tables
from threadlog.reader import CHUNK_BYTES, Source, open_source
from threadlog.reconstruct import ReconstructOptions
from threadlog.rotation import backwards_steps, order_by_time
from threadlog.store import StoreWriter, previous_parse, resolve_store
from threadlog.summary import ParseSummary, ThreadFigures, Timings
from threadlog.workloads import WORKLOAD_MESSAGE_COLUMNS, WORKLOAD_MESSAGE_SCHEMA

__all__ = ["IngestOptions", "ingest", "ingest_summary"]


@dataclass
class IngestOptions:
    """Everything `ingest` needs besides the log paths."""

    grammar: LineGrammar | None = None  # None: detect each file's format from its lines
    store: str | None = None
    chunk_bytes: int = CHUNK_BYTES
    markers: Markers = field(default_factory=Markers)
    # None: records only, no threads and iterations (quicker, for logs without threads)
    reconstruct: ReconstructOptions | None = field(default_factory=ReconstructOptions)
    progress: Callable[[int], None] | None = None  # called with bytes read so far
    rally_reports: list[str] = field(default_factory=list)  # Rally JSON reports to join
    utc_offset: int | None = None  # the log's offset from UTC in µs; None: inferred from the reports
    # False: a parse that leaves more than half of the lines unparsed is refused
    allow_unparsed: bool = False


def ingest(paths: list[str], options: IngestOptions | None = None) -> dict[str, Any]:
    """Parse `paths` (in order) into a new store and return the summary as JSON values."""
    return ingest_summary(paths, options).to_json()


def ingest_summary(paths: list[str], options: IngestOptions | None = None) -> ParseSummary:
    """Parse `paths` (in order) into a new store and return the summary."""
    options = options or IngestOptions()
    started = time.perf_counter()
    if not paths:
        raise ThreadlogError("no log named; give one or more files, or - for stdin")
    root = resolve_store(options.store)
    if options.rally_reports and options.reconstruct is None:
        raise ThreadlogError("--rally-report joins Rally's iterations, which --records-only skips; drop one of them")
    # Reports are read beside the parse: a 100k-iteration report is 150 MB of JSON, whose
    # read (in polars, outside the GIL) would otherwise add its whole time to the parse.
    # A bad report still fails before the store is replaced, so the old store stays as it was.
    with ThreadPoolExecutor(max_workers=1) as pool, _spool_for_stdin(paths) as spool:
        reading = pool.submit(_read_reports, options.rally_reports)
        sources = [_open(p, spool) for p in paths]
        if options.grammar is not None:
            grammars = {s.name: options.grammar for s in sources}
        else:
            grammars = detect_grammars(sources)
        given = [s.name for s in sources]
        sources = order_by_time(sources, grammars)
        with StoreWriter(root) as writer:
            previous = previous_parse(root)
            summary, workload_messages = _write_store(writer, sources, grammars, options)
            if options.reconstruct is not None:
                waited = time.perf_counter()
                reports, read_seconds = reading.result()
                joined = time.perf_counter()
                rally = write_rally_tables(writer, reports, options.utc_offset, workload_messages)
                timings = replace(
                    summary.timings,
                    rally=round(time.perf_counter() - joined, 3),
                    rally_report_read=read_seconds,
                    rally_report_wait=round(joined - waited, 3),
                )
                summary = replace(summary, rally=rally, timings=timings)
            summary = replace(
                summary, notes=_notes(given, sources, previous), seconds=round(time.perf_counter() - started, 3)
            )
            writer.commit(_meta(sources, summary))
    return replace(summary, store=str(root))


def _read_reports(paths: list[str]) -> tuple[list[RallyReport], float]:
    """The Rally reports named, read and checked, and the seconds that took."""
    started = time.perf_counter()
    reports = [load_report(p) for p in paths]
    return reports, round(time.perf_counter() - started, 3)


@contextmanager
def _spool_for_stdin(paths: list[str]) -> Iterator[Path | None]:
    """A temporary folder for standard input, when it is among the inputs."""
    if "-" not in paths:
        yield None
        return
    try:
        folder = tempfile.TemporaryDirectory(prefix="threadlog-stdin-")
    except OSError as exc:
        raise ThreadlogError(f"cannot keep standard input in a temporary file ({exc.strerror or exc})") from None
    with folder as name:
        yield Path(name)


def _notes(given: list[str], sources: list[Source], previous: dict[str, Any] | None) -> list[str]:
    """What the user should know about the parse besides its counts."""
    notes = []
    order = [s.name for s in sources]
    if order != given:
        notes.append(f"read oldest first, by each file's first timestamp: {', '.join(order)}")
    if previous is not None:
        new = {(s.name, str(s.path.resolve()) if s.path is not None and s.name != "-" else None) for s in sources}
        old = {(name, path) for name, path in previous["sources"]}
        if {p or n for n, p in old} != {p or n for n, p in new}:
            names = ", ".join(name for name, _ in previous["sources"]) or "no log"
            notes.append(f"replaced the store of {names}, parsed {previous['parsed_at']}")
    return notes


def _open(name: str, spool: Path | None) -> Source:
    if name != "-":
        return open_source(name)
    assert spool is not None
    # stdin is read once into a spool file, so that detection and parsing can both read it
    target = spool / "stdin.log"
    try:
        with target.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
    except OSError as exc:
        raise ThreadlogError(f"cannot keep standard input in a temporary file ({exc.strerror or exc})") from None
    src = open_source(str(target))
    return Source("-", src.path, src.size, None, src.compression)


def _write_store(
    writer: StoreWriter, sources: list[Source], grammars: dict[str, LineGrammar], options: IngestOptions
) -> tuple[ParseSummary, pl.DataFrame]:
    """Parse into the store's records, threads and iterations; the summary, and the records
    that describe workloads (whole, with any lines that joined them late)."""
    clock = _Clock()
    out = run_pipeline(
        writer,
        sources,
        grammars,
        chunk_bytes=options.chunk_bytes,
        markers=options.markers,
        reconstruct=options.reconstruct,
        progress=options.progress,
    )
    clock.lap("parse")
    stats, figures = out.stats, out.figures
    if stats.lines == 0:
        names = ", ".join(s.name for s in sources)
        raise ThreadlogError(f"{names}: empty, nothing to parse; name a log that has lines")
    if not options.allow_unparsed:
        _refuse_mostly_unparsed(stats, grammars)
    if figures is not None:
        for table, key in (("threads", "tid"), ("iterations", "start_row")):
            writer.write_sorted_table(table, out.table_parts[table], key, out.schemas[table])
    clock.lap("tables")
    # the records that describe workloads (none in a records-only parse)
    messages = pl.concat(out.workload_parts) if out.workload_parts else None
    if out.late_parts:
        extra = _late_lines(pl.concat(out.late_parts))
        _merge_late_parts(writer, out.record_parts, extra)
        if messages is not None:
            messages = _with_late_lines(messages, extra)
    writer.write_concatenated("records", out.record_parts)
    clock.lap("write")
    summary = _summary(writer, sources, grammars, stats)
    if figures is not None:
        summary = replace(summary, **_figures(figures))
    reconstruct_seconds = round(out.reconstruct_seconds, 3) if options.reconstruct is not None else None
    summary = replace(
        summary,
        warnings=backwards_steps(out.spans, [s.name for s in sources]),
        timings=Timings(**clock.laps, reconstruct_in_parse=reconstruct_seconds),
    )
    if messages is None:
        return summary, pl.DataFrame(schema=WORKLOAD_MESSAGE_SCHEMA)
    return summary, messages.select(WORKLOAD_MESSAGE_COLUMNS)


def _figures(figures: ThreadFigures) -> dict[str, Any]:
    """The reconstructor's figures as the summary's fields (nested ones stay dataclasses)."""
    return vars(figures)


def _refuse_mostly_unparsed(stats: ParseStats, grammars: dict[str, LineGrammar]) -> None:
    """A parse that leaves most lines unparsed had the wrong format: refuse it, say how
    much fitted, show the first line that did not, and the preset that reads it if one does."""
    unparsed = stats.lines - stats.lines_in_records
    if unparsed * 2 <= stats.lines or stats.first_unparsed is None:
        return
    source, line, text = stats.first_unparsed
    used = sorted({g.name for g in grammars.values()})
    named = {"--format": "the --format given", "rally.conf": "the rally.conf's formats"}
    described = " and ".join(named.get(name, f"the format {name}") for name in used)
    shown = text if len(text) <= 100 else text[:100] + "..."
    fits = fitting_preset(text)
    if fits is not None and fits not in used:
        hint = f"it fits the preset {fits}: try --preset {fits}"
    else:
        hint = "give the program's logging format with --format, or its rally.conf with --rally-conf"
    raise ThreadlogError(
        f"only {stats.lines_in_records:,} of {stats.lines:,} lines fit {described}; "
        f"the first that does not, {source}:{line}, is {shown!r}; {hint} "
        "(or --allow-unparsed to store the parse anyway); the previous store is unchanged"
    )


class _Clock:
    """Seconds spent in each phase, for the summary (what a benchmark reads)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _late_lines(late: pl.DataFrame) -> pl.DataFrame:
    """Lines that joined a record after its chunk was written, one row per record they join."""
    return (
        late.sort("line")
        .group_by("source", "anchor", maintain_order=True)
        .agg(pl.col("part").str.join("\n").alias("late"), pl.col("line").max().alias("late_end"))
    )


def _merge_late_parts(writer: StoreWriter, parts: list[Path], extra: pl.DataFrame) -> None:
    """Append `extra` (`_late_lines`) to their records: only the parts that hold such records
    are read and written again."""
    # the line alone is a filter the parts' statistics can answer; the source is checked after
    candidates = (
        pl.scan_parquet(parts, include_file_paths="part")
        .filter(pl.col("line").is_in(extra["anchor"].implode()))
        .select("source", "line", "part")
        .collect()
    )
    anchors = extra.select("source", line="anchor")
    touched = candidates.join(anchors, on=["source", "line"], how="semi").get_column("part").unique(maintain_order=True)
    for path in touched:
        writer.rewrite_part(_with_late_lines(pl.read_parquet(path), extra), Path(path))


def _with_late_lines(records: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    """`records` with the late lines of their records appended to their messages."""
    return (
        records.join(
            extra, left_on=["source", "line"], right_on=["source", "anchor"], how="left", maintain_order="left"
        )
        .with_columns(
            message=pl.when(pl.col("late").is_not_null())
            .then(pl.col("message") + "\n" + pl.col("late"))
            .otherwise(pl.col("message")),
            line_end=pl.max_horizontal("line_end", "late_end"),
        )
        .drop("late", "late_end")
    )


def _summary(writer: StoreWriter, sources: list[Source], grammars: dict[str, LineGrammar], stats: Any) -> ParseSummary:
    distinct = list(dict.fromkeys(grammars.values()))
    rec = pl.scan_parquet(writer.path("records"))
    # streamed, one query at a time: the in-memory engine loads whole columns (900 MB at
    # 10M lines), and the three together still hold 300 MB
    queries = [
        rec.select(
            records=pl.len(),
            multiline=(pl.col("line_end") > pl.col("line")).sum(),
            unparsed=(~pl.col("parsed")).sum(),
            first_ts=pl.col("ts").min(),
            last_ts=pl.col("ts").max(),
        ),
        rec.select(processes=pl.col("pid").drop_nulls().n_unique()),
        rec.filter(pl.col("thread").is_not_null()).select("pid", "thread").unique().select(pairs=pl.len()),
    ]
    row: dict[str, Any] = {}
    for query in queries:
        row.update(query.collect(engine="streaming").row(0, named=True))
    return ParseSummary(
        files=[s.name for s in sources],
        format=distinct[0].describe(),
        # when a rotated set changed format on the way, which file was read with which
        format_per_file={name: g.name for name, g in grammars.items()} if len(distinct) > 1 else None,
        lines=stats.lines,
        lines_per_file=stats.per_source_lines,
        lines_in_records=stats.lines_in_records,
        bytes=stats.bytes,
        records=row["records"],
        multiline_records=row["multiline"],
        unparsed_lines=row["unparsed"],
        replaced_lines=stats.replaced_lines,
        first_ts=row["first_ts"],
        last_ts=row["last_ts"],
        processes=row["processes"],
        pid_thread_pairs=row["pairs"] if any("thread" in g.attributes for g in distinct) else None,
    )


def _meta(sources: list[Source], summary: ParseSummary) -> dict[str, Any]:
    return {
        "sources": [
            {
                "name": s.name,
                "path": str(s.path.resolve()) if s.path is not None and s.name != "-" else None,
                "size": s.size,
                "mtime": s.mtime,
            }
            for s in sources
        ],
        "format": summary.format.to_json(),
        "format_per_file": summary.format_per_file,
        "summary": summary.to_json(),
    }
