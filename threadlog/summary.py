"""A parse's summary as typed fields, and its JSON form as kept in the store's meta.json.

`to_json` gives the keys in the order `parse --json` and `info --json` print them;
`from_json` reads that back, and the meta.json of older stores too (missing keys take defaults).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Self


class _PlainJson:
    """A dataclass of JSON values: written as its fields, read back from the keys it knows
    (what another version of threadlog wrote and this one does not know is left out)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}  # type: ignore[attr-defined]
        return cls(**known)


@dataclass(frozen=True)
class FormatSummary(_PlainJson):
    """The log format the parse read with, and whether it was detected or given."""

    name: str = ""
    formats: list[str] = field(default_factory=list)
    exception_prefixes: list[str] = field(default_factory=list)
    detected: bool = False


@dataclass(frozen=True)
class RecycledIdents(_PlainJson):
    """Thread idents that stood for more than one logical thread."""

    count: int = 0
    most_generations: int = 0


@dataclass(frozen=True)
class IterationCounts(_PlainJson):
    """Rally iterations found in the log, by how they ended."""

    total: int = 0
    ok: int = 0
    error: int = 0
    unfinished: int = 0


@dataclass(frozen=True)
class Timings(_PlainJson):
    """Seconds spent in each phase of the parse; the optional phases ran only in some parses."""

    parse: float = 0.0
    tables: float = 0.0
    write: float = 0.0
    reconstruct_in_parse: float | None = None  # with threads and iterations
    rally: float | None = None  # these three: with threads and iterations (Rally reports or not)
    rally_report_read: float | None = None
    rally_report_wait: float | None = None

    def to_json(self) -> dict[str, float]:
        out = {"parse": self.parse, "tables": self.tables, "write": self.write}
        for key in ("reconstruct_in_parse", "rally", "rally_report_read", "rally_report_wait"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class ThreadFigures:
    """What reconstruction found: logical threads, recycled idents, tasks, workloads, iterations."""

    logical_threads: int = 0
    recycled_idents: RecycledIdents = field(default_factory=RecycledIdents)
    tasks: int = 0
    workloads: int = 0
    iterations: IterationCounts = field(default_factory=IterationCounts)


@dataclass(frozen=True)
class RallyJoin(_PlainJson):
    """How one Rally report joined the log's iterations."""

    report: str = ""  # the report's file name
    shape: str = ""  # "report" (rally task report --json) or "results" (the older results)
    tasks: list[str] = field(default_factory=list)  # the log's tasks it covers
    report_iterations: int = 0
    of_the_log_tasks: int = 0  # report iterations of tasks the log has
    joined: int = 0
    undecided: int = 0  # pairs another complete matching would pair differently
    unmatched: int = 0
    unmatched_reasons: dict[str, int] = field(default_factory=dict)
    atomic_actions: int = 0
    utc_offset: str = ""  # "+05:30"
    utc_offset_from: str = ""  # "given" or "inferred"

    def to_json(self) -> dict[str, Any]:
        return {
            "report_iterations": self.report_iterations,
            "of_the_log_tasks": self.of_the_log_tasks,
            "joined": self.joined,
            "undecided": self.undecided,
            "unmatched": self.unmatched,
            "unmatched_reasons": dict(self.unmatched_reasons),
            "atomic_actions": self.atomic_actions,
            "report": self.report,
            "shape": self.shape,
            "tasks": list(self.tasks),
            "utc_offset": self.utc_offset,
            "utc_offset_from": self.utc_offset_from,
        }


@dataclass(frozen=True)
class ParseSummary:
    """What a parse read and found; the figures from threads and iterations are None in a
    records-only parse, `rally` is None there too, and `store` is known only once stored."""

    files: list[str] = field(default_factory=list)
    format: FormatSummary = field(default_factory=FormatSummary)
    format_per_file: dict[str, str] | None = None  # set when a rotated set changed format
    lines: int = 0
    lines_per_file: dict[str, int] = field(default_factory=dict)
    lines_in_records: int = 0
    bytes: int = 0
    records: int = 0
    multiline_records: int = 0
    unparsed_lines: int = 0
    replaced_lines: int = 0
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    processes: int = 0
    pid_thread_pairs: int | None = None  # None: the format has no thread ident
    logical_threads: int | None = None
    recycled_idents: RecycledIdents | None = None
    tasks: int | None = None
    workloads: int | None = None
    iterations: IterationCounts | None = None
    warnings: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    rally: list[RallyJoin] | None = None  # one per Rally report joined
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    store: str | None = None  # not kept in meta.json: the store is where meta.json is

    @property
    def reconstructed(self) -> bool:
        """Whether the parse found threads and iterations (not a records-only parse)."""
        return self.logical_threads is not None

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON values (times as text), keys in the order they are printed."""
        out: dict[str, Any] = {
            "files": list(self.files),
            "format": self.format.to_json(),
            "format_per_file": None if self.format_per_file is None else dict(self.format_per_file),
            "lines": self.lines,
            "lines_per_file": dict(self.lines_per_file),
            "lines_in_records": self.lines_in_records,
            "bytes": self.bytes,
            "records": self.records,
            "multiline_records": self.multiline_records,
            "unparsed_lines": self.unparsed_lines,
            "replaced_lines": self.replaced_lines,
            "first_ts": _time_text(self.first_ts),
            "last_ts": _time_text(self.last_ts),
            "processes": self.processes,
            "pid_thread_pairs": self.pid_thread_pairs,
        }
        if self.reconstructed:
            out.update(
                logical_threads=self.logical_threads,
                recycled_idents=(self.recycled_idents or RecycledIdents()).to_json(),
                tasks=self.tasks,
                workloads=self.workloads,
                iterations=(self.iterations or IterationCounts()).to_json(),
            )
        out["warnings"] = list(self.warnings)
        out["timings"] = self.timings.to_json()
        if self.rally is not None:
            out["rally"] = [join.to_json() for join in self.rally]
        out["notes"] = list(self.notes)
        out["seconds"] = self.seconds
        if self.store is not None:
            out["store"] = self.store
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParseSummary:
        """The summary from its JSON form; keys an older threadlog did not write take defaults."""
        recycled = data.get("recycled_idents")
        iterations = data.get("iterations")
        return cls(
            files=list(data.get("files", [])),
            format=FormatSummary.from_json(data.get("format") or {}),
            format_per_file=data.get("format_per_file"),
            lines=data.get("lines", 0),
            lines_per_file=dict(data.get("lines_per_file") or {}),
            lines_in_records=data.get("lines_in_records", 0),
            bytes=data.get("bytes", 0),
            records=data.get("records", 0),
            multiline_records=data.get("multiline_records", 0),
            unparsed_lines=data.get("unparsed_lines", 0),
            replaced_lines=data.get("replaced_lines", 0),
            first_ts=_time_value(data.get("first_ts")),
            last_ts=_time_value(data.get("last_ts")),
            processes=data.get("processes", 0),
            pid_thread_pairs=data.get("pid_thread_pairs"),
            logical_threads=data.get("logical_threads"),
            recycled_idents=None if recycled is None else RecycledIdents.from_json(recycled),
            tasks=data.get("tasks"),
            workloads=data.get("workloads"),
            iterations=None if iterations is None else IterationCounts.from_json(iterations),
            warnings=list(data.get("warnings", [])),
            timings=Timings.from_json(data.get("timings") or {}),
            rally=None if data.get("rally") is None else [RallyJoin.from_json(join) for join in data["rally"]],
            notes=list(data.get("notes", [])),
            seconds=data.get("seconds", 0.0),
            store=data.get("store"),
        )


def _time_text(value: datetime | None) -> str | None:
    # str(), as meta.json has always held them: "2026-11-25 23:40:44.235000"
    return None if value is None else str(value)


def _time_value(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
