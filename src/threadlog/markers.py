"""What a record's message says about threads and iterations: the reconstructor's evidence.

Each record's first message line is checked against Rally's markers (or the user's
``--iteration-start`` / ``--iteration-end``) and a few process-life messages. Only these
small columns are kept for reconstruction, never the messages themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from threadlog.errors import ThreadlogError

__all__ = ["EVIDENCE_SCHEMA", "Markers", "evidence"]

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RALLY_START = rf"^Task (?P<task>{UUID}) \| ITER: (?P<iteration>\d+) START$"
RALLY_END = (
    rf"^Task (?P<task>{UUID}) \| ITER: (?P<iteration>\d+) END: "
    r"(?P<status>OK|Error)(?: (?P<error_type>[^:]*): ?(?P<error>.*))?"
)
# The first record a process writes: Rally workers and CLI processes, and any oslo service.
PROCESS_START = (
    r"^(?:Starting a worker\.|INFO logs from urllib3 and requests module are hide\.|"
    r"Logging enabled!)$"
)
# Messages Rally writes only from a process's main thread (checked on every real log we have).
MAIN_ONLY = (
    r"^(?:Starting a worker\.|INFO logs from urllib3 and requests module are hide\.|"
    r"Running workload:|Finished workload |Load duration is|Full (?:runner )?duration is|"
    r"Starting the \S+ runner|Worker: \d+ rps: |Task \S+ \| (?:Starting|Completed):)"
)
RUNNING_WORKLOAD = r"^Running workload:"
FINISHED_WORKLOAD = r"^Finished workload \d+/\d+ of subtask \d+"
HOOK_TRIGGER = r"^Hook action \S+ is triggered for Task "
TASK_REF = rf"\bTask (?P<task>{UUID})\b"
ITERATION_RAISED = r"^Iteration (?P<iteration>\d+) raised "
# Messages that are never part of an iteration: the window rule must not claim them.
NOT_IN_ITERATION = (
    r"^(?:Worker: \d+ rps: |Hook action \S+ is triggered |Hook \S+ is trigged |\S+ hook: |"
    r"Hook \S+ failed during run\.|Starting a worker\.|Running workload:|Finished workload |"
    r"Starting the \S+ runner|Load duration is|Full (?:runner )?duration is)"
)

START, END = 1, 2

EVIDENCE_SCHEMA = {
    "mark": pl.Int8,  # 0, START or END
    "m_task": pl.String,
    "m_iteration": pl.Int64,
    "m_status": pl.String,
    "m_error_type": pl.String,
    "m_error": pl.String,
    "process_start": pl.Boolean,
    "main_only": pl.Boolean,
    "running_workload": pl.Boolean,
    "finished_workload": pl.Boolean,
    "hook_trigger": pl.Boolean,
    "task_ref": pl.String,
    "raised_iteration": pl.Int64,
    "not_in_iteration": pl.Boolean,
}


@dataclass(frozen=True)
class Markers:
    """Regexes for the unit of work: named group ``iteration``, optional ``task``."""

    start: str = RALLY_START
    end: str = RALLY_END

    @property
    def is_rally(self) -> bool:
        return self == Markers()

    @classmethod
    def custom(cls, start: str | None, end: str | None) -> Markers:
        """User-declared markers; each must compile and name its ``iteration`` group."""
        out = {}
        for label, value, default in (("start", start, RALLY_START), ("end", end, RALLY_END)):
            if value is None:
                out[label] = default
                continue
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ThreadlogError(f"--iteration-{label} is not a valid regex ({exc})") from None
            if "iteration" not in compiled.groupindex:
                raise ThreadlogError(f"--iteration-{label} needs a named group (?P<iteration>...) for the number")
            out[label] = value
        return cls(**out)


def _first_line() -> pl.Expr:
    return pl.col("message").str.split_exact("\n", 1).struct.field("field_0")


def _struct_field(expr: pl.Expr, name: str, regex: str) -> pl.Expr:
    groups = re.compile(regex).groupindex
    if name not in groups:
        return pl.lit(None, dtype=pl.String)
    return expr.struct.field(name)


def evidence(records: pl.DataFrame, markers: Markers) -> pl.DataFrame:
    """The evidence columns for a frame of records (same row order)."""
    head = _first_line().alias("head")
    frame = records.select(head)
    start = pl.col("head").str.extract_groups(markers.start)
    end = pl.col("head").str.extract_groups(markers.end)
    if markers.is_rally:  # cheap literal test first: most records are not markers
        maybe = pl.col("head").str.contains("| ITER: ", literal=True)
        start = pl.when(maybe).then(start)
        end = pl.when(maybe).then(end)
    frame = frame.with_columns(start.alias("s"), end.alias("e"))
    # a marker whose number is not a number is no marker
    s_iter = _struct_field(pl.col("s"), "iteration", markers.start).str.to_integer(strict=False)
    e_iter = _struct_field(pl.col("e"), "iteration", markers.end).str.to_integer(strict=False)
    is_start = s_iter.is_not_null()
    is_end = e_iter.is_not_null() & ~is_start
    rally_text = pl.col("head")
    return frame.select(
        mark=pl.when(is_start)
        .then(pl.lit(START, pl.Int8))
        .when(is_end)
        .then(pl.lit(END, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8)),
        m_task=pl.when(is_start)
        .then(_struct_field(pl.col("s"), "task", markers.start))
        .otherwise(_struct_field(pl.col("e"), "task", markers.end)),
        m_iteration=pl.coalesce(s_iter, e_iter),
        m_status=pl.when(is_end).then(_struct_field(pl.col("e"), "status", markers.end)),
        m_error_type=pl.when(is_end).then(_struct_field(pl.col("e"), "error_type", markers.end)),
        m_error=pl.when(is_end).then(_struct_field(pl.col("e"), "error", markers.end)),
        process_start=rally_text.str.contains(PROCESS_START),
        main_only=rally_text.str.contains(MAIN_ONLY),
        running_workload=rally_text.str.contains(RUNNING_WORKLOAD),
        finished_workload=rally_text.str.contains(FINISHED_WORKLOAD),
        hook_trigger=rally_text.str.contains(HOOK_TRIGGER),
        task_ref=pl.when(rally_text.str.contains("Task ", literal=True)).then(rally_text.str.extract(TASK_REF, 1)),
        raised_iteration=rally_text.str.extract(ITERATION_RAISED, 1).str.to_integer(strict=False),
        not_in_iteration=rally_text.str.contains(NOT_IN_ITERATION),
    ).cast(EVIDENCE_SCHEMA)  # type: ignore[arg-type]
