"""The order in which to read a set of logs: by time, as a rotated set was written.

A shell glob gives ``rally.log rally.log.1``, newest first, and reconstruction reads the
records in order: a thread that spans the rotation would be cut in two. Each file's first
timestamp decides; the rotation suffix (``.1``, ``.2.gz``, ``-20151124``) breaks ties, and
orders a set whose format has no timestamps.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime

import polars as pl

from threadlog.detect import sample_lines
from threadlog.errors import ThreadlogError
from threadlog.grammars import LineGrammar
from threadlog.matching import extract_fields
from threadlog.reader import Source

__all__ = ["backwards_steps", "first_timestamp", "order_by_time", "rotation_age"]

_COMPRESSED = re.compile(r"\.(?:gz|bz2|xz)$")
_NUMBERED = re.compile(r"\.(\d{1,4})$")
_DATED = re.compile(r"[-_.](\d{4}-?\d\d-?\d\d(?:[-_]?\d{2,6})?)$")


def rotation_age(name: str) -> tuple[int, str | int]:
    """A sort key that puts older rotations first: dated ones by date, then numbered ones
    from the highest number, then the live file (no suffix)."""
    stem = _COMPRESSED.sub("", name)
    if m := _DATED.search(stem):
        return (0, m[1].replace("-", "").replace("_", ""))
    if m := _NUMBERED.search(stem):
        return (1, -int(m[1]))
    return (2, 0)


def first_timestamp(source: Source, grammar: LineGrammar) -> datetime | None:
    """The time of the first record among the source's first lines (None: none has one)."""
    try:
        lines = sample_lines(source)  # the lines format detection reads
    except ThreadlogError:
        return None  # parsing the file proper reports it
    for pattern in grammar.headers:
        if not pattern.has_time:
            continue
        ts = extract_fields(lines, pattern)["ts"].drop_nulls()
        if ts.len():
            return ts[0]  # type: ignore[no-any-return]
    return None


def order_by_time(sources: list[Source], grammars: dict[str, LineGrammar]) -> list[Source]:
    """`sources` oldest first: by first timestamp, then rotation suffix; by suffix alone when
    a file has no timestamp. Files that tie on both keep the order they were given in."""
    if len(sources) < 2:
        return sources
    firsts = [first_timestamp(s, grammars[s.name]) for s in sources]
    if any(ts is None for ts in firsts):
        return sorted(sources, key=lambda s: rotation_age(s.name))
    order = sorted(range(len(sources)), key=lambda i: (firsts[i], rotation_age(sources[i].name)))
    return [sources[i] for i in order]


def backwards_steps(spans: dict[str, tuple[datetime | None, datetime | None]], order: list[str]) -> list[str]:
    """Warnings for consecutive files where time runs backwards: one ends after the next begins."""
    warnings = []
    known = [(name, *spans[name]) for name in order if name in spans and spans[name][0] is not None]
    for (name, _, last), (after, first, _) in itertools.pairwise(known):
        if last is not None and first is not None and first < last:
            warnings.append(
                f"time runs backwards from {name} (last record {last}) to {after} (first record {first}): "
                "the files overlap; records keep their order within each file"
            )
    return warnings


def source_spans(records: pl.DataFrame) -> tuple[datetime | None, datetime | None]:
    """The first and last timestamp of a chunk of records, in line order."""
    ts = records["ts"].drop_nulls()
    return (ts[0], ts[-1]) if ts.len() else (None, None)
