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
# Both Rally markers in one unambiguous regex (a one-pass DFA): half the work of two.
RALLY_MARKER = (
    rf"^Task (?P<task>{UUID}) \| ITER: (?P<iteration>\d+) "
    r"(?:(?P<start>START)$|END: (?P<status>OK|Error)(?: (?P<error_type>[^:]*):(?P<error>.*))?)"
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
    "m_task": pl.Categorical,
    "m_iteration": pl.Int64,
    "m_status": pl.String,
    "m_error_type": pl.String,
    "m_error": pl.String,
    "process_start": pl.Boolean,
    "main_only": pl.Boolean,
    "running_workload": pl.Boolean,
    "finished_workload": pl.Boolean,
    "hook_trigger": pl.Boolean,
    "task_ref": pl.Categorical,
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

    def probe(self) -> re.Pattern[bytes] | None:
        """A bytes regex that finds a marker anywhere in a log's raw lines, to tell before
        parsing whether the log has markers at all; None if a declared marker cannot be
        turned into one (its regex is anchored on the message, or uses syntax `re` lacks)."""
        if self.is_rally:
            return re.compile(rb"Task [0-9a-f-]{36} \| ITER: \d+ (?:START|END: )")
        try:
            unanchored = [re.sub(r"\(\?P<\w+>", "(?:", m.removeprefix("^")) for m in (self.start, self.end)]
            return re.compile("|".join(f"(?:{m})" for m in unanchored).encode(), re.MULTILINE)
        except (re.error, UnicodeEncodeError):
            return None

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


def _struct_field(expr: pl.Expr, name: str, regex: str) -> pl.Expr:
    groups = re.compile(regex).groupindex
    if name not in groups:
        return pl.lit(None, dtype=pl.String)
    return expr.struct.field(name)


# Any message the process-life checks below could match: one DFA pass over all records
# finds the few worth a closer look.
_ANY_EVIDENCE = "|".join(
    f"(?:{p.lstrip('^').removesuffix('$')})"
    for p in (PROCESS_START, MAIN_ONLY, HOOK_TRIGGER, ITERATION_RAISED, NOT_IN_ITERATION)
)


def _rally_markers(frame: pl.DataFrame) -> pl.DataFrame:
    """Rally's markers, read by their fixed layout: ``Task `` + a 36-character uuid +
    `` | ITER: `` + number + `` START`` or `` END: OK|Error`` + optionally `` <type>:<error>``.
    A test without captures checks the layout, then slicing reads it: a third of the cost of
    capturing groups, in a log where most records can be markers (and, in c07 of the Rally
    corpus, half the ENDs are errors)."""
    text = pl.col("marker_text")
    frame = frame.with_columns(
        pl.when(text.str.contains(RALLY_MARKER)).then(text).str.slice(50).str.splitn(" ", 2).alias("_tail")
    )
    # a marker whose number is not a number is no marker
    frame = frame.with_columns(_iteration=pl.col("_tail").struct.field("field_0").str.to_integer(strict=False))
    rest = pl.when(pl.col("_iteration").is_not_null()).then(pl.col("_tail").struct.field("field_1"))
    frame = frame.with_columns(_rest=rest)
    rest = pl.col("_rest")
    ok = rest.str.starts_with("END: OK")
    # what follows the status: RALLY_MARKER's optional `` (?P<error_type>[^:]*):(?P<error>.*)``,
    # cut only from the ENDs that have more after their status (few: not every START and END)
    frame = frame.with_columns(
        _ok=pl.when(rest.str.starts_with("END: OK ")).then(rest),
        _failed=pl.when(rest.str.starts_with("END: Error ")).then(rest),
    )
    said = pl.coalesce(pl.col("_ok").str.slice(len("END: OK ")), pl.col("_failed").str.slice(len("END: Error ")))
    frame = frame.with_columns(_said=said)
    said = pl.col("_said")
    frame = frame.with_columns(_after=pl.when(said.str.contains(":", literal=True)).then(said).str.splitn(":", 2))
    after = pl.col("_after")
    error_line = after.struct.field("field_1").str.splitn("\n", 2).struct.field("field_0")
    is_end = (rest != "START").fill_null(False)
    return frame.with_columns(
        _is_start=(rest == "START").fill_null(False),
        _is_end=is_end,
        _task=pl.when(rest.is_not_null()).then(text.str.slice(5, 36)),
        _status=pl.when(is_end).then(pl.when(ok).then(pl.lit("OK")).otherwise(pl.lit("Error"))),
        _error_type=after.struct.field("field_0"),
        # ``.`` stops at the line's end
        _error=error_line.str.strip_chars_start(" "),
    ).drop("_ok", "_failed", "_said")


def _declared_markers(frame: pl.DataFrame, markers: Markers) -> pl.DataFrame:
    """The user's ``--iteration-start`` / ``--iteration-end``, by their named groups."""
    text = pl.col("marker_text")
    frame = frame.with_columns(_s=text.str.extract_groups(markers.start), _e=text.str.extract_groups(markers.end))
    start, end = pl.col("_s"), pl.col("_e")
    # a marker whose number is not a number is no marker
    s_iter = _struct_field(start, "iteration", markers.start).str.to_integer(strict=False)
    e_iter = _struct_field(end, "iteration", markers.end).str.to_integer(strict=False)
    is_start = s_iter.is_not_null()
    return frame.with_columns(
        _is_start=is_start,
        _is_end=e_iter.is_not_null() & ~is_start,
        _task=pl.when(is_start)
        .then(_struct_field(start, "task", markers.start))
        .otherwise(_struct_field(end, "task", markers.end)),
        _iteration=pl.coalesce(s_iter, e_iter),
        _status=_struct_field(end, "status", markers.end),
        _error_type=_struct_field(end, "error_type", markers.end),
        _error=_struct_field(end, "error", markers.end),
    )


def evidence(records: pl.DataFrame, markers: Markers) -> pl.DataFrame:
    """The evidence columns for a frame of records (same row order).

    Patterns are tried on the message's first line. Each test runs only on the rows a cheap
    test picked out (``pl.when(...).then(text)`` leaves the others null, which the regex
    engine skips): most records are neither markers nor process-life messages.
    """
    message = pl.col("message")
    if markers.is_rally:
        maybe = message.str.contains("| ITER: ", literal=True)
    else:
        unnamed = [re.sub(r"\(\?P<\w+>", "(?:", m) for m in (markers.start, markers.end)]
        maybe = message.str.contains("|".join(f"(?:{m})" for m in unnamed))
    rest = pl.col("rest")  # the other messages: the tests below skip the nulls a marker leaves
    frame = records.select(marker_text=pl.when(maybe).then(message), rest=pl.when(~maybe).then(message))
    frame = frame.select(
        "marker_text",
        other_text=pl.when(rest.str.contains(f"^(?:{_ANY_EVIDENCE})")).then(rest),
        task_text=pl.when(rest.str.contains("Task ", literal=True)).then(rest),
    )
    frame = _rally_markers(frame) if markers.is_rally else _declared_markers(frame, markers)
    # the process-life patterns end at the first line's end
    frame = frame.with_columns(head=pl.col("other_text").str.split_exact("\n", 1).struct.field("field_0"))
    is_start, is_end = pl.col("_is_start"), pl.col("_is_end")
    head = pl.col("head")
    return frame.select(
        mark=pl.when(is_start)
        .then(pl.lit(START, pl.Int8))
        .when(is_end)
        .then(pl.lit(END, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8)),
        m_task=pl.when(is_start | is_end).then(pl.col("_task")),
        m_iteration=pl.when(is_start | is_end).then(pl.col("_iteration")),
        m_status=pl.when(is_end).then(pl.col("_status")),
        m_error_type=pl.when(is_end).then(pl.col("_error_type")),
        m_error=pl.when(is_end).then(pl.col("_error")),
        process_start=head.str.contains(PROCESS_START).fill_null(False),
        main_only=head.str.contains(MAIN_ONLY).fill_null(False),
        running_workload=head.str.contains(RUNNING_WORKLOAD).fill_null(False),
        finished_workload=head.str.contains(FINISHED_WORKLOAD).fill_null(False),
        hook_trigger=head.str.contains(HOOK_TRIGGER).fill_null(False),
        task_ref=pl.col("task_text").str.extract(TASK_REF, 1),
        raised_iteration=head.str.extract(ITERATION_RAISED, 1).str.to_integer(strict=False),
        not_in_iteration=head.str.contains(NOT_IN_ITERATION).fill_null(False),
    ).cast(EVIDENCE_SCHEMA)  # type: ignore[arg-type]
