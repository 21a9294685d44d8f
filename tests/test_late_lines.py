"""Lines that join a record after its chunk was written end up in that record, and in no
other: the parts that hold such records are rewritten, the others are left as they were."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from threadlog.ingest import _late_lines, _merge_late_parts
from threadlog.store import StoreWriter


def _records(source: str, first: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": [source] * rows,
            "line": range(first, first + rows),
            "line_end": range(first, first + rows),
            "message": [f"{source} record {n}" for n in range(first, first + rows)],
        },
        schema={"source": pl.String, "line": pl.Int64, "line_end": pl.Int64, "message": pl.String},
    )


def test_late_lines_join_their_record_in_its_own_source(tmp_path: Path) -> None:
    """Two sources share line numbers: a late line joins the record of its own source, the
    parts without such records are not rewritten, and every other record is unchanged."""
    chunks = [_records("a.log", 1, 50), _records("a.log", 51, 50), _records("b.log", 1, 50), _records("b.log", 51, 50)]
    late = pl.DataFrame(
        {
            "anchor": [60, 60, 10],
            "line": [102, 101, 120],
            "part": ["  second", "  first", "Traceback"],
            "source": ["b.log", "b.log", "a.log"],
        }
    )
    with StoreWriter(tmp_path / "store") as writer:
        parts = []
        for chunk in chunks:
            parts.append(writer.part_path())
            writer.write_part(chunk, parts[-1])
        untouched = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (parts[1], parts[2])}
        _merge_late_parts(writer, parts, _late_lines(late))
        got = pl.concat([pl.read_parquet(p) for p in parts])
        assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (parts[1], parts[2])} == untouched
    expected = pl.concat(chunks).with_columns(
        message=pl.when((pl.col("source") == "b.log") & (pl.col("line") == 60))
        .then(pl.lit("b.log record 60\n  first\n  second"))
        .when((pl.col("source") == "a.log") & (pl.col("line") == 10))
        .then(pl.lit("a.log record 10\nTraceback"))
        .otherwise("message"),
        line_end=pl.when((pl.col("source") == "b.log") & (pl.col("line") == 60))
        .then(102)
        .when((pl.col("source") == "a.log") & (pl.col("line") == 10))
        .then(120)
        .otherwise("line_end"),
    )
    assert got.equals(expected)
