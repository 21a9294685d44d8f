"""Format strings: tokens from `parse_format`, and fields extracted from real log lines."""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime

import polars as pl
import pytest

from threadlog.errors import ThreadlogError
from threadlog.formats import (
    Field,
    LinePattern,
    Literal,
    column_name,
    compile_format,
    parse_format,
    strftime_regex,
)
from threadlog.grammars import PRESETS
from threadlog.matching import extract_fields

OSLO_DATEFMT = "%Y-%m-%d %H:%M:%S"
RALLY_FORMAT = "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s [-] %(instance)s%(message)s"
RALLY_LINE = (
    "2026-11-25 23:39:51.397 18841 140315149818752 INFO rally.task.runner [-] "
    "Task 83637ff4-41ca-4b42-bc04-54bdb6f52ebe | ITER: 3 START"
)
OSLO_CONTEXT_LINE = (
    "2015-10-29 10:51:23.829 3667 INFO neutron.openstack.common.service "
    "[req-7a01c151-b6ff-4dd9-9fd2-9710a83bab57 None] Caught SIGTERM, exiting"
)
OSLO_NO_CONTEXT_LINE = (
    "2015-10-29 10:51:12.398 3102 INFO neutron.openstack.common.service [-] Caught SIGTERM, stopping children"
)
OSLO_TRACE_LINE = (
    "2015-11-12 12:47:21.004 8512 TRACE nova.compute.manager "
    "[instance: 3a0e4f5c-0f8e-4f8e-9d4a-1f2e3d4c5b6a]   "
    'File "/usr/lib/python2.7/site-packages/nova/compute/manager.py", line 6, in f'
)
OSLO_DEBUG_LINE = (
    "2015-10-29 10:51:52.887 5127 DEBUG nova.openstack.common.service [-] Full set of CONF: "
    "_wait_for_exit_or_signal /usr/lib/python2.7/site-packages/nova/openstack/common/service.py:166"
)
HA_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s (%(threadName)s) [%(name)s] %(message)s"
HA_LINE = "2024-07-28 11:52:45.612 WARNING (SyncWorker_0) [homeassistant.loader] We found a custom integration"


def _rows(pattern: LinePattern, *lines: str) -> list[dict[str, object]]:
    """The extracted row of each line, as plain Python values."""
    return extract_fields(pl.Series("text", list(lines), dtype=pl.String), pattern).to_dicts()


def _row(pattern: LinePattern, line: str) -> dict[str, object]:
    (row,) = _rows(pattern, line)
    return row


def _local_zone(monkeypatch: pytest.MonkeyPatch, rule: str):
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is Unix-only")
    monkeypatch.setenv("TZ", rule)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def utc_time(monkeypatch):
    """Local time is UTC, where local and UTC readings of `created` agree."""
    yield from _local_zone(monkeypatch, "UTC0")


@pytest.fixture
def india_time(monkeypatch):
    """Local time five and a half hours ahead of UTC (a POSIX TZ rule: needs no tzdata)."""
    yield from _local_zone(monkeypatch, "IST-5:30")


# ---------------------------------------------------------------------------------------
# parse_format: %-style


def test_percent_tokens_with_widths_zero_padding_and_escape():
    """%-style fields keep their width and alignment, and ``%%`` is a literal percent sign."""
    tokens = parse_format("%(asctime)s %(levelname)-8s %(msecs)03d %% %(name)s")
    assert tokens == [
        Field("asctime", conversion="s"),
        Literal(" "),
        Field("levelname", align="<", width=8, conversion="s"),
        Literal(" "),
        Field("msecs", align=">", width=3, conversion="d"),
        Literal(" % "),
        Field("name", conversion="s"),
    ]


def test_percent_width_without_minus_is_right_aligned():
    """``%(levelname)8s`` pads on the left (right-aligned), as printf does."""
    assert parse_format("%(levelname)8s") == [Field("levelname", align=">", width=8, conversion="s")]


def test_percent_precision_and_combined_flags():
    """Precision is accepted and ignored; ``-0`` flags with a width left-align the field."""
    assert parse_format("%(created).3f|%(lineno)-05d") == [
        Field("created", conversion="f"),
        Literal("|"),
        Field("lineno", align="<", width=5, conversion="d"),
    ]


def test_percent_adjacent_literals_are_merged():
    """Text, ``%%`` and more text around a field become a single literal on each side."""
    assert parse_format("[100%%] %(message)s 50%%") == [
        Literal("[100%] "),
        Field("message", conversion="s"),
        Literal(" 50%"),
    ]


def test_percent_custom_field_names_are_kept_verbatim():
    """A custom (``extra=``) field keeps its exact name, punctuation included."""
    assert parse_format("%(my-field)s %(request_id)s") == [
        Field("my-field", conversion="s"),
        Literal(" "),
        Field("request_id", conversion="s"),
    ]


# ---------------------------------------------------------------------------------------
# parse_format: {-style


def test_brace_tokens_with_alignment_and_escapes():
    """{-style specs give width and alignment, and ``{{``/``}}`` are literal braces."""
    tokens = parse_format("{asctime} {levelname:<8} {{x}} {msecs:03.0f}", "{")
    assert tokens == [
        Field("asctime"),
        Literal(" "),
        Field("levelname", align="<", width=8),
        Literal(" {x} "),
        Field("msecs", align="natural", width=3, conversion="f"),
    ]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("{levelname:8}", Field("levelname", align="natural", width=8)),
        ("{levelname:>8}", Field("levelname", align=">", width=8)),
        ("{name:*^10}", Field("name", align="^", width=10, fill="*")),
        ("{process:=8d}", Field("process", align=">", width=8, conversion="d")),
        ("{thread:x}", Field("thread", conversion="x")),
        ("{created:.3f}", Field("created", conversion="f")),
        ("{name!r}", Field("name", quoted=True)),
        ("{levelname:<}", Field("levelname")),
    ],
)
def test_brace_format_specs(fmt, expected):
    """Each {-style format spec reads into the expected fill, alignment, width and type."""
    assert parse_format(fmt, "{") == [expected]


# ---------------------------------------------------------------------------------------
# parse_format: $-style


def test_dollar_tokens_plain_braced_and_escape():
    """$-style reads ``$name`` and ``${name}`` fields, and ``$$`` is a literal dollar."""
    tokens = parse_format("$name ${levelname}x $$ $message", "$")
    assert tokens == [
        Field("name"),
        Literal(" "),
        Field("levelname"),
        Literal("x $ "),
        Field("message"),
    ]


def test_dollar_identifier_stops_at_first_non_identifier_character():
    """``$asctime.$msecs`` is two fields with a dot between, as `string.Template` reads it."""
    assert parse_format("$asctime.$msecs", "$") == [
        Field("asctime"),
        Literal("."),
        Field("msecs"),
    ]


# ---------------------------------------------------------------------------------------
# parse_format: errors


@pytest.mark.parametrize(
    ("fmt", "style"),
    [
        ("%(name)q", "%"),  # unknown conversion
        ("%(name", "%"),  # unterminated field
        ("%()s", "%"),  # empty field name
        ("100% %(message)s", "%"),  # bare percent sign
        ("{name", "{"),  # unterminated field
        ("name} {message}", "{"),  # stray closing brace
        ("{name:zz}", "{"),  # bad format spec
        ("{name!x}", "{"),  # bad conversion
        ("{}", "{"),  # positional field
        ("$1 $message", "$"),  # not an identifier
        ("${name", "$"),  # unterminated field
    ],
)
def test_malformed_format_strings_raise_threadlog_error(fmt, style):
    """A format string its style cannot read raises ThreadlogError naming the string."""
    with pytest.raises(ThreadlogError, match="cannot read format string"):
        parse_format(fmt, style)


@pytest.mark.parametrize(
    ("fmt", "style"),
    [
        ("plain text", "%"),
        ("", "%"),
        ("%(message)s", "{"),
        ("{message}", "$"),
        ("%%(message)s", "%"),
        ("{{message}}", "{"),
        ("$$message", "$"),
    ],
)
def test_format_strings_without_fields_raise_threadlog_error(fmt, style):
    """A format string with no field (often the wrong --style) raises ThreadlogError."""
    with pytest.raises(ThreadlogError, match="has no fields"):
        parse_format(fmt, style)


def test_unknown_style_raises_threadlog_error():
    """A style other than ``%``, ``{`` or ``$`` raises ThreadlogError."""
    with pytest.raises(ThreadlogError, match="unknown format style"):
        parse_format("%(message)s", "x")


def test_compile_format_propagates_threadlog_error():
    """`compile_format` reports a malformed format string as ThreadlogError too."""
    with pytest.raises(ThreadlogError):
        compile_format("%(message", "%")


# ---------------------------------------------------------------------------------------
# helpers: column names and strftime


@pytest.mark.parametrize(
    ("attr", "column"),
    [
        ("process", "pid"),
        ("thread", "thread"),
        ("threadName", "thread_name"),
        ("levelname", "level"),
        ("name", "logger"),
        ("message", "message"),
        ("request_id", "request_id"),
        ("funcName", "func_name"),
        ("relativeCreated", "relative_created"),
        ("processName", "process_name"),
        ("my-field", "my_field"),
        ("source", "field_source"),
        ("ts", "field_ts"),
        ("pid", "field_pid"),
        ("2fa", "f_2fa"),
    ],
)
def test_column_name(attr, column):
    """Core attributes get fixed column names, others snake_case, clashes a prefix."""
    assert column_name(attr) == column


def test_strftime_regex_matches_what_strftime_renders():
    """The regex for a datefmt fully matches `time.strftime` output for that datefmt."""
    t = time.localtime(1_700_000_000)
    for datefmt in ("%Y-%m-%d %H:%M:%S", "%d/%b/%Y:%H:%M:%S %z", "%a %B %d %I:%M:%S %p %Y"):
        assert re.fullmatch(strftime_regex(datefmt), time.strftime(datefmt, t)), datefmt


def test_line_pattern_reports_its_attributes_and_time():
    """A compiled pattern lists the attributes it captures and whether it has a time."""
    pattern = compile_format(RALLY_FORMAT, "%", OSLO_DATEFMT)
    assert {"asctime", "msecs", "process", "thread", "levelname", "name", "message"} <= (pattern.attributes)
    assert pattern.has_time
    assert not compile_format("%(levelname)s:%(name)s:%(message)s").has_time


# ---------------------------------------------------------------------------------------
# compile_format + extract_fields on real lines


def test_rally_line_with_thread_ident():
    """A Rally (oslo) line with a thread ident yields pid, thread, level, logger, message, ts."""
    row = _row(compile_format(RALLY_FORMAT, "%", OSLO_DATEFMT), RALLY_LINE)
    assert row == {
        "_hit": True,
        "pid": 18841,
        "thread": 140315149818752,
        "level": "INFO",
        "logger": "rally.task.runner",
        "context": None,  # oslo's "[-]": no request context
        "instance": None,
        "message": "Task 83637ff4-41ca-4b42-bc04-54bdb6f52ebe | ITER: 3 START",
        "ts": datetime(2026, 11, 25, 23, 39, 51, 397000),
    }


def test_rally_line_through_the_oslo_thread_preset():
    """The oslo-thread preset reads the same Rally line, with no request context."""
    row = _row(PRESETS["oslo-thread"].headers[0], RALLY_LINE)
    assert row["_hit"] is True
    assert (row["pid"], row["thread"], row["level"]) == (18841, 140315149818752, "INFO")
    assert row["request_id"] is None
    assert row["message"] == "Task 83637ff4-41ca-4b42-bc04-54bdb6f52ebe | ITER: 3 START"


def test_extracted_columns_are_typed():
    """Integer attributes come out Int64, the time Datetime(us), text String."""
    pattern = compile_format(RALLY_FORMAT, "%", OSLO_DATEFMT)
    frame = extract_fields(pl.Series([RALLY_LINE]), pattern)
    assert frame.schema["pid"] == pl.Int64
    assert frame.schema["thread"] == pl.Int64
    assert frame.schema["ts"] == pl.Datetime("us")
    assert frame.schema["message"] == pl.String
    assert frame.schema["_hit"] == pl.Boolean


def test_oslo_context_bracket():
    """oslo's ``[request_id user_identity]`` bracket fills both columns."""
    row = _row(PRESETS["oslo"].headers[0], OSLO_CONTEXT_LINE)
    assert row["_hit"] is True
    assert row["pid"] == 3667
    assert row["level"] == "INFO"
    assert row["logger"] == "neutron.openstack.common.service"
    assert row["request_id"] == "req-7a01c151-b6ff-4dd9-9fd2-9710a83bab57"
    assert row["user_identity"] == "None"
    assert row["message"] == "Caught SIGTERM, exiting"
    assert row["ts"] == datetime(2015, 10, 29, 10, 51, 23, 829000)


def test_oslo_no_context_bracket_gives_null_request_id():
    """oslo's no-context ``[-]`` form matches the same pattern with a null request_id."""
    row = _row(PRESETS["oslo"].headers[0], OSLO_NO_CONTEXT_LINE)
    assert row["_hit"] is True
    assert row["request_id"] is None
    assert row["user_identity"] is None
    assert row["pid"] == 3102
    assert row["message"] == "Caught SIGTERM, stopping children"


def test_oslo_trace_exception_prefix_line():
    """An old-style TRACE exception-prefix line gives pid, instance and the indented text."""
    pattern = PRESETS["oslo"].exceptions[0]
    row = _row(pattern, OSLO_TRACE_LINE)
    assert row["_hit"] is True
    assert row["pid"] == 8512
    assert row["logger"] == "nova.compute.manager"
    assert row["instance"] == "3a0e4f5c-0f8e-4f8e-9d4a-1f2e3d4c5b6a"
    assert row["message"] == ('  File "/usr/lib/python2.7/site-packages/nova/compute/manager.py", line 6, in f')


def test_oslo_error_exception_prefix_line_without_instance():
    """The newer ERROR exception prefix matches too, and no instance leaves it null."""
    line = "2015-11-12 12:47:21.004 8512 ERROR nova.compute.manager Traceback (most recent call last):"
    row = _row(PRESETS["oslo"].exceptions[0], line)
    assert row["_hit"] is True
    assert row["pid"] == 8512
    assert row["instance"] is None
    assert row["message"] == "Traceback (most recent call last):"


def test_oslo_exception_prefix_does_not_match_a_header_level():
    """An INFO record is not an exception-prefix line."""
    assert _row(PRESETS["oslo"].exceptions[0], OSLO_CONTEXT_LINE)["_hit"] is False


def test_home_assistant_line():
    """A Home Assistant line yields level, thread name, logger, message and ts."""
    row = _row(compile_format(HA_FORMAT, "%", OSLO_DATEFMT), HA_LINE)
    assert row == {
        "_hit": True,
        "level": "WARNING",
        "thread_name": "SyncWorker_0",
        "logger": "homeassistant.loader",
        "message": "We found a custom integration",
        "ts": datetime(2024, 7, 28, 11, 52, 45, 612000),
    }


def test_home_assistant_thread_name_with_blanks_and_parentheses():
    """A thread name like ``Thread-13 (_worker_thread)`` is taken whole inside its parens."""
    line = (
        "2024-07-28 11:52:46.001 ERROR (Thread-13 (_worker_thread)) "
        "[homeassistant.components.zha] Failed (retrying) [attempt 2]"
    )
    row = _row(PRESETS["home-assistant"].headers[0], line)
    assert row["_hit"] is True
    assert row["thread_name"] == "Thread-13 (_worker_thread)"
    assert row["logger"] == "homeassistant.components.zha"
    assert row["message"] == "Failed (retrying) [attempt 2]"


def test_oslo_debug_suffix_is_split_off_debug_records():
    """On a DEBUG record oslo's ``funcName pathname:lineno`` suffix becomes its own columns."""
    row = _row(PRESETS["oslo"].headers[0], OSLO_DEBUG_LINE)
    assert row["_hit"] is True
    assert row["level"] == "DEBUG"
    assert row["message"] == "Full set of CONF:"
    assert row["func_name"] == "_wait_for_exit_or_signal"
    assert row["pathname"] == ("/usr/lib/python2.7/site-packages/nova/openstack/common/service.py")
    assert row["lineno"] == 166
    assert "debug_suffix" not in row


def test_a_debug_suffix_of_other_fields_splits_off_those_fields():
    """A rally.conf may set another debug suffix: its own fields, not oslo's default ones,
    are split off DEBUG records, and stay message text elsewhere."""
    fmt = "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [%(request_id)s %(user_identity)s] %(message)s"
    pattern = compile_format(fmt, "%", OSLO_DATEFMT, debug_suffix=" %(module)s %(funcName)s")
    head = "2015-10-29 10:51:52.887 5127 {level} nova.service [-] Full set of CONF: service _wait"
    debug, info = _rows(pattern, head.format(level="DEBUG"), head.format(level="INFO"))
    assert (debug["message"], debug["module"], debug["func_name"]) == ("Full set of CONF:", "service", "_wait")
    assert (info["message"], info["module"], info["func_name"]) == ("Full set of CONF: service _wait", None, None)


def test_oslo_suffix_lookalike_stays_in_non_debug_message():
    """The same suffix-like tail on an INFO record stays in its message."""
    line = OSLO_DEBUG_LINE.replace(" DEBUG ", " INFO ")
    row = _row(PRESETS["oslo"].headers[0], line)
    assert row["_hit"] is True
    assert row["message"] == (
        "Full set of CONF: _wait_for_exit_or_signal "
        "/usr/lib/python2.7/site-packages/nova/openstack/common/service.py:166"
    )
    assert row["func_name"] is None
    assert row["pathname"] is None
    assert row["lineno"] is None


def test_oslo_debug_record_without_suffix_keeps_its_message():
    """A DEBUG record whose text has no suffix keeps it all as message, suffix columns null."""
    line = "2015-10-29 10:51:52.887 5127 DEBUG nova.openstack.common.service [-] plain text"
    row = _row(PRESETS["oslo"].headers[0], line)
    assert row["message"] == "plain text"
    assert row["lineno"] is None


def test_lines_that_do_not_match_are_null_with_hit_false():
    """Continuation lines do not hit, and every column of theirs is null."""
    pattern = PRESETS["oslo"].headers[0]
    rows = _rows(pattern, OSLO_CONTEXT_LINE, "Traceback (most recent call last):", "")
    assert [r["_hit"] for r in rows] == [True, False, False]
    for row in rows[1:]:
        assert all(v is None for k, v in row.items() if k != "_hit")


def test_padded_levelname_and_default_asctime():
    """logging's default asctime (``,mmm``) and a padded levelname read back exactly."""
    fmt = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
    row = _row(compile_format(fmt), "2024-01-05 08:00:01,042 INFO     app.main: started: ok")
    assert row == {
        "_hit": True,
        "level": "INFO",
        "logger": "app.main",
        "message": "started: ok",
        "ts": datetime(2024, 1, 5, 8, 0, 1, 42000),
    }


def test_message_leading_blanks_are_kept_after_an_unpadded_field():
    """Blanks that begin a message are part of it when nothing padded comes before."""
    row = _row(compile_format("%(levelname)s:%(name)s:%(message)s"), "INFO:root:   indented")
    assert row["message"] == "   indented"


def test_brace_style_real_line():
    """A {-style format with a right-aligned pid and a centred level reads back."""
    fmt = "{asctime} [{process:>7}] {levelname:^9} {name}: {message}"
    line = "2024-03-01 09:15:00,250 [    421]   ERROR   worker.pool: lost {connection}"
    row = _row(compile_format(fmt, "{"), line)
    assert row == {
        "_hit": True,
        "pid": 421,
        "level": "ERROR",
        "logger": "worker.pool",
        "message": "lost {connection}",
        "ts": datetime(2024, 3, 1, 9, 15, 0, 250000),
    }


def test_dollar_style_real_line():
    """A $-style format with ``$$`` and a float ``$msecs`` reads back, ts included."""
    fmt = "${asctime}.$msecs $$ $levelname $name $message"
    line = "2024-03-01 09:15:00.250.0 $ WARNING app cost $5"
    row = _row(compile_format(fmt, "$", OSLO_DATEFMT), line)
    assert row == {
        "_hit": True,
        "level": "WARNING",
        "logger": "app",
        "message": "cost $5",
        "ts": datetime(2024, 3, 1, 9, 15, 0, 250000),
    }


@pytest.mark.usefixtures("utc_time")
def test_created_gives_ts_without_asctime():
    """Without asctime, ``%(created)f`` is the time, to the microsecond."""
    row = _row(compile_format("%(created)f %(message)s"), "1700000000.123456 hi")
    assert row["ts"] == datetime(2023, 11, 14, 22, 13, 20, 123456)
    assert "created" not in row


def test_custom_field_is_its_own_column():
    """A custom field becomes a String column named after it (snake_case)."""
    row = _row(compile_format("%(asctime)s %(userId)s %(message)s"), "2024-01-01 00:00:00,000 u-17 hello world")
    assert row["user_id"] == "u-17"
    assert row["message"] == "hello world"


def test_repeated_field_is_captured_once():
    """A field written twice is matched twice but makes one column."""
    row = _row(compile_format("%(name)s %(levelname)s %(name)s %(message)s"), "a.b INFO a.b hi")
    assert row == {"_hit": True, "logger": "a.b", "level": "INFO", "message": "hi"}


def test_datefmt_without_year_reads_as_1900():
    """A datefmt without a date puts the time on 1900-01-01 (logging never wrote it)."""
    row = _row(compile_format("%(asctime)s %(message)s", "%", "%H:%M:%S"), "12:34:56 x")
    assert row["ts"] == datetime(1900, 1, 1, 12, 34, 56)


def test_custom_level_names_match():
    """Custom and unnamed levels (``NOTICE``, ``Level 5``) are read as levels."""
    pattern = compile_format("%(levelname)s %(name)s %(message)s")
    rows = _rows(pattern, "NOTICE app one", "Level 5 app two")
    assert [(r["level"], r["message"]) for r in rows] == [("NOTICE", "one"), ("Level 5", "two")]


# ---------------------------------------------------------------------------------------
# regressions: each of these was a bug


def test_tab_separated_format():
    """A tab between fields in the format matches the tab logging writes."""
    fmt = "%(asctime)s\t%(levelname)s\t%(message)s"
    row = _row(compile_format(fmt), "2024-01-01 00:00:00,000\tINFO\thello")
    assert row["_hit"] is True
    assert row["level"] == "INFO"
    assert row["message"] == "hello"


@pytest.mark.parametrize(
    ("fmt", "style", "line", "column", "value"),
    [
        ("%(thread)x %(message)s", "%", "10 hi", "thread", 0x10),
        ("{thread:x} {message}", "{", "7f3a hi", "thread", 0x7F3A),
        ("%(process)o %(message)s", "%", "17 hi", "pid", 0o17),
    ],
)
def test_hex_and_octal_conversions(fmt, style, line, column, value):
    """A hex or octal rendered number reads back as the number logging rendered."""
    assert _row(compile_format(fmt, style), line)[column] == value


@pytest.mark.parametrize("datefmt", ["%c", "%r"])
def test_locale_datefmt_directives(datefmt):
    """A datefmt using %c or %r (blanks inside the time) matches and gives level and ts."""
    record = logging.makeLogRecord({"created": 1_772_500_000.0, "msecs": 0.0, "levelname": "INFO", "msg": "hello"})
    fmt = "%(asctime)s %(levelname)s %(message)s"
    line = logging.Formatter(fmt, datefmt=datefmt).format(record)
    row = _row(compile_format(fmt, "%", datefmt), line)
    assert row["_hit"] is True
    assert (row["level"], row["message"]) == ("INFO", "hello")
    assert row["ts"] is not None


@pytest.mark.usefixtures("india_time")
def test_created_and_asctime_give_the_same_ts():
    """One record rendered with asctime and with created gets the same ts (local time)."""
    record = logging.makeLogRecord({"created": 1_764_113_991.397, "msecs": 397.0, "msg": "m"})
    values = []
    for fmt in ("%(asctime)s %(message)s", "%(created)f %(message)s"):
        line = logging.Formatter(fmt).format(record)
        values.append(_row(compile_format(fmt), line)["ts"])
    assert values[0] == datetime.fromtimestamp(record.created)
    assert values[1] == values[0]


@pytest.mark.parametrize(
    ("fmt", "style"),
    [
        ("%(name)r %(levelname)s %(message)s", "%"),
        ("{name!r} {thread:,d} {levelname} {message}", "{"),
        ("{thread:_d} {created:,.3f} {levelname} {message}", "{"),
    ],
)
def test_repr_and_thousands_separators(fmt: str, style: str) -> None:
    """%r / !r strings lose their quotes; numbers with , or _ separators read as numbers."""
    record = logging.makeLogRecord(
        {
            "name": "my.app",
            "levelname": "INFO",
            "msg": "hello there",
            "thread": 140315149818752,
            "created": 1764113991.397,
        }
    )
    line = logging.Formatter(fmt, style=style).format(record)  # type: ignore[arg-type]
    row = extract_fields(pl.Series([line]), compile_format(fmt, style)).row(0, named=True)
    assert row["_hit"], line
    assert row["message"] == "hello there"
    if "logger" in row:
        assert row["logger"] == "my.app"
    if "thread" in row:
        assert row["thread"] == 140315149818752


def test_rejected_context_bracket_leaves_no_fields() -> None:
    """A line the quick regex took but the context check refused matches nothing at all."""
    line = (
        "2015-11-12 12:47:21.004 8512 TRACE nova.compute.manager "
        '[instance: 3a0e4f5c-0f8e-4f8e-9d4a-1f2e3d4c5b6a]   File "x.py", line 6, in f'
    )
    row = extract_fields(pl.Series([line]), PRESETS["oslo"].headers[0]).row(0, named=True)
    assert row["_hit"] is False
    assert all(v is None for k, v in row.items() if k != "_hit")


def test_a_repeated_asctime_reads_as_logging_writes_it_each_time():
    """Without a datefmt, an asctime followed by ".%(msecs)03d" is read to the second; logging
    writes every asctime of the format the same way (",mmm" included), so a second one must
    accept that too."""
    fmt = "%(asctime)s.%(msecs)03d %(levelname)s %(message)s (at %(asctime)s)"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello", None, None)
    line = logging.Formatter(fmt).format(record)
    row = extract_fields(pl.Series("text", [line]), compile_format(fmt)).row(0, named=True)
    assert (row["level"], row["message"]) == ("WARNING", "hello")
    assert row["ts"] == datetime.fromtimestamp(record.created).replace(microsecond=int(record.msecs) * 1000)
