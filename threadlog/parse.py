"""Lines of log files become the records table: one row per log record.

Every line ends up in exactly one record. A header line (one that matches the format)
starts a record; an oslo exception-prefix line joins the most recent record of the same pid
(processes interleave their tracebacks, but one process's handler writes a record and its
traceback under one lock, so nothing of that pid comes between); any other line continues
the record above it. Lines before a source's first record become unparsed records.

Chunks are processed one at a time with a little carried state (the last record, each
pid's last record); lines that join a record from an earlier chunk are "late parts",
merged into that record when the store is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from threadlog.formats import FLOATS, INTS, TIME_FIELDS
from threadlog.grammars import LineGrammar
from threadlog.matching import extract_fields
from threadlog.reader import LineChunk, Source

__all__ = [
    "CORE_SCHEMA",
    "ParseStats",
    "RecordBuilder",
    "record_schema",
]

CORE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "line": pl.Int64(),
    "line_end": pl.Int64(),
    "ts": pl.Datetime("us"),
    "pid": pl.Int64(),
    "thread": pl.Int64(),
    "thread_name": pl.String(),
    "level": pl.String(),
    "logger": pl.String(),
    "request_id": pl.String(),
    "message": pl.String(),
    "parsed": pl.Boolean(),
}
_HEADER, _EXCEPTION, _OTHER = 0, 1, 2


def record_schema(*grammars: LineGrammar) -> dict[str, pl.DataType]:
    """The records table's columns for grammars: the core ones, then the formats' others."""
    schema = dict(CORE_SCHEMA)
    for pattern in (p for g in grammars for p in g.headers):
        for group, attr in pattern.groups.items():
            if attr in TIME_FIELDS or attr == "asctime_ms" or group in schema:
                continue
            if attr in INTS:
                schema[group] = pl.Int64()
            elif attr in FLOATS:
                schema[group] = pl.Float64()
            else:
                schema[group] = pl.String()
    return schema


@dataclass
class ParseStats:
    """Counts for the summary, gathered while the chunks go by."""

    lines: int = 0
    bytes: int = 0
    lines_in_records: int = 0
    replaced_lines: int = 0
    per_source_lines: dict[str, int] = field(default_factory=dict)
    first_unparsed: tuple[str, int, str] | None = None  # (source, line, text) of the first


@dataclass
class _Carry:
    """What a source's next chunk needs from the chunks before it."""

    last_anchor: int | None = None
    pid_last: pl.DataFrame | None = None  # pid -> line of that pid's latest record


class RecordBuilder:
    """Turns the line chunks of one or more sources into record frames."""

    def __init__(self, grammars: dict[str, LineGrammar]):
        """`grammars`: the grammar of each source, by source name."""
        self.grammars = grammars
        self.schema = record_schema(*dict.fromkeys(grammars.values()))
        self.stats = ParseStats()
        # every source shows in the summary, an empty one too
        self.stats.per_source_lines = dict.fromkeys(grammars, 0)
        self._carry = _Carry()
        self._source = ""

    def start_source(self, source: Source) -> None:
        self._carry = _Carry()
        self._source = source.name

    def match(self, chunk: LineChunk, source: Source) -> pl.DataFrame | None:
        """The chunk's lines classified and their fields extracted.

        Depends on the source's grammar only, so chunks may be matched in parallel; `take`
        then consumes them in order.
        """
        return self._match(chunk.frame, self.grammars[source.name]) if chunk.frame.height else None

    def take(self, chunk: LineChunk, matched: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Join the matched chunk to the records before it (in order, one chunk at a time)."""
        lines = chunk.frame
        self.stats.lines += lines.height
        self.stats.bytes += chunk.nbytes
        self.stats.replaced_lines += chunk.replaced_lines
        self.stats.per_source_lines[self._source] += lines.height
        if matched is None:
            return self._empty(), _empty_late()
        first_line = int(lines["line"][0])
        anchored = self._anchor(matched)
        records, late = self._assemble(anchored, first_line)
        unparsed = records.filter(~pl.col("parsed"))
        self.stats.lines_in_records += lines.height - unparsed.height
        if unparsed.height and self.stats.first_unparsed is None:
            self.stats.first_unparsed = (self._source, int(unparsed["line"][0]), str(unparsed["message"][0]))
        return records, late

    # -- steps -----------------------------------------------------------------------

    def _match(self, lines: pl.DataFrame, grammar: LineGrammar) -> pl.DataFrame:
        """Classify each line (header / exception / other) and extract header fields."""
        text = lines["text"]
        fields: pl.DataFrame | None = None
        hit_any = pl.repeat(False, lines.height, eager=True)
        for pattern in grammar.headers:
            # a later pattern (a second format) only sees the lines the first ones missed
            rest = text if not hit_any.any() else text.to_frame().select(pl.when(~hit_any).then(pl.first())).to_series()
            found = extract_fields(rest, pattern)
            hit = found["_hit"] & ~hit_any
            found = found.drop("_hit")
            fields = found if fields is None else _coalesce(fields, found, hit)
            hit_any = hit_any | hit
        kind = (
            pl.select(pl.when(hit_any).then(pl.lit(_HEADER, pl.Int8)).otherwise(pl.lit(_OTHER, pl.Int8)))
            .to_series()
            .alias("kind")
        )
        out = lines.with_columns(kind=kind)
        assert fields is not None
        for name in ("pid", "level"):  # the anchoring steps read these even if the format lacks them
            if name not in fields.columns:
                fields = fields.with_columns(pl.lit(None, dtype=self.schema[name]).alias(name))
        if "message" not in fields.columns:  # a format without %(message)s: its records' text is empty
            fields = fields.with_columns(message=pl.lit("", dtype=pl.String))
        out = out.hstack(fields.select([c for c in fields.columns if c not in out.columns]))
        exc_pid = pl.repeat(None, lines.height, dtype=pl.Int64, eager=True).alias("exc_pid")
        exc_text = pl.repeat(None, lines.height, dtype=pl.String, eager=True).alias("exc_text")
        for pattern in grammar.exceptions:
            if not (out["kind"] == _OTHER).any():
                break
            # on the other lines only (a line that fails the match is dropped at its first
            # bytes: a test before the extraction measured slower)
            other = (out["kind"] == _OTHER).arg_true()
            found = extract_fields(text.gather(other), pattern)
            hit_idx = other.filter(found["_hit"])
            if hit_idx.len() == 0:
                continue
            found = found.filter(found["_hit"])
            kind = out["kind"].scatter(hit_idx, _EXCEPTION)
            out = out.with_columns(kind=kind)
            if "pid" in found.columns:
                exc_pid = exc_pid.scatter(hit_idx, found["pid"])
            exc_text = exc_text.scatter(hit_idx, found["message"])
        return out.with_columns(exc_pid=exc_pid, exc_text=exc_text)

    def _anchor(self, m: pl.DataFrame) -> pl.DataFrame:
        """Give every line the first line of the record it belongs to (``anchor``)."""
        # columns picked before rows: filtering the whole matched frame costs its every column
        heads = m.select("line", "pid").filter(m["kind"] == _HEADER)
        exc_anchor = pl.lit(None, dtype=pl.Int64)
        if (m["kind"] == _EXCEPTION).any():
            history = heads.filter(pl.col("pid").is_not_null()).select("pid", pl.col("line").alias("target"))
            if self._carry.pid_last is not None:
                history = pl.concat([self._carry.pid_last, history])
            history = history.with_columns(on=pl.col("target")).sort("on")
            excs = (
                m.select("line", pl.col("exc_pid").alias("pid"))
                .filter(m["kind"] == _EXCEPTION)
                .sort("line")
                .join_asof(
                    history,
                    left_on="line",
                    right_on="on",
                    by="pid",
                    strategy="backward",
                    check_sortedness=False,
                )
                .select("line", "target")
            )
            # excs keeps the lines' order: its targets go to the exception lines' rows, no
            # join of the whole chunk needed
            at = (m["kind"] == _EXCEPTION).arg_true()
            target = pl.repeat(None, m.height, dtype=pl.Int64, eager=True).scatter(at, excs["target"])
            m = m.with_columns(target.alias("target"))
            exc_anchor = pl.col("target")
        anchor = (
            pl.when(pl.col("kind") == _HEADER)
            .then(pl.col("line"))
            .when(pl.col("kind") == _EXCEPTION)
            .then(exc_anchor)
            .otherwise(None)
        )
        m = m.with_columns(anchor=anchor)
        # exception lines whose pid has no record yet continue the record above, like others
        carried = pl.lit(self._carry.last_anchor, dtype=pl.Int64)
        m = m.with_columns(pl.col("anchor").forward_fill().fill_null(carried))
        last = m["anchor"][-1]
        self._carry.last_anchor = None if last is None else int(last)
        if heads.height:
            latest = heads.filter(pl.col("pid").is_not_null()).group_by("pid").agg(pl.col("line").max().alias("target"))
            if self._carry.pid_last is not None:
                latest = pl.concat([self._carry.pid_last, latest]).group_by("pid").agg(pl.col("target").max())
            self._carry.pid_last = latest
        return m

    def _assemble(self, m: pl.DataFrame, first_line: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Build the chunk's records, and split off parts of records from earlier chunks."""
        head = m["kind"] == _HEADER
        part_text = pl.when(pl.col("kind") == _EXCEPTION).then(pl.col("exc_text")).otherwise(pl.col("text"))
        # lazily, so that the part's text is made for the parts' rows only
        parts = (
            m.lazy()
            .filter((pl.col("kind") != _HEADER) & pl.col("anchor").is_not_null())
            .select("anchor", "line", part_text.alias("part"))
            .collect()
        )
        inside = parts.filter(pl.col("anchor") >= first_line)
        late = parts.filter(pl.col("anchor") < first_line)
        # the parts as a list joined afterwards: twice as quick as `str.join` in the group-by
        extra = inside.group_by("anchor").agg("part", pl.col("line").max().alias("end"))
        extra = extra.with_columns(pl.col("part").list.join("\n"))
        # a record's first line, or a line that belongs to none (unparsed): one row each, in
        # line order, so no concatenation and sort; only the columns a record keeps
        kept = [c for c in m.columns if c in self.schema or c in ("kind", "text")]
        rows = m.select(kept).filter(head | m["anchor"].is_null())
        # every part's anchor is a record's first line in this chunk, so the records that
        # grow are found by position in the sorted lines: no join of the whole chunk
        at = rows["line"].search_sorted(extra["anchor"])
        message = rows["message"].clone()
        message.scatter(at, message.gather(at) + "\n" + extra["part"])
        # a part comes after its record's first line: the last part ends the record
        line_end = rows["line"].clone().scatter(at, extra["end"])
        records = rows.with_columns(
            message=pl.when(pl.col("kind") == _HEADER).then(message).otherwise(pl.col("text")),
            line_end=line_end,
            parsed=pl.col("kind") == _HEADER,
        )
        return self._shape(records), late.with_columns(source=pl.lit(self._source))

    def _shape(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The records table's columns (an unparsed line's fields are null already: `extract_fields`
        gives nulls where a line does not match)."""
        cols = []
        for name, dtype in self.schema.items():
            if name == "source":
                cols.append(pl.lit(self._source, dtype=pl.String).alias("source"))
            elif name in frame.columns:
                cols.append(pl.col(name).cast(dtype))
            else:
                cols.append(pl.lit(None, dtype=dtype).alias(name))
        return frame.select(cols)

    def _empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)


def _empty_late() -> pl.DataFrame:
    return pl.DataFrame(schema={"anchor": pl.Int64, "line": pl.Int64, "part": pl.String, "source": pl.String})


def _coalesce(old: pl.DataFrame, new: pl.DataFrame, take_new: pl.Series) -> pl.DataFrame:
    """Merge two header-pattern results: `new` where it matched, else `old`."""
    cols = []
    for c in dict.fromkeys([*old.columns, *new.columns]):
        if c in old.columns and c in new.columns:
            cols.append(pl.when(take_new).then(new[c]).otherwise(old[c]).alias(c))
        elif c in new.columns:
            cols.append(pl.when(take_new).then(new[c]).otherwise(None).alias(c))
        else:
            cols.append(pl.col(c))
    return old.select(cols)
