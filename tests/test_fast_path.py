"""The quick matching path gives exactly what the full regex gives, on every format and sample log.

`extract_fields` runs a simpler regex first and finishes its groups with vectorised steps
(level, instance, context bracket, debug suffix, the message cut off as the line's tail),
handing the lines it misses to the full regex when a step narrows the simpler one. Nothing
else compares the two: here every preset, every rally.conf variant and the explicit formats
the tests use are run both ways over every sample log and a block of lines made to sit on
each step's edges, and random formats over the lines logging renders, mangled or not.
"""

from __future__ import annotations

import dataclasses
import functools
import textwrap
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.conftest import BLOG_FORMAT, BLOG_PREFIX, OPENSTACK, RALLY
from tests.test_formats_property import STYLES, _render, formats, records
from threadlog.formats import LinePattern, compile_format
from threadlog.grammars import PRESETS, LineGrammar, grammar_from_format, grammar_from_rally_conf
from threadlog.matching import extract_fields
from threadlog.reader import open_source, read_chunks
from threadlog.segments import FastStep

HEAD = "%(asctime)s.%(msecs)03d %(process)d %(thread)d %(levelname)s %(name)s "
CONTEXT_BRACKETS = [
    "[%(request_id)s %(user_identity)s]",
    "[%(user_identity)s %(request_id)s]",
    "[%(global_request_id)s %(request_id)s %(user_identity)s]",
    "[%(request_id)s]",
    "[-]",
]
EDGE_LINES = [
    "2026-11-25 23:40:44.235 22767 139809068706688 Level 5 rally.api [-] a numbered level",
    "2026-11-25 23:40:44.235 22767 139809068706688 DEBUG rally.api [-] debug f /a/b.py:12",
    "2026-11-25 23:40:44.235 22767 139809068706688 DEBUG rally.api [-] no suffix here",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-] not debug f /a/b.py:12",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-] [instance: abc-1] with instance",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-] [instance: abc-1]no blank",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [req-1 admin demo - - -] context",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [admin demo - - - req-1] context after",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [req-g req-1 admin - - -] three",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [req-1 a]b] bracket in identity",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [req-1] one field",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [] empty bracket",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [-]",
    "2026-11-25 23:40:44.235 22767 139809068706688 INFO rally.api [instance: x] [-] odd order",
    "2026-11-25 23:40:44.235 22767 139809068706688 ERROR rally.api Traceback (most recent call last):",
    "2026-11-25 23:40:44.235 22767 ERROR rally.api [instance: x] Traceback",
    "2026-11-25 23:40:44.235 22767 TRACE rally.api   File x",
    "2026-11-25 23:40:44,235 22767 139809068706688 INFO rally.api logging's default",
    "22767 139809068706688 INFO: blog line",
    "22767 ERROR: blog traceback",
    '  File "x.py", line 1, in <module>',
    "",
]


def _conf_grammar(tmp: Path, context: str, default: str | None = None, suffix: str | None = None) -> LineGrammar:
    conf = tmp / f"rally-{abs(hash((context, default, suffix)))}.conf"
    lines = ["[DEFAULT]", f"logging_context_format_string = {context}"]
    if default is not None:
        lines.append(f"logging_default_format_string = {default}")
    if suffix is not None:
        lines.append(f"logging_debug_format_suffix = {suffix}")
    conf.write_text(textwrap.dedent("\n".join(lines)) + "\n")
    return grammar_from_rally_conf(str(conf))


@functools.cache
def _grammars() -> tuple[tuple[str, LineGrammar], ...]:
    import tempfile  # noqa: PLC0415

    tmp = Path(tempfile.mkdtemp(prefix="threadlog-fast-"))
    found: list[tuple[str, LineGrammar]] = [(f"preset {name}", g) for name, g in PRESETS.items()]
    for conf in sorted(RALLY.glob("*/rally.conf")):
        found.append((f"rally.conf of {conf.parent.name}", grammar_from_rally_conf(str(conf))))
    for bracket in CONTEXT_BRACKETS:
        fmt = f"{HEAD}{bracket} %(instance)s%(message)s"
        found.append((f"rally.conf {bracket}", _conf_grammar(tmp, fmt, fmt.replace(bracket, "[-]"))))
        found.append((f"rally.conf {bracket}, no suffix", _conf_grammar(tmp, fmt, suffix="")))
        found.append((f"--format {bracket}", grammar_from_format(fmt)))
    found += [
        ("--format full", grammar_from_format("%(asctime)s %(process)d %(thread)d %(levelname)s %(name)s %(message)s")),
        ("--format blog", grammar_from_format(BLOG_FORMAT, exception_prefix=BLOG_PREFIX)),
        (
            "--format oslo pasted",
            grammar_from_format(
                "%(asctime)s.%(msecs)03d %(process)d %(levelname)s %(name)s [-] %(instance)s%(message)s",
                exception_prefix="%(asctime)s.%(msecs)03d %(process)d ERROR %(name)s %(instance)s",
            ),
        ),
    ]
    return tuple(found)


@functools.cache
def _patterns() -> list[tuple[str, LinePattern]]:
    """Each distinct pattern once (formats that compile alike are run once), with a name."""
    out: dict[tuple[object, ...], tuple[str, LinePattern]] = {}
    for name, grammar in _grammars():
        named = [(f"{name} header {i}", p) for i, p in enumerate(grammar.headers)]
        named += [(f"{name} exception prefix {i}", p) for i, p in enumerate(grammar.exceptions)]
        for label, p in named:
            key = (p.regex, p.fast_regex, p.fast_steps, p.suffix_regex, p.datefmt, tuple(p.groups.items()))
            out.setdefault(key, (label, p))
    return list(out.values())


def _logs() -> list[Path]:
    return sorted(RALLY.glob("*/input-*.log.gz")) + sorted(p for p in OPENSTACK.iterdir() if "LICENSE" not in p.name)


@functools.cache
def _lines(path: Path | None) -> pl.Series:
    if path is None:
        return pl.Series("text", EDGE_LINES, dtype=pl.String)
    frames = [chunk.frame["text"] for chunk in read_chunks(open_source(str(path)))]
    return pl.concat(frames)


def _full_only(pattern: LinePattern) -> LinePattern:
    return dataclasses.replace(pattern, fast_regex=None, fast_steps=())


def test_the_quick_path_is_in_use() -> None:
    """The comparison means something: oslo's presets and rally.confs do take the quick path."""
    steps = {step for _, p in _patterns() for step in p.fast_steps}
    assert steps == set(FastStep)


HEAD_LINES = 1500  # of each log in the default run; the slow run reads every line


def _log_id(path: Path | None) -> str:
    return "edge lines" if path is None else f"{path.parent.name}/{path.name}"


def _assert_quick_equals_full(text: pl.Series, pattern: LinePattern, name: str) -> None:
    quick = extract_fields(text, pattern)
    full = extract_fields(text, _full_only(pattern))
    columns = sorted(full.columns)
    assert sorted(quick.columns) == columns, name
    try:
        assert_frame_equal(quick.select(columns), full.select(columns))
    except AssertionError as exc:
        differ = (
            quick.select(columns)
            .with_row_index()
            .join(full.select(columns).with_row_index(), on=["index", *columns], how="anti", nulls_equal=True)
        )
        raise AssertionError(f"{name}: first differing line {text[differ['index'][0]]!r}") from exc


@pytest.mark.parametrize(
    ("log", "lines"),
    [pytest.param(log, HEAD_LINES, id=f"{_log_id(log)}-head") for log in [*_logs(), None]]
    + [pytest.param(log, None, marks=pytest.mark.slow, id=f"{_log_id(log)}-whole") for log in _logs()],
)
def test_quick_path_equals_full_regex(log: Path | None, lines: int | None) -> None:
    """For every format, the quick path's rows equal the full regex's on the log's lines."""
    text = _lines(log) if lines is None else _lines(log).head(lines)
    assert text.len() > 0
    for name, pattern in _patterns():
        if pattern.fast_regex is not None:
            _assert_quick_equals_full(text, pattern, name)


# a line cut and spliced where the patterns' edges are: separators, brackets, digits, blanks
SPLICES = st.sampled_from(["", " ", "  ", "[", "]", "[-]", "-", ":", ".", ",", "0", "x", "DEBUG", "\t", "é"])


@st.composite
def _mangled(draw, line: str) -> str:
    """`line` with a piece of it replaced, or cut short."""
    start = draw(st.integers(0, len(line)))
    end = draw(st.integers(start, len(line)))
    return line[:start] + draw(SPLICES) + line[end:]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), fmt=formats())
def test_quick_path_equals_full_regex_on_random_formats(data, fmt) -> None:
    """For random formats, the quick path's rows equal the full regex's on the lines logging
    renders, on those lines mangled, and on arbitrary text (a tail left uncaptured, a second
    pass skipped when no step narrows the quick regex: none of it may change a row)."""
    recs = data.draw(st.lists(records(fmt), min_size=1, max_size=3), label="records")
    recs.append({**recs[0], "level": 5})  # "Level 5": a level only the full regex reads
    for style in STYLES:
        fmt_text = fmt.render(style)
        lines, _ = _render(fmt_text, style, fmt.datefmt, recs)
        pattern = compile_format(fmt_text, style, fmt.datefmt)
        if pattern.fast_regex is None:
            continue
        mangled = [data.draw(_mangled(line), label="mangled") for line in lines]
        noise = data.draw(
            st.lists(
                st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n"), max_size=30), max_size=3
            )
        )
        text = pl.Series("text", [*lines, *mangled, *noise], dtype=pl.String)
        _assert_quick_equals_full(text, pattern, f"{style}-style {fmt_text!r}")
