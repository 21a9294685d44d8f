"""Round trip: lines rendered by the real `logging` module parse back to their LogRecords.

A random format (random record attributes joined by random separators) is written in all
three styles (``%``, ``{``, ``$``), random records are rendered through a real
`logging.Logger` / `logging.StreamHandler` / `logging.Formatter`, and every line is parsed
with `compile_format` + `extract_fields`; each column must equal the LogRecord's attribute.

Constraints on the generated values, each because the rendered line would be ambiguous
without it (no parser could recover the record, not a limitation of threadlog):

* fields are always separated by a literal: ``%(process)d%(thread)d`` cannot be split;
* a free-text value that is not the last field of the line (message, thread / process
  name, custom field) never contains the first character of the separator that follows
  it, so the separator's first occurrence after the value's start is the real one;
* free-text values neither start nor end with whitespace: a padded neighbour
  (``%(levelname)-8s``) renders blanks that cannot be told apart from the value's own;
* logger names are dotted identifiers and thread / process names have no blanks unless
  the next separator is not a blank (``Thread-13 (_worker_thread)`` is tested with
  home-assistant's parenthesised format): that is how real programs name them;
* thread idents are below 2**63 (the column is Int64; real pthread idents are addresses
  below 2**48), pids below 2**22 (Linux's pid_max);
* datefmts always hold a full date and seconds (without them `ts` cannot be the record's
  time), and `created` lies in 2000-2037 so that ``%y`` is unambiguous.
"""

from __future__ import annotations

import io
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadlog.formats import compile_format
from threadlog.matching import extract_fields

STYLES = ("%", "{", "$")
LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
# No tab: threadlog compiles a tab in a format string to blanks (see test_formats.py's
# xfail test_tab_separated_format); tabs inside messages are generated.
SEPARATORS = (
    " ",
    " - ",
    " | ",
    ": ",
    ":",
    " [",
    "] ",
    " (",
    ") ",
    " :: ",
    " -- ",
    " => ",
    ",",
    "; ",
    " % ",
    " {",
    "} ",
    " $ ",
    " %% ",
    " }{ ",
)
DATEFMTS = (
    None,  # logging's default: "%Y-%m-%d %H:%M:%S,mmm"
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%y %I:%M:%S %p",
    "%a %b %d %H:%M:%S %Y",
    "%Y%m%d %H%M%S",
    "%d-%b-%Y %H:%M:%S",
    "%b %e %Y %H:%M:%S",
    "%F %T",
)
# custom (``extra=``) field names and the column each becomes
CUSTOM = {"tenant": "tenant", "userId": "user_id", "job_id": "job_id", "source": "field_source"}

MIN_CREATED_US = int(datetime(2000, 1, 2).timestamp()) * 1_000_000
MAX_CREATED_US = int(datetime(2037, 12, 30).timestamp()) * 1_000_000


@dataclass(frozen=True)
class Spec:
    """One field of a generated format: its text in each style and how to check it."""

    attr: str  # LogRecord attribute (or custom field name)
    percent: str
    brace: str
    dollar: str
    column: str | None  # records-table column, None for the time fields folded into ts
    free_text: bool = False  # a lazy pattern: the value must not hold the next separator

    def text(self, style: str) -> str:
        return {"%": self.percent, "{": self.brace, "$": self.dollar}[style]


def _variants(attr, column, forms, free_text=False):
    return [Spec(attr, p, b, d, column, free_text) for p, b, d in forms]


FIELDS: dict[str, list[Spec]] = {
    "asctime": _variants("asctime", None, [("%(asctime)s", "{asctime}", "${asctime}")]),
    "msecs": _variants(
        "msecs",
        None,
        [
            ("%(msecs)03d", "{msecs:03.0f}", "${msecs}"),
            ("%(msecs)d", "{msecs:.0f}", "$msecs"),
            ("%(msecs)s", "{msecs}", "$msecs"),
        ],
    ),
    "created": _variants(
        "created",
        None,
        [
            ("%(created)f", "{created:f}", "${created}"),
            ("%(created)s", "{created}", "$created"),
        ],
    ),
    "relativeCreated": _variants(
        "relativeCreated",
        "relative_created",
        [
            ("%(relativeCreated)f", "{relativeCreated:f}", "${relativeCreated}"),
            ("%(relativeCreated)s", "{relativeCreated}", "$relativeCreated"),
        ],
    ),
    "process": _variants(
        "process",
        "pid",
        [
            ("%(process)d", "{process:d}", "${process}"),
            ("%(process)s", "{process}", "$process"),
            ("%(process)8d", "{process:8d}", "$process"),
        ],
    ),
    "processName": _variants(
        "processName",
        "process_name",
        [
            ("%(processName)s", "{processName}", "${processName}"),
        ],
        free_text=True,
    ),
    "thread": _variants(
        "thread",
        "thread",
        [
            ("%(thread)d", "{thread:d}", "${thread}"),
            ("%(thread)s", "{thread}", "$thread"),
            ("%(thread)-20d", "{thread:<20d}", "$thread"),
        ],
    ),
    "threadName": _variants(
        "threadName",
        "thread_name",
        [
            ("%(threadName)s", "{threadName}", "${threadName}"),
            ("%(threadName)-12s", "{threadName:<12}", "$threadName"),
        ],
        free_text=True,
    ),
    "name": _variants(
        "name",
        "logger",
        [
            ("%(name)s", "{name}", "${name}"),
            ("%(name)-15s", "{name:<15}", "$name"),
        ],
        free_text=True,
    ),
    "levelname": _variants(
        "levelname",
        "level",
        [
            ("%(levelname)s", "{levelname}", "${levelname}"),
            ("%(levelname)-8s", "{levelname:<8}", "$levelname"),
            ("%(levelname)8s", "{levelname:>8}", "${levelname}"),
            ("%(levelname)-10s", "{levelname:10}", "$levelname"),
        ],
    ),
    "levelno": _variants(
        "levelno",
        "levelno",
        [
            ("%(levelno)s", "{levelno}", "$levelno"),
            ("%(levelno)2d", "{levelno:2d}", "${levelno}"),
        ],
    ),
    "module": _variants("module", "module", [("%(module)s", "{module}", "$module")], True),
    "funcName": _variants(
        "funcName",
        "func_name",
        [
            ("%(funcName)s", "{funcName}", "${funcName}"),
        ],
        free_text=True,
    ),
    "lineno": _variants(
        "lineno",
        "lineno",
        [
            ("%(lineno)d", "{lineno:d}", "$lineno"),
            ("%(lineno)05d", "{lineno:05d}", "${lineno}"),
            ("%(lineno)-5d", "{lineno:<5d}", "$lineno"),
        ],
    ),
    "pathname": _variants(
        "pathname",
        "pathname",
        [
            ("%(pathname)s", "{pathname}", "${pathname}"),
        ],
        free_text=True,
    ),
    "filename": _variants(
        "filename",
        "filename",
        [
            ("%(filename)s", "{filename}", "$filename"),
        ],
        free_text=True,
    ),
    "message": _variants(
        "message",
        "message",
        [
            ("%(message)s", "{message}", "${message}"),
        ],
        free_text=True,
    ),
}
# asctime immediately followed by its milliseconds, as most real formats write it
ASCTIME_MSECS = [
    Spec(
        "asctime+msecs",
        f"%(asctime)s{sep}%(msecs)03d",
        f"{{asctime}}{sep}{{msecs:03.0f}}",
        f"${{asctime}}{sep}${{msecs}}",
        None,
    )
    for sep in (".", ",")
]


def _escape(text: str, style: str) -> str:
    """A literal written so that the style's formatter renders it verbatim."""
    if style == "%":
        return text.replace("%", "%%")
    if style == "{":
        return text.replace("{", "{{").replace("}", "}}")
    return text.replace("$", "$$")


@dataclass(frozen=True)
class Format:
    """A generated format: fields, the separators between them, and the datefmt."""

    specs: tuple[Spec, ...]
    separators: tuple[str, ...]  # separators[i] follows specs[i]
    datefmt: str | None

    def render(self, style: str) -> str:
        out = []
        for i, spec in enumerate(self.specs):
            out.append(spec.text(style))
            if i < len(self.separators):
                out.append(_escape(self.separators[i], style))
        return "".join(out)

    @property
    def attrs(self) -> set[str]:
        out = set()
        for spec in self.specs:
            out |= set(spec.attr.split("+"))
        return out

    def follower(self, attr: str) -> str | None:
        """The separator after the field of `attr`, None when it ends the line."""
        for i, spec in enumerate(self.specs):
            if spec.attr == attr:
                return self.separators[i] if i < len(self.separators) else None
        return None


@st.composite
def formats(draw) -> Format:
    """A format of 1 to 7 distinct fields with a separator between every two."""
    custom = draw(st.sampled_from(sorted(CUSTOM)))
    pool = dict(FIELDS)
    pool[custom] = _variants(
        custom,
        CUSTOM[custom],
        [
            (f"%({custom})s", f"{{{custom}}}", f"${{{custom}}}"),
        ],
        free_text=True,
    )
    names = draw(st.lists(st.sampled_from(sorted(pool)), min_size=1, max_size=7, unique=True))
    specs = [draw(st.sampled_from(pool[n])) for n in names]
    if {"asctime", "msecs"} <= set(names) and draw(st.booleans()):
        joined = draw(st.sampled_from(ASCTIME_MSECS))
        specs = [joined if s.attr == "asctime" else s for s in specs if s.attr != "msecs"]
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(specs) - 1, max_size=len(specs) - 1))
    datefmt = draw(st.sampled_from(DATEFMTS))
    return Format(tuple(specs), tuple(separators), datefmt)


# ---------------------------------------------------------------------------------------
# record values

IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True)
LOGGER_NAMES = st.one_of(
    st.sampled_from(["root", "rally.task.runner", "homeassistant.loader", "__main__", "urllib3"]),
    st.lists(IDENT, min_size=1, max_size=4).map(".".join),
)
THREAD_NAMES = st.one_of(
    st.sampled_from(
        [
            "MainThread",
            "Thread-3",
            "ThreadPoolExecutor-0_1",
            "SyncWorker_0",
            "asyncio_0",
            "Dummy-1",
            "Thread-13 (_worker_thread)",
            "Recorder",
            "pydevd.Reader",
        ]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,20}", fullmatch=True),
)
PROCESS_NAMES = st.one_of(
    st.sampled_from(["MainProcess", "SpawnProcess-1", "ForkPoolWorker-3", "Process-2:1"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True),
)
FUNC_NAMES = st.one_of(st.sampled_from(["<module>", "<lambda>", "<listcomp>"]), IDENT)
PATHS = st.lists(IDENT, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts) + ".py")


def _free_text(avoid: str | None) -> st.SearchStrategy[str]:
    """Printable one-line text without surrounding blanks (and without `avoid`'s first char)."""
    excluded = [avoid[0]] if avoid else []
    chars = st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zl", "Zp"),
        include_characters="\t",
        exclude_characters=excluded,
    )
    return st.text(chars, max_size=40).filter(lambda s: s == s.strip())


def _named(strategy: st.SearchStrategy[str], avoid: str | None) -> st.SearchStrategy[str]:
    return strategy.filter(lambda s: not avoid or avoid[0] not in s)


@st.composite
def records(draw, fmt: Format) -> dict[str, object]:
    """The attributes of one record to log with `fmt`: overrides, level, message, extra."""
    custom = next((a for a in fmt.attrs if a in CUSTOM), None)
    path = draw(PATHS)
    created_us = draw(st.integers(MIN_CREATED_US, MAX_CREATED_US))
    rec = {
        "level": draw(st.sampled_from(LEVELS)),
        "name": draw(_named(LOGGER_NAMES, fmt.follower("name"))),
        "message": draw(_free_text(fmt.follower("message"))),
        "extra": {custom: draw(_free_text(fmt.follower(custom)))} if custom else {},
        "overrides": {
            "created": created_us / 1e6,
            "msecs": float(created_us % 1_000_000 // 1000),
            "relativeCreated": draw(st.integers(0, 10**12)) / 1000,
            "process": draw(st.integers(1, 2**22)),
            "processName": draw(_named(PROCESS_NAMES, fmt.follower("processName"))),
            "thread": draw(st.integers(1, 2**63 - 1)),
            "threadName": draw(_named(THREAD_NAMES, fmt.follower("threadName"))),
            "lineno": draw(st.integers(1, 99999)),
            "funcName": draw(_named(FUNC_NAMES, fmt.follower("funcName"))),
            "pathname": path,
            "filename": os.path.basename(path),
            "module": os.path.splitext(os.path.basename(path))[0],
        },
    }
    return rec


class _Override(logging.Filter):
    """Sets the next record's attributes (ident, pid, time, ...) and keeps the record."""

    def __init__(self) -> None:
        super().__init__()
        self.overrides: dict[str, object] = {}
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.update(self.overrides)
        self.records.append(record)
        return True


def _render(fmt: str, style: str, datefmt: str | None, recs: list[dict]) -> tuple[list[str], list]:
    """Log `recs` through a real Logger/StreamHandler/Formatter; the lines and LogRecords."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt, datefmt=datefmt, style=style))
    override = _Override()
    handler.addFilter(override)
    for rec in recs:
        logger = logging.Logger(rec["name"])  # not registered: leaves logging's tree alone
        logger.propagate = False
        logger.addHandler(handler)
        override.overrides = rec["overrides"]
        logger.log(rec["level"], rec["message"], extra=rec["extra"])
    lines = stream.getvalue().split("\n")
    assert lines[-1] == ""
    return lines[:-1], override.records


def _expected_ts(fmt: Format, record: logging.LogRecord) -> datetime | None:
    """The record's time as `ts` holds it: to the millisecond only if the line has them."""
    exact = datetime.fromtimestamp(record.created)
    if "asctime" in fmt.attrs:
        has_ms = "msecs" in fmt.attrs or fmt.datefmt is None
        if has_ms:
            return exact.replace(microsecond=exact.microsecond // 1000 * 1000)
        return exact.replace(microsecond=0)
    if "created" in fmt.attrs:
        return exact
    return None


def _expected_columns(fmt: Format, record: logging.LogRecord) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in fmt.specs:
        if spec.column is not None:
            out[spec.column] = getattr(record, spec.attr)
    if "message" in out:
        out["message"] = record.getMessage()
    return out


@pytest.fixture(scope="module", autouse=True)
def _utc():
    """Pins local time to UTC: `ts` from `created` is UTC, from `asctime` local wall time."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", "UTC")
        if hasattr(time, "tzset"):
            time.tzset()
        yield
    if hasattr(time, "tzset"):
        time.tzset()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=formats())
def test_rendered_records_parse_back_to_their_attributes(data, fmt):
    """Every line logging renders from a random format parses back to its record's fields."""
    recs = data.draw(st.lists(records(fmt), min_size=1, max_size=4), label="records")
    for style in STYLES:
        text = fmt.render(style)
        lines, logged = _render(text, style, fmt.datefmt, recs)
        assert len(lines) == len(recs)
        pattern = compile_format(text, style, fmt.datefmt)
        found = extract_fields(pl.Series("text", lines, dtype=pl.String), pattern)
        rows = found.to_dicts()
        for line, record, row in zip(lines, logged, rows, strict=True):
            where = f"{style}-style {text!r} datefmt={fmt.datefmt!r} line={line!r}"
            assert row["_hit"] is True, where
            expected = _expected_columns(fmt, record)
            ts = _expected_ts(fmt, record)
            columns = set(expected) | {"_hit"} | ({"ts"} if ts is not None else set())
            assert set(row) == columns, where
            for column, value in expected.items():
                assert row[column] == value, f"{column}: {where}"
                assert type(row[column]) is type(value), f"{column} type: {where}"
            if ts is not None:
                assert row["ts"] == ts, where
                # logging's own millisecond field agrees with the truncation used above
                assert ts - datetime.fromtimestamp(int(record.created)) < timedelta(seconds=1)
