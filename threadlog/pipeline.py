"""The bounded parse pipeline: sources in, record parts (and thread and iteration parts) on disk.

Chunks are matched a few ahead in a pool (matching is most of the work, and polars releases
the GIL) and joined to the records before them in order. Each chunk's evidence is found in
the pool, the reconstructor takes the chunks one after another on its own thread, and the
parts are written in the pool. A few chunks are in flight at most, however far reading runs
ahead, so memory holds a few chunks whatever the size of the log.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from threadlog.grammars import LineGrammar
from threadlog.markers import Markers, evidence
from threadlog.parse import ParseStats, RecordBuilder
from threadlog.rally_join import with_empty_rally_columns
from threadlog.reader import LineChunk, Source, contains, own_strings, read_chunks
from threadlog.reconstruct import ReconstructOptions, Reconstructor
from threadlog.rotation import source_spans
from threadlog.store import StoreWriter
from threadlog.summary import ThreadFigures
from threadlog.workloads import WORKLOAD_MESSAGE_COLUMNS, describes_workload

__all__ = ["PipelineOutput", "run_pipeline"]

KEY_COLUMNS = ["source", "line", "pid", "thread", "thread_name", "ts"]
MATCH_AHEAD = 2  # chunks matched ahead of the one being joined
IN_FLIGHT = 1  # batches reconstructed or written at once, beyond the one being gathered
# Chunks reconstructed together. The reconstructor's cost is mostly per call (some 150 small
# polars operations, each over the whole batch): on the 1.1M-line benchmark log, feeding it
# four 8 MiB chunks at a time takes 0.87 s of its 1.44 s.
FEED_CHUNKS = 4


@dataclass
class PipelineOutput:
    """What the pipeline leaves for the store's tables and the summary."""

    stats: ParseStats
    record_parts: list[Path] = field(default_factory=list)
    late_parts: list[pl.DataFrame] = field(default_factory=list)  # lines that joined an earlier chunk's record
    table_parts: dict[str, list[Path]] = field(default_factory=lambda: {"threads": [], "iterations": []})
    schemas: dict[str, pl.Schema] = field(default_factory=dict)  # of each reconstructed table
    spans: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # each source's first and last timestamp
    figures: ThreadFigures | None = None  # the reconstructor's, when there is one
    # the records that describe Rally workloads (`workloads.describes_workload`), in log order
    workload_parts: list[pl.DataFrame] = field(default_factory=list)
    reconstruct_seconds: float = 0.0  # time the reconstructor worked, alongside parsing


def run_pipeline(
    writer: StoreWriter,
    sources: list[Source],
    grammars: dict[str, LineGrammar],
    *,
    chunk_bytes: int,
    markers: Markers,
    reconstruct: ReconstructOptions | None,
    progress: Callable[[int], None] | None = None,
) -> PipelineOutput:
    """Parse `sources` (in order) into parts of the store `writer` is building."""
    with (
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="threadlog") as pool,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="threadlog-keep") as serial,
    ):
        return _Pipeline(writer, sources, grammars, markers, reconstruct, pool, serial).run(chunk_bytes, progress)


class _Pipeline:
    """One run: matching, evidence and writing in `pool`; reconstruction, in order, in `serial`."""

    def __init__(
        self,
        writer: StoreWriter,
        sources: list[Source],
        grammars: dict[str, LineGrammar],
        markers: Markers,
        reconstruct: ReconstructOptions | None,
        pool: ThreadPoolExecutor,
        serial: ThreadPoolExecutor,
    ):
        self.writer, self.sources, self.markers = writer, sources, markers
        self.pool, self.serial = pool, serial
        self.builder = RecordBuilder(grammars)
        self.out = PipelineOutput(self.builder.stats)
        self.source_names = pl.Enum(list(dict.fromkeys(s.name for s in sources)))
        self.writes: list[Future[None]] = []  # awaited before the tables are put together
        self.reconstructor: Reconstructor | None = None
        if reconstruct is not None:
            has_ident = any({"thread", "threadName"} & g.attributes for g in grammars.values())
            # only the automatic time-gap rule asks whether the log has markers
            known = _has_markers(sources, markers) if reconstruct.gap is None else None
            self.reconstructor = Reconstructor(reconstruct, has_ident=has_ident, emit=self._emit, log_has_markers=known)

    def run(self, chunk_bytes: int, progress: Callable[[int], None] | None) -> PipelineOutput:
        pending: deque[Future[None]] = deque()
        batch: list[_Part] = []
        size = FEED_CHUNKS if self.reconstructor is not None else 1
        for records, late in self._records(chunk_bytes):
            if records.height:
                self._note_span(records)
                self.out.record_parts.append(self.writer.part_path())
                # evidence is found in parallel; reconstruction takes the batches in order
                found = self.pool.submit(self._evidence, records) if self.reconstructor is not None else None
                batch.append(_Part(records, found, self.out.record_parts[-1]))
            if len(batch) >= size:
                pending.append(self.serial.submit(self._keep, batch))
                batch = []
            if late.height:
                self.out.late_parts.append(own_strings(late))  # kept to the end
            # a bounded queue: memory holds a few batches, however far parsing runs ahead
            while len(pending) > IN_FLIGHT or (pending and pending[0].done()):
                pending.popleft().result()
            if progress is not None:
                progress(self.builder.stats.bytes)
        if batch:
            pending.append(self.serial.submit(self._keep, batch))
        while pending:
            pending.popleft().result()
        if self.reconstructor is not None and self.builder.stats.lines:
            self.out.figures = self.reconstructor.finish()
        for write in self.writes:
            write.result()
        return self.out

    def _records(self, chunk_bytes: int) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """Every chunk of every source through the record builder, in order; the next
        chunks are matched in the pool while this one is joined to the records before it."""
        ahead: deque[tuple[Source, LineChunk, Future[pl.DataFrame | None]]] = deque()
        current: list[Source | None] = [None]

        def joined(keep: int) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
            while len(ahead) > keep:
                source, chunk, matched = ahead.popleft()
                if source is not current[0]:
                    self.builder.start_source(source)
                    current[0] = source
                yield self.builder.take(chunk, matched.result())

        for source in self.sources:
            # closed at once, not by the garbage collector, if the caller stops early (Ctrl-C)
            with closing(read_chunks(source, chunk_bytes)) as chunks:
                for chunk in chunks:
                    ahead.append((source, chunk, self.pool.submit(self.builder.match, chunk, source)))
                    yield from joined(MATCH_AHEAD)
        yield from joined(0)

    def _note_span(self, records: pl.DataFrame) -> None:
        first, last = source_spans(records)
        if first is not None:
            name = records["source"][0]
            self.out.spans[name] = (self.out.spans.get(name, (first, None))[0], last)

    def _evidence(self, records: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The chunk's evidence for the reconstructor, and its few records that describe
        workloads (picked out here, while the messages are at hand, rather than read back
        from the whole records table after the parse)."""
        keys = records.select(KEY_COLUMNS).with_columns(pl.col("source").cast(self.source_names))
        described = records.filter(describes_workload()).select(WORKLOAD_MESSAGE_COLUMNS)
        return keys.hstack(evidence(records, self.markers)), own_strings(described)

    def _keep(self, batch: list[_Part]) -> None:
        """Reconstruct a batch of chunks (batches come in order: the reconstructor carries
        state) and have its chunks written with their thread and iteration columns."""
        columns = None
        if self.reconstructor is not None:
            found = [part.found.result() for part in batch if part.found is not None]
            self.out.workload_parts.extend(described for _, described in found if described.height)
            evidence_frame = pl.concat([evidence_frame for evidence_frame, _ in found])
            started = time.perf_counter()
            columns = self.reconstructor.feed(evidence_frame)
            self.out.reconstruct_seconds += time.perf_counter() - started
        # the reconstructor's thread is the pipeline's narrowest: its columns are collected,
        # and the chunks written, elsewhere
        self.writes.append(self.pool.submit(self._write_records, batch, columns))

    def _write_records(self, batch: list[_Part], columns: pl.LazyFrame | None) -> None:
        """Write each chunk of a batch with its rows of the batch's reconstructed columns."""
        reconstructed = None if columns is None else columns.collect()
        at = 0
        for part in batch:
            records = part.records
            if reconstructed is not None:
                records = records.hstack(reconstructed.slice(at, records.height))
                at += part.records.height
            self.writer.write_part(records, part.path)

    def _emit(self, table: str, rows: pl.DataFrame) -> None:
        """Threads and iterations that are over go to disk as they come (iterations with
        Rally's columns, empty: a Rally report's join fills them in, and without one the
        table is written once)."""
        if table == "iterations":
            rows = with_empty_rally_columns(rows.lazy()).collect()
        self.out.schemas[table] = rows.schema
        if rows.height:
            self.out.table_parts[table].append(self.writer.part_path(table))
            self.writes.append(self.pool.submit(self.writer.write_part, rows, self.out.table_parts[table][-1]))


@dataclass
class _Part:
    """A chunk's records on their way to disk: its evidence (being found) and its part file."""

    records: pl.DataFrame
    found: Future[tuple[pl.DataFrame, pl.DataFrame]] | None
    path: Path


def _has_markers(sources: list[Source], markers: Markers) -> bool | None:
    """Whether the log holds iteration markers anywhere, which turns the automatic time-gap
    rule off; None when the markers cannot be searched for in raw bytes."""
    probe = markers.probe()
    return None if probe is None else any(contains(source, probe) for source in sources)
